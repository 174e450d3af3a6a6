"""The typed decoder (ingest/typed.py) against the exact path (jsonbody + pydantic + catalog).

The rule: whatever the typed decoder accepts, the exact path accepts too, with equal drafts;
whatever the exact path refuses, the typed decoder hands over (returns None), so every refusal
keeps its documented message. Checked over every catalog type and over mutations of every
field of an event (each field removed, and replaced by each of a set of awkward values), and
over texts a decoder may read differently (duplicate keys, escapes, NaN, huge numbers).
"""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from auditledger.core.errors import AuditLedgerError
from auditledger.ingest.jsonbody import parse_json_body
from auditledger.ingest.typed import decode_events
from auditledger_client.core.catalog import SEED
from auditledger_client.core.event import EventDraft
from auditledger_client.core.validate import MAX_EVENT_BYTES, parse_batch, parse_event
from tests.support.helpers import all_platform_types, sample_event

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

AWKWARD: list[Any] = [
    None,
    0,
    -1,
    2**60,
    1.5,
    True,
    "",
    "x",
    "a/b",
    "user",
    "system",
    "x" * 257,
    "x" * 1025,
    "nul\u0000",
    "2026-05-01T12:00:00Z",
    "2026-05-01T12:00:00",
    "2026-05-01T12:00:00.1234567Z",
    "2999-01-01T00:00:00Z",
    "193.166.3.7",
    " ::FFFF:193.166.3.7 ",
    "0b6c3c1e-0000-4000-8000-000000000000",
    "0B6C3C1E00004000800000000000000A",
    "{0b6c3c1e-0000-4000-8000-000000000000}",
    [],
    ["a"],
    [1],
    {},
    {"id": "m"},
    {"id": "m", "name": "n", "type": "model"},
]


def _ids() -> Callable[[], uuid.UUID]:
    counter = itertools.count(1)
    return lambda: uuid.UUID(int=next(counter))


def _exact(raw: bytes, batch: bool) -> list[EventDraft] | None:
    """The exact path's drafts, or None if it refuses the body (with a 4xx error)."""
    try:
        body = parse_json_body(raw)
        if batch:
            return parse_batch(
                body.value, received_at=NOW, new_id=_ids(), source_bytes=body.source_bytes
            )
        return [
            parse_event(body.value, received_at=NOW, new_id=_ids(), source_bytes=body.source_bytes)
        ]
    except AuditLedgerError:
        return None


def _typed(raw: bytes, batch: bool) -> list[EventDraft] | None:
    return decode_events(raw, batch=batch, received_at=NOW, new_id=_ids(), catalog=SEED)


def _agree(raw: bytes, batch: bool = False) -> list[EventDraft] | None:
    typed = _typed(raw, batch)
    if typed is not None:
        assert typed == _exact(raw, batch), raw[:300]
    return typed


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))


def _replace(event: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


def _remove(event: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _encode(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize(("category", "type_"), all_platform_types())
def test_every_catalog_type_takes_the_typed_path_with_the_same_draft(
    category: str, type_: str
) -> None:
    event = sample_event(category, type_)
    event["timestamp"] = "2026-11-25T13:59:00+02:00"
    event["source"] = {"ip": "2001:db8::1"}
    assert _agree(_encode(event)) is not None
    assert _agree(_encode({"events": [event, sample_event(category, type_)]}), True) is not None


def test_every_field_removed_or_replaced_never_lets_the_typed_path_accept_more() -> None:
    event = sample_event("model_version", "tag_change")
    event["source"] = {"ip": "193.166.3.7"}
    event["timestamp"] = "2026-11-25T11:00:00Z"
    accepted = 0
    paths = list(_paths(event))
    for path in paths:
        accepted += _agree(_encode(_remove(event, path))) is not None
        for value in AWKWARD:
            accepted += _agree(_encode(_replace(event, path, value))) is not None
        accepted += _agree(_encode(_replace(event, (*path[:-1], "unknown"), "x"))) is not None
    # Valid mutations exist (an optional field removed, another valid value): the typed path
    # must take them, or this test would pass with a decoder that accepts nothing.
    assert accepted > len(paths)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"category": "model", "category": "model"}',
        b"",
        b"  ",
        b"[]",
        b"null",
        b'{"x": NaN}',
        b'{"x": Infinity}',
        b"\xef\xbb\xbf{}",
        b'{"x": "\xff"}',
        b"[" * 10_000 + b"]" * 10_000,
    ],
)
def test_unreadable_texts_are_handed_to_the_exact_path(raw: bytes) -> None:
    assert _typed(raw, batch=False) is None
    assert _typed(raw, batch=True) is None


