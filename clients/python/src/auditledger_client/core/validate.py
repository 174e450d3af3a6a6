"""Turn a decoded JSON event into an :class:`EventDraft`, or say exactly what is wrong with it.

Structure and types are checked by the pydantic wire models; the catalog rules (which
categories, types and properties exist, and the property types) are applied here from the
catalog data. All problems of a request are collected and reported together, each with the
path of the offending field.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from auditledger_client.core.catalog import SEED, Catalog, PropertyKind, PropertySpec
from auditledger_client.core.errors import InvalidInput, MalformedRequest, Problem, TooLarge
from auditledger_client.core.event import Actor, EventDraft, PropertyValue, Ref, Subject
from auditledger_client.core.wire import MAX_BATCH_EVENTS, EventIn, check_text

MAX_EVENT_BYTES = 64 * 1024
# How much larger than its source text the compact re-encoding of decoded JSON can be: strings,
# names, literals and whitespace only shrink; a float can grow, at worst "1e15" (4 bytes) to
# "1000000000000000.0" (18). A body this many times below the limit needs no measuring.
MAX_EXPANSION = 5
MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_LIST_ITEMS = 1000
# Canonical JSON (RFC 8785) represents numbers as IEEE doubles: only these integers are exact.
MAX_SAFE_INTEGER = 2**53 - 1


class _RefFields(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...


class _ParentFields(_RefFields, Protocol):
    @property
    def type(self) -> str | None: ...


class _SubjectFields(Protocol):
    @property
    def type(self) -> str | None: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def parent(self) -> _ParentFields | None: ...


class _ActorFields(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...


class _SourceFields(Protocol):
    @property
    def ip(self) -> str: ...


class CheckedEvent(Protocol):
    """An event whose structure and field types are checked (by the pydantic wire model, or by
    the server's typed decoder); the catalog rules below apply to either."""

    @property
    def id(self) -> uuid.UUID | None: ...
    @property
    def timestamp(self) -> datetime | None: ...
    @property
    def category(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def subject(self) -> _SubjectFields: ...
    @property
    def properties(self) -> dict[str, Any]: ...
    @property
    def project(self) -> _RefFields | None: ...
    @property
    def actor(self) -> _ActorFields: ...
    @property
    def source(self) -> _SourceFields | None: ...


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def join_path(prefix: str, part: int | str) -> str:
    """``events[2].actor.id``; keys that are not identifiers are quoted: ``properties[""]``."""
    if isinstance(part, int):
        return f"{prefix}[{part}]"
    if not _IDENTIFIER.match(part):
        # ensure_ascii: a key may hold a lone surrogate or control characters, and the path
        # goes into an error message that must always encode (and read) cleanly.
        return f"{prefix}[{json.dumps(part[:80])}]"
    return f"{prefix}.{part}" if prefix else part


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    text = prefix
    for part in loc:
        text = join_path(text, part)
    return text


def _pydantic_problems(prefix: str, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if p not in ("function-after[check_text(), str]",))
        message = err["msg"]
        if err["type"] == "missing":
            message = "is required"
        elif err["type"] == "extra_forbidden":
            message = "is not a recognised field"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(Problem(_path(prefix, loc), message))
    return problems


def _check_property(prefix: str, spec: PropertySpec, value: Any, event_name: str) -> Problem | None:
    where = f"{prefix}properties.{spec.key}"
    if spec.kind is PropertyKind.STRING:
        if not isinstance(value, str):
            return _wrong_type(where, spec, event_name)
        return _text_problem(where, value)
    if spec.kind is PropertyKind.ENUM:
        if not isinstance(value, str) or value not in spec.choices:
            return _wrong_type(where, spec, event_name)
        return None
    if spec.kind is PropertyKind.STRING_LIST:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return _wrong_type(where, spec, event_name)
        if len(value) > MAX_LIST_ITEMS:
            return Problem(where, f"has {len(value)} items; at most {MAX_LIST_ITEMS} are allowed")
        for index, item in enumerate(value):
            problem = _text_problem(f"{where}[{index}]", item)
            if problem:
                return problem
        return None
    if spec.kind is PropertyKind.INTEGER:
        # bool is a subclass of int in Python; JSON true is not an integer.
        if isinstance(value, bool) or not isinstance(value, int):
            return _wrong_type(where, spec, event_name)
        if abs(value) > MAX_SAFE_INTEGER:
            return Problem(where, f"must be between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}")
        return None
    if not isinstance(value, bool):
        return _wrong_type(where, spec, event_name)
    return None


def _wrong_type(where: str, spec: PropertySpec, event_name: str) -> Problem:
    return Problem(where, f"{event_name} needs {spec.key} to be {spec.describe_type()}")


def _text_problem(where: str, value: str) -> Problem | None:
    try:
        check_text(value)
    except ValueError as exc:
        return Problem(where, str(exc))
    return None


def check_properties(
    prefix: str,
    category: str,
    type_: str,
    properties: dict[str, Any],
    catalog: Catalog = SEED,
) -> list[Problem]:
    """Problems of ``properties`` against the catalog entry ``category.type_`` (which exists)."""
    spec = catalog.index[category].type_index[type_]
    event_name = f"{category}.{type_}"
    problems: list[Problem] = []
    known = {p.key for p in spec.properties}
    for key in properties:
        if key not in known:
            allowed = ", ".join(p.key for p in spec.properties) or "none"
            problems.append(
                Problem(
                    join_path(f"{prefix}properties", key),
                    f"is not a property of {event_name}; allowed properties: {allowed}",
                )
            )
    for prop in spec.properties:
        if prop.key not in properties:
            if prop.required:
                problems.append(
                    Problem(
                        f"{prefix}properties.{prop.key}",
                        f"is required by {event_name} ({prop.describe_type()})",
                    )
                )
            continue
        problem = _check_property(prefix, prop, properties[prop.key], event_name)
        if problem:
            problems.append(problem)
    return problems


def catalog_problems(prefix: str, event: CheckedEvent, catalog: Catalog) -> list[Problem]:
    """Problems of a structurally valid event against the catalog (category, type, subject
    and parent types, properties); ``prefix`` is ``""`` or ``"events[3]."``."""
    cat = catalog.category(event.category)
    if cat is None or cat.internal:
        allowed = ", ".join(c.key for c in catalog.platform_categories())
        if cat is not None:
            why = f"{event.category!r} is recorded by auditledger itself and cannot be sent"
        else:
            why = f"unknown category {event.category[:64]!r}"
        return [Problem(f"{prefix}category", f"{why}; allowed categories: {allowed}")]
    if cat.type(event.type) is None:
        allowed = ", ".join(t.key for t in cat.types)
        return [
            Problem(
                f"{prefix}type",
                f"unknown type {event.type[:64]!r} for category {cat.key!r}; "
                f"allowed types: {allowed}",
            )
        ]
    problems: list[Problem] = []
    subject = event.subject
    if subject.type is not None and subject.type not in cat.subject_types:
        problems.append(
            Problem(
                f"{prefix}subject.type",
                f"a {cat.key} event's subject must be of type "
                + " or ".join(repr(t) for t in cat.subject_types),
            )
        )
    if cat.parent_type is None and subject.parent is not None:
        problems.append(
            Problem(
                f"{prefix}subject.parent",
                "only model_version and dataset_version subjects name a parent",
            )
        )
    if cat.parent_type is not None:
        if subject.parent is None:
            problems.append(
                Problem(
                    f"{prefix}subject.parent",
                    f"is required: a {cat.key} subject names its {cat.parent_type} "
                    f'(e.g. {{"id": "...", "name": "..."}})',
                )
            )
        elif subject.parent.type not in (None, cat.parent_type):
            problems.append(
                Problem(
                    f"{prefix}subject.parent.type",
                    f"a {cat.key} subject's parent must be a {cat.parent_type}",
                )
            )
    problems.extend(check_properties(prefix, cat.key, event.type, event.properties, catalog))
    return problems


def event_problems(
    prefix: str, event: CheckedEvent, received_at: datetime, catalog: Catalog
) -> list[Problem]:
    """Every rule beyond structure and types: the catalog's, and a timestamp no further ahead
    of the server's clock than :data:`MAX_FUTURE_SKEW`."""
    problems = catalog_problems(prefix, event, catalog)
    if event.timestamp is not None and event.timestamp > received_at + MAX_FUTURE_SKEW:
        problems.append(
            Problem(
                f"{prefix}timestamp",
                f"{event.timestamp.isoformat()} is more than 5 minutes ahead of the server "
                f"clock ({received_at.isoformat()}); check the sender's clock",
            )
        )
    return problems


def to_draft(
    event: CheckedEvent, received_at: datetime, new_id: Callable[[], uuid.UUID], catalog: Catalog
) -> EventDraft:
    """The draft of an event that passed every check (defaults filled in from the catalog)."""
    cat = catalog.index[event.category]
    subject = event.subject
    parent = subject.parent
    return EventDraft(
        event_id=event.id if event.id is not None else new_id(),
        id_supplied=event.id is not None,
        occurred_at=(event.timestamp or received_at).astimezone(UTC),
        timestamp_supplied=event.timestamp is not None,
        category=event.category,
        type=event.type,
        subject=Subject(
            type=subject.type or cat.subject_types[0],
            id=subject.id,
            name=subject.name,
            parent_type=(parent.type or cat.parent_type) if parent else None,
            parent=Ref(parent.id, parent.name) if parent else None,
        ),
        properties=_normalised_properties(event.properties),
        project=Ref(event.project.id, event.project.name) if event.project else None,
        actor=Actor(event.actor.type, event.actor.id, event.actor.name),
        source_ip=event.source.ip if event.source else None,
    )


def _normalised_properties(properties: dict[str, Any]) -> dict[str, PropertyValue]:
    return {k: list(v) if isinstance(v, list) else v for k, v in sorted(properties.items())}


_SURROGATE_MESSAGE = (
    "must be valid Unicode: it holds a lone surrogate (\\ud800-\\udfff), which no text "
    "encoding can store"
)


def _surrogate_problems(obj: Any, where: str, found: list[Problem]) -> None:
    """Every key and string in ``obj`` holding a lone surrogate (pydantic reports those with
    no usable field path). JSON text may spell one as ``\\udfff``; ``json.loads`` keeps it."""
    if len(found) >= 10:
        return
    if isinstance(obj, str):
        if not _encodes(obj):
            found.append(Problem(where or "body", _SURROGATE_MESSAGE))
    elif isinstance(obj, dict):
        for key, value in obj.items():
            path = join_path(where, key)
            if not _encodes(key):
                found.append(Problem(path, "is a key that " + _SURROGATE_MESSAGE))
            _surrogate_problems(value, path, found)
    elif isinstance(obj, list):
        for index, item in enumerate(obj):
            _surrogate_problems(item, join_path(where, index), found)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _encoded_size(obj: Any) -> tuple[int, bool]:
    """The event's size in UTF-8, and whether it holds no lone surrogate (the common case,
    learnt here for free; only then is the event walked to find them)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        return len(text.encode("utf-8")), True
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass")), False


def parse_event(
    obj: Any,
    *,
    received_at: datetime,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    prefix: str = "",
    source_bytes: int | None = None,
    catalog: Catalog = SEED,
) -> EventDraft:
    """Validate one decoded JSON event; raise :class:`InvalidInput` or :class:`TooLarge`.

    ``source_bytes``, the length of the JSON text it was decoded from, spares measuring the
    event's size when that text is far below the limit (see :data:`MAX_EXPANSION`). Pass it
    only for a text with no ``\\u`` escape of a surrogate: the measuring is also what finds
    lone surrogates.
    """
    drafts, problems = _parse_one(obj, received_at, new_id, prefix, catalog, source_bytes)
    if problems:
        raise InvalidInput("the event is not valid", problems)
    assert drafts is not None
    return drafts


def _parse_one(
    obj: Any,
    received_at: datetime,
    new_id: Callable[[], uuid.UUID],
    prefix: str,
    catalog: Catalog,
    source_bytes: int | None = None,
) -> tuple[EventDraft | None, list[Problem]]:
    dotted = f"{prefix}." if prefix else ""
    if not isinstance(obj, dict):
        return None, [Problem(prefix or "body", "must be a JSON object describing one event")]
    if source_bytes is None or source_bytes * MAX_EXPANSION > MAX_EVENT_BYTES:
        size, clean = _encoded_size(obj)
        if size > MAX_EVENT_BYTES:
            raise TooLarge(
                f"{prefix or 'the event'} is {size} bytes; an event may be at most "
                f"{MAX_EVENT_BYTES} bytes (64 KiB)"
            )
        if not clean:
            surrogates: list[Problem] = []
            _surrogate_problems(obj, prefix, surrogates)
            if surrogates:
                return None, surrogates
    try:
        event = EventIn.model_validate(obj)
    except ValidationError as exc:
        return None, _pydantic_problems(prefix, exc)
    problems = event_problems(dotted, event, received_at, catalog)
    if problems:
        return None, problems
    return to_draft(event, received_at, new_id, catalog), []


def parse_batch(
    obj: Any,
    *,
    received_at: datetime,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    source_bytes: int | None = None,
    catalog: Catalog = SEED,
) -> list[EventDraft]:
    """Validate a batch ``{"events": [...]}``; every problem of every event is reported at once.

    ``source_bytes`` as for :func:`parse_event` (the whole batch's text bounds each event's).
    """
    if not isinstance(obj, dict) or set(obj) != {"events"}:
        raise MalformedRequest('a batch must be a JSON object of the form {"events": [...]}')
    events = obj["events"]
    if not isinstance(events, list) or not events:
        raise InvalidInput(
            "the batch is not valid", [Problem("events", "must be a non-empty list of events")]
        )
    if len(events) > MAX_BATCH_EVENTS:
        raise InvalidInput(
            "the batch is not valid",
            [Problem("events", f"has {len(events)} events; at most {MAX_BATCH_EVENTS} per batch")],
        )
    drafts: list[EventDraft] = []
    problems: list[Problem] = []
    for index, item in enumerate(events):
        draft, item_problems = _parse_one(
            item, received_at, new_id, f"events[{index}]", catalog, source_bytes
        )
        problems.extend(item_problems)
        if draft is not None:
            drafts.append(draft)
    if problems:
        raise InvalidInput(
            f"{len({p.field.split('.')[0] for p in problems})} of {len(events)} events are not "
            "valid; nothing from this batch was stored",
            problems,
        )
    return drafts
