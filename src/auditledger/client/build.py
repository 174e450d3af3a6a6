"""Build a wire-format event from typed arguments and check it against the catalog locally.

The check is the server's own validator (:func:`auditledger.ingest.validate.parse_event`), so a
programming error (a missing property, an unknown type, a naive timestamp) is raised at the call
site, while the caller can still fix it, instead of turning into a dead letter later.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditledger.clock import Clock
from auditledger.core.errors import InvalidInput, Problem
from auditledger.ingest.validate import parse_event

from .model import Actor, Ref


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
        raise InvalidInput(
            "no organization for the event",
            [Problem("org", "pass org= here or to the client")],
        )


def _property_value(value: Any) -> Any:
    # Typed methods take any sequence of strings for list properties; JSON wants a list.
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return value


def build_event(
    category: str,
    type_: str,
    *,
    org: str,
    subject: Ref,
    actor: Actor,
    clock: Clock,
    parent: Ref | None = None,
    properties: Mapping[str, Any] | None = None,
    project: Ref | None = None,
    source_ip: str | None = None,
    timestamp: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> WireEvent:
    """A validated :class:`WireEvent`, or :class:`InvalidInput` / :class:`TooLarge`.

    The id is chosen here, before anything is sent, so every retry of this event carries the
    same id and the service stores it once. The timestamp defaults to now: an event may wait in
    the spool for hours, and the time it is finally received is not when it happened.
    """
    _require_org(org)
    if timestamp is not None and timestamp.utcoffset() is None:
        raise InvalidInput(
            "the event is not valid",
            [Problem("timestamp", "must be timezone-aware (naive datetimes are ambiguous)")],
        )
    now = clock.now()
    subject_json: dict[str, Any] = subject.wire()
    if parent is not None:
        subject_json["parent"] = parent.wire()
    event: dict[str, Any] = {
        "id": str(event_id or uuid.uuid4()),
        "timestamp": (timestamp or now).isoformat(),
        "category": category,
        "type": type_,
        "subject": subject_json,
        "properties": {
            k: _property_value(v) for k, v in (properties or {}).items() if v is not None
        },
        "actor": actor.wire(),
    }
    if project is not None:
        event["project"] = project.wire()
    if source_ip is not None:
        event["source"] = {"ip": source_ip}
    draft = parse_event(event, received_at=now)
    return WireEvent(
        draft.event_id, org, json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    )


def wire_event(obj: Mapping[str, Any], *, org: str, clock: Clock) -> WireEvent:
    """A :class:`WireEvent` from an event already in wire format (e.g. built by other code).

    An id and a timestamp are added when missing, for the same reasons as in :func:`build_event`.
    """
    _require_org(org)
    event = dict(obj)
    event.setdefault("id", str(uuid.uuid4()))
    now = clock.now()
    event.setdefault("timestamp", now.isoformat())
    draft = parse_event(event, received_at=now)
    return WireEvent(
        draft.event_id, org, json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    )
