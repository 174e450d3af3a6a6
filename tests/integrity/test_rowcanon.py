"""The verifier's fast path writes exactly the canonical bytes of the event in a row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditledger.core.canonical import TimestampText, canonical_bytes, event_leaf_hash
from auditledger.core.columns import digest_parts
from auditledger.core.rowcanon import EVENT_COLUMNS, UNREADABLE, RowCanonicalizer
from auditledger.integrity.source import open_source
from auditledger.services import Services
from auditledger.store.rows import event_to_row
from auditledger.store.types import to_micros
from auditledger_client.core.event import Actor, Event, Location, Ref, Source, Subject
from tests.support.helpers import all_platform_types, make_org, sample_event
from tests.support.integrity import ingest

HOSTILE = [
    "",
    '"quoted" \\ back\\slash',
    "new\nline\ttab\rreturn\x08\x0c",
    "\x01\x1f\x7f control",
    "☃ 🚀 שלום مرحبا 中文 ﻿bom",
    "\u2028line sep\u2029para sep",
    "\u202e'; DROP TABLE events;--",
    "=cmd|'/C calc'!A0",
    "e\u0301 vs é",
    "</script><script>alert(1)</script>",
]


def sqlite_row(org_id: int, event: Event) -> tuple[Any, ...]:
    """The row as SQLite hands it back: integer microseconds and 32-digit hex ids."""
    row = event_to_row(org_id, event)
    row["occurred_at"] = to_micros(event.occurred_at)
    row["received_at"] = to_micros(event.received_at)
    row["event_id"] = event.event_id.hex
    return tuple(row[c] for c in EVENT_COLUMNS)


def postgres_row(org_id: int, event: Event) -> tuple[Any, ...]:
    """The row as psycopg hands it back: datetimes (in any zone) and UUID objects."""
    row = event_to_row(org_id, event)
    row["occurred_at"] = event.occurred_at.astimezone(datetime.now(UTC).astimezone().tzinfo or UTC)
    return tuple(row[c] for c in EVENT_COLUMNS)


def make_event(
    *,
    seq: int = 0,
    text: str = "x",
    occurred: datetime = datetime(2026, 5, 1, 12, 0, tzinfo=UTC),
    parent: bool = True,
    project: bool = True,
    source: str = "located",
    names: bool = True,
) -> Event:
    return Event(
        org="acme",
        seq=seq,
        event_id=uuid.uuid4(),
        occurred_at=occurred,
        received_at=occurred + timedelta(seconds=3, microseconds=7),
        category="model_version",
        type="tag_change",
        subject=Subject(
            type="model_version",
            id=f"mv-{text}",
            name=text if names else None,
            parent_type="model" if parent else None,
            parent=Ref(f"m-{text}", text if names else None) if parent else None,
        ),
        properties={"old_tags": [text, "b"], "new_tags": [], "count": -3, "flag": False},
        project=Ref(f"p-{text}", text if names else None) if project else None,
        actor=Actor("user", f"u-{text}", text),
        source=(
            Source("10.0.0.1", Location(network="Private network"))
            if source == "located"
            else Source("2001:db8::1", Location("FI", text, text))
            if source == "country"
            else Source("193.166.3.7", None)
            if source == "unlocated"
            else None
        ),
    )


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("shape", ["full", "bare"])
def test_fast_path_equals_canonical_bytes_for_hostile_text(text: str, shape: str) -> None:
    full = shape == "full"
    for source in ("located", "country", "unlocated", None):
        event = make_event(
            text=text, parent=full, project=full, names=full, source=str(source), seq=12345
        )
        canon = RowCanonicalizer("acme")
        assert canon.canonical_bytes(sqlite_row(1, event)) == canonical_bytes(event)
        assert canon.canonical_bytes(postgres_row(1, event)) == canonical_bytes(event)
        assert canon.leaf_hash(sqlite_row(1, event)) == event_leaf_hash(event)


@pytest.mark.parametrize(
    "occurred",
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2000, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, 0, 1, tzinfo=UTC),
        datetime(2099, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC),
    ],
)
def test_fast_path_formats_timestamps_like_canonical(occurred: datetime) -> None:
    canon = RowCanonicalizer("acme")
    event = make_event(occurred=occurred)
    # Twice: the second call goes through the caches.
    for _ in range(2):
        assert canon.canonical_bytes(sqlite_row(1, event)) == canonical_bytes(event)
        assert canon.canonical_bytes(postgres_row(1, event)) == canonical_bytes(event)


texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    text=texts,
    other=texts,
    micros=st.integers(0, 4_102_444_800_000_000),
    seq=st.integers(0, 2**53 - 1),
    parent=st.booleans(),
    project=st.booleans(),
    names=st.booleans(),
    source=st.sampled_from(["located", "country", "unlocated", "none"]),
)
def test_fast_path_equals_canonical_bytes_for_generated_events(
    text: str,
    other: str,
    micros: int,
    seq: int,
    parent: bool,
    project: bool,
    names: bool,
    source: str,
) -> None:
    occurred = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    event = make_event(
        seq=seq,
        text=text + other,
        occurred=occurred,
        parent=parent,
        project=project,
        names=names,
        source=source,
    )
    canon = RowCanonicalizer("org-" + str(len(other)))
    event = Event(**{**event.__dict__, "org": "org-" + str(len(other))})
    assert canon.canonical_bytes(sqlite_row(7, event)) == canonical_bytes(event)
    assert canon.canonical_bytes(postgres_row(7, event)) == canonical_bytes(event)


def test_fast_path_matches_every_stored_event_type(services: Services) -> None:
    access = make_org(services)
    events = [sample_event(c, t) for c, t in all_platform_types()]
    hostile = sample_event("model", "rename", properties={"old_name": HOSTILE[4], "new_name": ""})
    hostile["subject"]["name"] = HOSTILE[2]
    events.append(hostile)
    events.append(sample_event(source={"ip": "::1"}, project=None))
    receipts = ingest(services, access.org, events)
    stored = services.log.events(access.org.id, access.org.slug, 0, len(events))
    canon = RowCanonicalizer(access.org.slug)
    with open_source(services.db, access.org.id) as source:
        rows = source.event_rows(0, len(events))
    assert len(rows) == len(stored) == len(receipts)
    for row, event, receipt in zip(rows, stored, receipts, strict=True):
        assert canon.canonical_bytes(row) == canonical_bytes(event)
        assert canon.leaf_hash(row) == receipt.leaf_hash


# Raw column values as a tampered database could hand them back: what auditledger writes
# (text, null, SQLite's integers) and what it never does (numbers or bytes in a text column).
raw_values = st.one_of(
    st.none(),
    texts,
    st.sampled_from(HOSTILE),
    st.integers(-(2**63), 2**63 - 1),
    st.binary(max_size=8),
)


def _outcome(encode: Any, row: tuple[Any, ...]) -> Any:
    try:
        return encode(row)
    except UNREADABLE as exc:
        return type(exc)


@settings(max_examples=400, deadline=None)
@given(
    columns=st.lists(raw_values, min_size=len(EVENT_COLUMNS), max_size=len(EVENT_COLUMNS)),
    micros=st.integers(0, 4_102_444_800_000_000),
    event_id=st.one_of(st.uuids().map(lambda u: u.hex), texts),
)
def test_digest_parts_in_one_go_equal_each_alone(
    columns: list[Any], micros: int, event_id: str
) -> None:
    # verify's common path encodes a row's canonical bytes (the one encoder, which the tests
    # above hold to the reference) and its idempotency digest's content together: the digest
    # parts must be exactly what core.columns.digest_parts gives alone, and the pair must
    # raise whenever that would (verify then asks each alone, to say which check fails).
    columns[0], columns[1], columns[2], columns[3] = 42, micros, micros + 1, event_id
    row = tuple(columns)
    canon = RowCanonicalizer("acme")
    together = _outcome(canon.with_digest_parts, row)
    alone = _outcome(lambda r: digest_parts(r, TimestampText()), row)
    if isinstance(alone, type):
        assert isinstance(together, type)
    elif not isinstance(together, type):
        assert together[1:] == alone


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_digest_parts_in_one_go_for_hostile_events(text: str) -> None:
    for full in (True, False):
        event = make_event(text=text, parent=full, project=full, names=full, seq=9)
        for row in (sqlite_row(1, event), postgres_row(1, event)):
            canon = RowCanonicalizer("acme")
            together = canon.with_digest_parts(row)
            assert together[0] == canonical_bytes(event)
            assert together[1:] == digest_parts(row, TimestampText())
