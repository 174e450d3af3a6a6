"""The one ``record`` every recorder shares: the sync client, the async client and the outbox.

``record(event, *, subject, actor, project=None, source=None, timestamp=None, event_id=None,
org=None)``: ``event`` is a typed event (``ModelRename(old_name=..., new_name=...)``) or a
:class:`~auditledger_client.typed.CustomEvent`; the keywords are the context every event
has. The clients add ``wait=`` (return only once the service committed the event).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Generic, TypeVar

from .build import WireEvent, build_event
from .core.catalog import SEED, Catalog
from .core.clock import Clock
from .model import Actor, Ref
from .typed import Event

R = TypeVar("R")


class Recorder(Generic[R]):
    """Builds and validates events against ``catalog`` and hands them to :meth:`_accept`."""

    _org: str | None
    _clock: Clock
    _catalog: Catalog = SEED

    def build(
        self,
        event: Event,
        *,
        subject: Ref,
        actor: Actor,
        project: Ref | None = None,
        source: str | None = None,
        timestamp: datetime | None = None,
        event_id: uuid.UUID | None = None,
        org: str | None = None,
    ) -> WireEvent:
        """The validated wire event (raises :class:`~auditledger_client.errors.InvalidEvent`
        at the call site when it is not valid)."""
        return build_event(
            event,
            org=org or self._org or "",
            subject=subject,
            actor=actor,
            clock=self._clock,
            catalog=self._catalog,
            project=project,
            source=source,
            timestamp=timestamp,
            event_id=event_id,
        )

    def record(
        self,
        event: Event,
        *,
        subject: Ref,
        actor: Actor,
        project: Ref | None = None,
        source: str | None = None,
        timestamp: datetime | None = None,
        event_id: uuid.UUID | None = None,
        org: str | None = None,
    ) -> R:
        """Record ``event`` about ``subject`` by ``actor``, in ``project``, from the IP address
        ``source``, at ``timestamp`` (default: now) with ``event_id`` (default: a new UUID;
        the same id is stored once, so retrying is safe) in ``org`` (default: the recorder's)."""
        wire = self.build(
            event,
            subject=subject,
            actor=actor,
            project=project,
            source=source,
            timestamp=timestamp,
            event_id=event_id,
            org=org,
        )
        return self._accept(wire)

    def _accept(self, wire: WireEvent) -> R:
        raise NotImplementedError
