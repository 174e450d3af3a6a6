"""The fast way in: a request body decoded and type-checked in one pass by msgspec (C code).

The wire rules of :mod:`auditledger_client.core.wire` (fields, types, lengths, the id and
timestamp forms) are written here once more as msgspec Structs, and the catalog rules are the
very same functions the exact path uses (:func:`~auditledger_client.core.validate.
event_problems`, :func:`~auditledger_client.core.validate.to_draft`). A body this decoder is
unsure of in any way (not JSON, a duplicate key, a NUL, a lone surrogate, a wrong type, any
catalog problem, an event over 64 KiB) gets ``None``: the caller then takes the exact path
(``ingest.jsonbody`` + the pydantic models), which refuses it with the documented 4xx message.
So this module may only ever be stricter than the exact path, never looser; a differential
test (``tests/ingest/test_typed.py``) holds it to that, and to the same drafts for valid bodies.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from auditledger_client.core.catalog import Catalog
from auditledger_client.core.event import EventDraft
from auditledger_client.core.validate import (
    MAX_EVENT_BYTES,
    MAX_EXPANSION,
    event_problems,
    to_draft,
)
from auditledger_client.core.wire import (
    MAX_BATCH_EVENTS,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    normalise_ip,
    parse_timestamp,
)

_Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
# Resource ids appear in URL paths (/models/{id}): no '/'.
_ResourceId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[^/]*\Z")
]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_CHARS)]
_Key = Annotated[str, msgspec.Meta(max_length=64)]


class _Wire(msgspec.Struct, forbid_unknown_fields=True):
    pass


class _Ref(_Wire):
    id: _ResourceId
    name: _Name | None = None


class _Parent(_Wire):
    id: _ResourceId
    name: _Name | None = None
    type: _Identifier | None = None


class _Subject(_Wire):
    id: _ResourceId
    type: _Identifier | None = None
    name: _Name | None = None
    parent: _Parent | None = None


class _Actor(_Wire):
    id: _Identifier
    name: _Name
    type: Literal["user", "system"] = "user"


class _Source(_Wire):
    ip: str


class _Event(_Wire):
    category: _Key
    type: _Key
    subject: _Subject
    actor: _Actor
    id: uuid.UUID | None = None
    # Text on the wire; replaced by the parsed time before the catalog rules see it.
    timestamp: Any = None
    properties: dict[str, Any] = {}
    project: _Ref | None = None
    source: _Source | None = None


# A JSON string, escapes included; what is left after removing them holds a ':' exactly
# where an object holds a member.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_DECODER = msgspec.json.Decoder()
_ENCODER = msgspec.json.Encoder()


def _members(value: Any) -> int:
    """How many distinct keys the decoded objects in ``value`` hold, all levels."""
    if isinstance(value, dict):
        return len(value) + sum(_members(v) for v in value.values())
    if isinstance(value, list):
        return sum(_members(v) for v in value)
    return 0


def _has_no_duplicate_key(
    raw: bytes, decoded: Any, batch: bool, encoded: list[bytes] | None
) -> bool:
    # A decoder keeps the last of two equal keys; only counting the members in the text
    # against the keys decoded tells that one went missing. Without escapes, each ':' of the
    # text is a member's or one inside a string, and so is each ':' of the decoded value
    # encoded again (a lost duplicate leaves the text with more): ``encoded`` holds each event
    # encoded again, and a batch's own ``"events":`` adds one. An escape could spell a ':'
    # (\u003a), so then strings are cut out of the text and the keys counted, which costs more.
    if encoded is not None:
        return raw.count(b":") == int(batch) + sum(text.count(b":") for text in encoded)
    return _STRING.sub(b"", raw).count(b":") == _members(decoded)


def _checked(item: Any, prefix: str, received_at: datetime, catalog: Catalog) -> _Event | None:
    if not isinstance(item, dict):
        return None
    try:
        event = msgspec.convert(item, _Event)
        if event.timestamp is not None:
            if not isinstance(event.timestamp, str):
                return None
            event.timestamp = parse_timestamp(event.timestamp)
        if event.source is not None:
            event.source.ip = normalise_ip(event.source.ip)
    except (msgspec.ValidationError, ValueError):
        return None
    if event_problems(prefix, event, received_at, catalog):
        return None
    return event


def decode_events(
    raw: bytes,
    *,
    batch: bool,
    received_at: datetime,
    new_id: Callable[[], uuid.UUID],
    catalog: Catalog,
) -> list[EventDraft] | None:
    """The drafts of a valid body (one event, or ``{"events": [...]}`` when ``batch``), or
    None when the exact path must decide (and word the refusal)."""
    # NUL is refused in every text field; JSON can only spell it as an escape.
    if b"\\u0000" in raw:
        return None
    try:
        decoded = _DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError, RecursionError):
        return None
    if batch:
        if not isinstance(decoded, dict) or decoded.keys() != {"events"}:
            return None
        items = decoded["events"]
        if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH_EVENTS:
            return None
    else:
        items = [decoded]
    escaped = b"\\u" in raw
    measure = len(raw) * MAX_EXPANSION > MAX_EVENT_BYTES
    # Each event encoded again once, if at all: for the duplicate-key count and for its size.
    encoded = [] if escaped and not measure else [_ENCODER.encode(item) for item in items]
    if not _has_no_duplicate_key(raw, decoded, batch, None if escaped else encoded):
        return None
    # Compact msgspec output equals json.dumps(ensure_ascii=False, separators=(",", ":")) for
    # every value an accepted event can hold (no floats), so the size is the exact path's.
    if measure and any(len(text) > MAX_EVENT_BYTES for text in encoded):
        return None
    events = []
    for index, item in enumerate(items):
        event = _checked(item, f"events[{index}]." if batch else "", received_at, catalog)
        if event is None:
            return None
        events.append(event)
    # Ids are drawn only once the whole body is known to be valid, so a body handed over to
    # the exact path has used none.
    return [to_draft(event, received_at, new_id, catalog) for event in events]
