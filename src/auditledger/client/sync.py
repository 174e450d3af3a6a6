"""The synchronous client."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx2 as httpx

from auditledger.clock import Clock

from .backoff import Backoff
from .build import WireEvent
from .core import ClientCore
from .events import EventMethods
from .model import Actor, DeadLetter, Receipt, Ref
from .spool import Durability


class AuditClient(EventMethods[Receipt]):
    """Records audit events for a platform: validated at the call, spooled, shipped in order.

    Every event is validated against the catalog when it is recorded (an invalid one raises
    :class:`~auditledger.core.errors.InvalidInput` right there), gets its id, and is committed to
    the spool before the call returns. A background thread sends the spool in batches of up to
    ``batch_size`` events, waiting at most ``linger`` seconds for a batch to fill, and removes
    events only once the service acknowledged them. Network errors, 429 and 503 are retried
    with exponential backoff and full jitter (never sooner than ``Retry-After``); events the
    service refuses for good become dead letters (:meth:`dead_letters`, ``on_dead_letter``).

    ``spool_path`` is required on purpose: a file keeps events across restarts and crashes of
    this process; ``None`` keeps them in memory only (faster, same order and retries, but
    events not yet delivered are lost if the process dies). Use one spool file per process.

    A full spool raises :class:`~auditledger.client.errors.SpoolFull`: the client pushes back
    rather than drop events. ``wait=True`` returns only once the service committed the event.
    """

    def __init__(
        self,
        server: str,
        token: str,
        *,
        spool_path: str | Path | None,
        org: str | None = None,
        batch_size: int = 500,
        linger: float = 0.2,
        max_spool_events: int = 100_000,
        max_spool_bytes: int = 512 * 1024 * 1024,
        durability: Durability = "full",
        timeout: float = 30.0,
        ack_timeout: float = 10.0,
        backoff: Backoff | None = None,
        transport: httpx.BaseTransport | None = None,
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._core = ClientCore(
            server,
            token,
            spool_path=spool_path,
            org=org,
            batch_size=batch_size,
            linger=linger,
            max_spool_events=max_spool_events,
            max_spool_bytes=max_spool_bytes,
            durability=durability,
            timeout=timeout,
            ack_timeout=ack_timeout,
            backoff=backoff,
            transport=transport,
            on_dead_letter=on_dead_letter,
            on_error=on_error,
            clock=clock,
        )

    def record(
        self,
        category: str,
        type_: str,
        /,
        *,
        subject: Ref,
        actor: Actor,
        parent: Ref | None = None,
        properties: Mapping[str, Any] | None = None,
        project: Ref | None = None,
        source_ip: str | None = None,
        timestamp: datetime | None = None,
        event_id: uuid.UUID | None = None,
        org: str | None = None,
        wait: bool = False,
    ) -> Receipt:
        """Record one event of ``category.type_`` (the typed methods call this).

        Returns a ``queued`` receipt once the event is in the spool, or, with ``wait=True``,
        the service's receipt once it is committed; if that takes longer than ``ack_timeout``
        it raises :class:`~auditledger.client.errors.NotAcknowledged`, which says whether the
        event was withdrawn. ``wait=True`` is for actions that must not proceed unaudited.
        """
        event = self._core.build(
            category,
            type_,
            subject=subject,
            actor=actor,
            parent=parent,
            properties=properties,
            project=project,
            source_ip=source_ip,
            timestamp=timestamp,
            event_id=event_id,
            org=org,
        )
        return self._submit(event, wait)

    def record_event(
        self, event: Mapping[str, Any], *, org: str | None = None, wait: bool = False
    ) -> Receipt:
        """Record an event given in the wire format of the ingestion API (a JSON object)."""
        return self._submit(self._core.build_wire(event, org), wait)

    def _submit(self, event: WireEvent, wait: bool) -> Receipt:
        if not wait:
            return self._core.enqueue(event)
        future = self._core.enqueue_expecting(event)
        try:
            return future.result(self._core.ack_timeout)
        except TimeoutError:
            return self._core.give_up(event.id, future)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every event recorded so far is delivered (or dead-lettered);
        :class:`~auditledger.client.errors.FlushTimeout` if that takes over ``timeout`` s."""
        self._core.check_open()
        self._core.sender.flush(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush for up to ``timeout`` seconds, then stop. Undelivered events stay in the spool
        file; with a memory-only spool they are lost and this raises ``FlushTimeout``."""
        self._core.close(timeout)

    @property
    def pending(self) -> int:
        """Events waiting in the spool."""
        return self._core.spool.pending

    @property
    def last_error(self) -> str | None:
        """Why the last attempt to deliver failed, or None when delivery works."""
        return self._core.sender.last_error

    def dead_letters(self) -> list[DeadLetter]:
        """Events the service refused for good, with its explanation, oldest first."""
        self._core.check_open()
        return self._core.spool.dead_letters()

    def __enter__(self) -> AuditClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
