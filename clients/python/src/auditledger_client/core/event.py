"""The audit event as auditledger holds it, independent of HTTP and of the database.

Names (of the subject, project and actor) and the source location are snapshots taken when the
event happened: a model renamed later keeps its old name in the events recorded before.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# A property value: the catalog allows strings, lists of strings, integers and booleans.
PropertyValue = str | int | bool | list[str]


@dataclass(frozen=True)
class Ref:
    """A reference to a resource by id, with its name at the time of the event."""

    id: str
    name: str | None = None


@dataclass(frozen=True)
class Subject:
    """The resource an event affected. ``parent`` is set for versions (a model version's model)."""

    type: str
    id: str
    name: str | None = None
    parent_type: str | None = None
    parent: Ref | None = None

    @property
    def model_id(self) -> str | None:
        """The model this subject is or belongs to, so a model's view includes its versions."""
        if self.type == "model":
            return self.id
        if self.parent_type == "model" and self.parent is not None:
            return self.parent.id
        return None


@dataclass(frozen=True)
class Actor:
    """Who performed the action: a user or the system, by id and by name at the time."""

    type: str  # "user" or "system"
    id: str
    name: str


@dataclass(frozen=True)
class Location:
    """Where an IP address is, derived offline at ingest time and stored as a snapshot.

    ``network`` is set instead of a country for addresses that have no place on the map:
    private, loopback, link-local, reserved.
    """

    country_code: str | None = None
    country: str | None = None
    city: str | None = None
    network: str | None = None

    def label(self) -> str:
        """A short human description, e.g. "Helsinki, Finland" or "Private network"."""
        if self.network:
            return self.network
        parts = [p for p in (self.city, self.country or self.country_code) if p]
        return ", ".join(parts) if parts else "Unknown"

    def as_dict(self) -> dict[str, str | None]:
        """Every key, present even when None, so the canonical form has one shape."""
        return {
            "city": self.city,
            "country": self.country,
            "country_code": self.country_code,
            "network": self.network,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Location:
        """The inverse of :meth:`as_dict`."""
        return cls(
            country_code=data.get("country_code"),
            country=data.get("country"),
            city=data.get("city"),
            network=data.get("network"),
        )


@dataclass(frozen=True)
class Source:
    """Where the action came from."""

    ip: str
    location: Location | None = None


@dataclass(frozen=True)
class EventDraft:
    """A validated event as the platform sent it, before it has a place in the log."""

    event_id: uuid.UUID
    # Only a platform-supplied id protects against duplicates on retry; a server-assigned one
    # is fresh on every attempt.
    id_supplied: bool
    occurred_at: datetime
    timestamp_supplied: bool
    category: str
    type: str
    subject: Subject
    properties: dict[str, PropertyValue]
    project: Ref | None
    actor: Actor
    source_ip: str | None


@dataclass(frozen=True)
class Event:
    """A recorded event: the draft plus its place in the organization's log."""

    org: str
    seq: int
    event_id: uuid.UUID
    occurred_at: datetime
    received_at: datetime
    category: str
    type: str
    subject: Subject
    properties: dict[str, PropertyValue]
    project: Ref | None
    actor: Actor
    source: Source | None
    leaf_hash: bytes | None = field(default=None, compare=False)