def test_a_duplicate_key_anywhere_is_handed_to_the_exact_path() -> None:
    text = _encode(sample_event("model_version", "tag_change")).decode()
    assert _agree(text.encode()) is not None
    for key in ('"id"', '"name"', '"old_tags"', '"properties"', '"parent"', '"type"'):
        # Repeat the first member with this key, value and all, right after itself.
        start = text.index(key)
        end = text.index(",", start) if key != '"properties"' else text.index("}", start) + 1
        member = text[start:end]
        doubled = text[:end] + "," + member + text[end:]
        assert _typed(doubled.encode(), batch=False) is None, doubled
        assert _exact(doubled.encode(), batch=False) is None


def test_a_duplicate_key_in_a_batch_is_handed_to_the_exact_path() -> None:
    event = _encode(sample_event("model", "rename")).decode()
    doubled = event.replace('"category"', '"category": "model", "category"', 1)
    many = ", ".join([event] * 60)  # large enough that each event is measured too
    for text in (
        f'{{"events": [{event}, {doubled}]}}',
        f'{{"events": [{many}, {doubled}]}}',
        f'{{"events": [], "events": [{event}]}}',
        f'{{"events": [{event}], "events": [{event}]}}',
    ):
        assert _typed(text.encode(), batch=True) is None, text[:200]
        assert _exact(text.encode(), batch=True) is None
    assert _agree(f'{{"events": [{many}, {event}]}}'.encode(), True) is not None


def test_an_event_over_64_kib_is_handed_over_alone_or_in_a_batch() -> None:
    small = sample_event("model", "rename")
    near = sample_event("model", "rename", properties={"old_name": "x" * 65_000, "new_name": "y"})
    over = sample_event("model", "rename", properties={"old_name": "x" * 66_000, "new_name": "y"})

    def size(event: dict[str, Any]) -> int:
        return len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode())

    assert size(near) <= MAX_EVENT_BYTES < size(over)
    assert _agree(_encode(near)) is not None
    assert _agree(_encode({"events": [small, near]}), True) is not None
    for body, batch in ((over, False), ({"events": [small, over]}, True)):
        assert _typed(_encode(body), batch) is None
        assert _exact(_encode(body), batch) is None


def test_escapes_decode_to_the_same_draft_or_are_handed_over() -> None:
    event = sample_event("model", "rename")
    text = _encode(event).decode()
    spelled = text.replace('"id"', '"\\u0069d"', 1)
    assert _agree(spelled.encode()) is not None
    # A duplicate key hidden behind an escape, with escaped colons to even out a count.
    hidden = text.replace('"category"', '"\\u0063ategory": "model", "x": "\\u003a", "category"', 1)
    assert _typed(hidden.encode(), batch=False) is None
    lone = text.replace('"name": "', '"name": "\\ud800', 1)
    assert _typed(lone.encode(), batch=False) is None
    assert _exact(lone.encode(), batch=False) is None
    pair = text.replace('"name": "', '"name": "\\ud83d\\ude00', 1)
    assert _agree(pair.encode()) is not None


def test_batches_of_the_wrong_shape_are_handed_over() -> None:
    event = sample_event("model", "rename")
    for body in (
        {"events": []},
        {"events": [event] * 1001},
        {"events": [event], "more": 1},
        {"events": event},
        [event],
    ):
        assert _typed(_encode(body), batch=True) is None
        assert _exact(_encode(body), batch=True) is None


def test_ids_are_drawn_only_for_a_body_the_typed_path_accepts() -> None:
    good = sample_event("model", "rename")
    del good["id"]
    bad = copy.deepcopy(good)
    bad["category"] = "nope"
    drawn: list[uuid.UUID] = []

    def new_id() -> uuid.UUID:
        drawn.append(uuid.uuid4())
        return drawn[-1]

    body = _encode({"events": [good, good, bad]})
    assert decode_events(body, batch=True, received_at=NOW, new_id=new_id, catalog=SEED) is None
    assert drawn == []
