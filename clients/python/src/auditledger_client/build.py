"""Turn an event and its context into a wire-format event, checked against the catalog locally.

The check is the server's own validator (:func:`auditledger_client.core.validate.parse_event`),
so a programming error (a missing property, an unknown type, a naive timestamp) is raised at the
call site, while the caller can still fix it, instead of turning into a dead letter later.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .core.catalog import SEED, Catalog
from .core.clock import Clock
from .core.errors import InvalidInput, Problem, TooLarge
from .core.validate import parse_event
from .errors import EventTooLarge, InvalidEvent
from .model import Actor, Ref
from .typed import Event


@dataclass(frozen=True)
class WireEvent:
    """A validated event ready for the spool: its id, organization and JSON text."""

    id: uuid.UUID
    org: str
    body: str

    def as_dict(self) -> dict[str, Any]:
        """The event as a JSON object."""
        result: dict[str, Any] = json.loads(self.body)
        return result


def _require_org(org: str) -> None:
    if not org:
        raise InvalidEvent(
            "no organization for the event",
            [Problem("org", "pass org= here or to the client (or set AUDITLEDGER_ORG)")],
        )


def build_event(
    event: Event,
    *,
    org: str,
    subject: Ref,
    actor: Actor,
    clock: Clock,
    catalog: Catalog = SEED,
    project: Ref | None = None,
    source: str | None = None,
    timestamp: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> WireEvent:
    """A validated :class:`WireEvent`, or :class:`InvalidEvent` / :class:`EventTooLarge`.

    The id is chosen here, before anything is sent, so every retry of this event carries the
    same id and the service stores it once. The timestamp defaults to now: an event may wait in
    the spool for hours, and the time it is finally received is not when it happened.
    """
    if not isinstance(event, Event):
        raise InvalidEvent(
            "the event is not valid",
            [Problem("event", f"must be an Event (e.g. ModelRename(...)), not {type(event)!r}")],
        )
    if timestamp is not None and timestamp.utcoffset() is None:
        raise InvalidEvent(
            "the event is not valid",
            [Problem("timestamp", "must be timezone-aware (naive datetimes are ambiguous)")],
        )
    now = clock.now()
    wire: dict[str, Any] = {
        "id": str(event_id or uuid.uuid4()),
        "timestamp": (timestamp or now).isoformat(),
        "category": event.category,
        "type": event.type,
        "subject": subject.wire(),
        "properties": event.properties(),
        "actor": actor.wire(),
    }
    if project is not None:
        wire["project"] = project.wire()
    if source is not None:
        wire["source"] = {"ip": source}
    return wire_event(wire, org=org, clock=clock, catalog=catalog, now=now)


def wire_event(
    obj: Mapping[str, Any],
    *,
    org: str,
    clock: Clock,
    catalog: Catalog = SEED,
    now: datetime | None = None,
) -> WireEvent:
    """A :class:`WireEvent` from an event already in wire format (e.g. built by other code).

    An id and a timestamp are added when missing, for the same reasons as in :func:`build_event`.
    """
    _require_org(org)
    event = dict(obj)
    event.setdefault("id", str(uuid.uuid4()))
    now = now or clock.now()
    event.setdefault("timestamp", now.isoformat())
    try:
        draft = parse_event(event, received_at=now, catalog=catalog)
    except InvalidInput as exc:
        raise InvalidEvent(exc.message, exc.problems) from None
    except TooLarge as exc:
        raise EventTooLarge(exc.message) from None
    return WireEvent(
        draft.event_id, org, json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    )
