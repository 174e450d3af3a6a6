"""Conversions between :class:`Event` and rows of the ``events`` table."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from auditledger.core.canonical import encode
from auditledger.store.types import from_micros
from auditledger_client.core.event import Actor, Event, EventDraft, Location, Ref, Source, Subject


def event_to_row(org_id: int, event: Event) -> dict[str, Any]:
    """The ``events`` row for ``event``; JSON columns hold canonical JSON."""
    subject = event.subject
    return {
        "org_id": org_id,
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at,
        "event_id": event.event_id,
        "category": event.category,
        "type": event.type,
        "subject_type": subject.type,
        "subject_id": subject.id,
        "subject_name": subject.name,
        "parent_type": subject.parent_type,
        "parent_id": subject.parent.id if subject.parent else None,
        "parent_name": subject.parent.name if subject.parent else None,
        "model_id": subject.model_id,
        "properties": encode(event.properties).decode("utf-8"),
        "project_id": event.project.id if event.project else None,
        "project_name": event.project.name if event.project else None,
        "actor_type": event.actor.type,
        "actor_id": event.actor.id,
        "actor_name": event.actor.name,
        "source_ip": event.source.ip if event.source else None,
        "source_location": (
            encode(event.source.location.as_dict()).decode("utf-8")
            if event.source and event.source.location
            else None
        ),
    }


@functools.lru_cache(maxsize=4096)
def location_json(location: Location) -> str:
    """Canonical JSON of a location (cached: an organization's events share a few)."""
    return encode(location.as_dict()).decode("utf-8")


def draft_row(
    org_id: int, seq: int, received_at: datetime, draft: EventDraft, location: Location | None
) -> dict[str, Any]:
    """The ``events`` row of a draft given its place in the log: what :func:`event_to_row`
    makes of the same event, without building the :class:`Event` first (the ingest hot path)."""
    subject = draft.subject
    project = draft.project
    return {
        "org_id": org_id,
        "seq": seq,
        "occurred_at": draft.occurred_at,
        "received_at": received_at,
        "event_id": draft.event_id,
        "category": draft.category,
        "type": draft.type,
        "subject_type": subject.type,
        "subject_id": subject.id,
        "subject_name": subject.name,
        "parent_type": subject.parent_type,
        "parent_id": subject.parent.id if subject.parent else None,
        "parent_name": subject.parent.name if subject.parent else None,
        "model_id": subject.model_id,
        "properties": encode(draft.properties).decode("utf-8"),
        "project_id": project.id if project else None,
        "project_name": project.name if project else None,
        "actor_type": draft.actor.type,
        "actor_id": draft.actor.id,
        "actor_name": draft.actor.name,
        "source_ip": draft.source_ip,
        "source_location": (
            location_json(location) if draft.source_ip and location is not None else None
        ),
    }


# The JSON columns hold canonical JSON written by this module: no duplicate keys, no NaN, so
# msgspec's decoder (several times faster than json.loads) reads them to the same values.
_decode_json = msgspec.json.decode


@functools.lru_cache(maxsize=4096)
def stored_location(text: str) -> Location:
    """The location in a ``source_location`` column (cached: events share a few, and a
    Location is immutable)."""
    return Location.from_dict(_decode_json(text))


def row_to_event(org_slug: str, row: Any) -> Event:
    """The :class:`Event` stored in an ``events`` row (a SQLAlchemy Row or mapping)."""
    m = row._mapping if hasattr(row, "_mapping") else row
    names = tuple(m.keys())
    return events_from_rows(org_slug, names, [[m[name] for name in names]])[0]


def stored_instant(value: Any) -> datetime:
    """A time column as the driver returns it (SQLite: integer microseconds; PostgreSQL: an
    aware datetime), in UTC."""
    return from_micros(value) if type(value) is int else value.astimezone(UTC)


def _stored_uuid(value: Any) -> uuid.UUID:
    # SQLite stores 32 hex digits; PostgreSQL's driver returns a UUID.
    return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=value)


@functools.lru_cache(maxsize=64)
def _positions(names: tuple[str, ...]) -> dict[str, int]:
    # A handful of column lists is ever read (view, export, one event): each mapped once.
    return {name: index for index, name in enumerate(names)}


def events_from_rows(
    org_slug: str, names: Sequence[str], rows: Iterable[Sequence[Any]]
) -> list[Event]:
    """The events in ``rows``, tuples of the ``events`` columns ``names`` in the driver's own
    storage forms (or as SQLAlchemy returns them), read by position: SQLAlchemy's per-value
    processing costs more than the query for a page of 500 rows. Source columns left out of
    ``names`` (a member's view) come out as no source."""
    at = _positions(tuple(names))
    seq, event_id, occurred, received = (
        at["seq"],
        at["event_id"],
        at["occurred_at"],
        at["received_at"],
    )
    category, type_, properties = at["category"], at["type"], at["properties"]
    subject_type, subject_id, subject_name = (
        at["subject_type"],
        at["subject_id"],
        at["subject_name"],
    )
    parent_type, parent_id, parent_name = at["parent_type"], at["parent_id"], at["parent_name"]
    project_id, project_name = at["project_id"], at["project_name"]
    actor_type, actor_id, actor_name = at["actor_type"], at["actor_id"], at["actor_name"]
    source_ip, source_location = at.get("source_ip"), at.get("source_location")
    found = []
    for r in rows:
        source = None
        ip = None if source_ip is None else r[source_ip]
        if ip is not None:
            where = None if source_location is None else r[source_location]
            source = Source(ip, stored_location(where) if where is not None else None)
        parent = r[parent_id]
        project = r[project_id]
        found.append(
            Event(
                org=org_slug,
                seq=r[seq],
                event_id=_stored_uuid(r[event_id]),
                occurred_at=stored_instant(r[occurred]),
                received_at=stored_instant(r[received]),
                category=r[category],
                type=r[type_],
                subject=Subject(
                    type=r[subject_type],
                    id=r[subject_id],
                    name=r[subject_name],
                    parent_type=r[parent_type],
                    parent=Ref(parent, r[parent_name]) if parent is not None else None,
                ),
                properties=_decode_json(r[properties]),
                project=Ref(project, r[project_name]) if project is not None else None,
                actor=Actor(r[actor_type], r[actor_id], r[actor_name]),
                source=source,
            )
        )
    return found
