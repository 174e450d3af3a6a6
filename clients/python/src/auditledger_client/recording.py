"""The one ``record`` every recorder shares: the sync client, the async client and the outbox.

``record(event, *, subject, actor, project=None, source=None, timestamp=None, event_id=None,
org=None)``: ``event`` is a typed event (``ModelRename(old_name=..., new_name=...)``) or a
:class:`~auditledger_client.typed.CustomEvent`; the keywords are the context every event
has. The clients add ``wait=`` (return only once the service committed the event):
:class:`ClientRecorder` is that ``record`` for both of them, the sync client returning a
receipt and the async one an awaitable of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

from .build import WireEvent, build_event, wire_event
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


class ClientRecorder(Recorder[R]):
    """The clients' ``record`` and ``record_event``: :class:`Recorder`'s, plus ``wait``.

    ``R`` is what a client answers: a :class:`~auditledger_client.model.Receipt` for the sync
    client, an awaitable of one for the async client (validation still happens at the call).
    """

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
        wait: bool = False,
    ) -> R:
        """Record ``event`` (see :meth:`Recorder.record`).

        Answers a ``queued`` receipt once the event is in the spool, or, with ``wait=True``,
        the service's receipt once it is committed. When that cannot happen within
        ``ack_timeout`` (the service is unreachable, or asks for a longer pause, or does not
        answer) it raises :class:`~auditledger_client.errors.NotAcknowledged` as soon as that
        is clear, saying whether the event was withdrawn. ``wait=True`` is for actions that
        must not proceed unaudited.
        """
        self._check_open()
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
        return self._submit(wire, wait)

    def record_event(
        self, event: Mapping[str, Any], *, org: str | None = None, wait: bool = False
    ) -> R:
        """Record an event given in the wire format of the ingestion API (a JSON object)."""
        self._check_open()
        wire = wire_event(
            event, org=org or self._org or "", clock=self._clock, catalog=self._catalog
        )
        return self._submit(wire, wait)

    def _accept(self, wire: WireEvent) -> R:
        return self._submit(wire, False)

    def _check_open(self) -> None:
        raise NotImplementedError

    def _submit(self, wire: WireEvent, wait: bool) -> R:
        raise NotImplementedError
