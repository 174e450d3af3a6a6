"""Conversions between :class:`Event` and rows of the ``events`` table."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from auditledger.core.canonical import encode
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


def row_to_event(org_slug: str, row: Any) -> Event:
    """The :class:`Event` stored in an ``events`` row (a SQLAlchemy Row or mapping)."""
    m = row._mapping if hasattr(row, "_mapping") else row
    parent = Ref(m["parent_id"], m["parent_name"]) if m["parent_id"] is not None else None
    source = None
    if m["source_ip"] is not None:
        location = (
            Location.from_dict(json.loads(m["source_location"]))
            if m["source_location"] is not None
            else None
        )
        source = Source(m["source_ip"], location)
    return Event(
        org=org_slug,
        seq=m["seq"],
        event_id=m["event_id"],
        occurred_at=m["occurred_at"],
        received_at=m["received_at"],
        category=m["category"],
        type=m["type"],
        subject=Subject(
            type=m["subject_type"],
            id=m["subject_id"],
            name=m["subject_name"],
            parent_type=m["parent_type"],
            parent=parent,
        ),
        properties=json.loads(m["properties"]),
        project=Ref(m["project_id"], m["project_name"]) if m["project_id"] is not None else None,
        actor=Actor(m["actor_type"], m["actor_id"], m["actor_name"]),
        source=source,
    )
