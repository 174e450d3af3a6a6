"""The asyncio client: the same core as :class:`~auditledger_client.AuditClient`, with the
spool's fsync'd writes moved off the event loop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx2 as httpx

from .backoff import Backoff
from .build import WireEvent, build_event, wire_event
from .config import options_from_env
from .core.catalog import Catalog
from .core.clock import Clock
from .model import Actor, DeadLetter, Receipt, Ref
from .runtime import ClientCore
from .spool import Durability
from .typed import Event


class AsyncAuditClient:
    """The asyncio face of :class:`~auditledger_client.AuditClient`; same options, same
    guarantees, same ``record``. Delivery runs in the same background thread, so a busy event
    loop never delays it, and ``await client.aclose()`` (or ``async with``) ends it cleanly."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        spool_path: str | Path | None,
        org: str | None = None,
        catalog: Catalog | None = None,
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
            catalog=catalog,
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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> AsyncAuditClient:
        """A client configured from the ``AUDITLEDGER_*`` environment variables (see
        :meth:`auditledger_client.AuditClient.from_env`)."""
        return cls(**options_from_env(environ, **options))

    async def record(
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
    ) -> Receipt:
        """Record one event; see :meth:`auditledger_client.AuditClient.record`."""
        core = self._core
        core.check_open()
        wire = build_event(
            event,
            org=org or core.org or "",
            subject=subject,
            actor=actor,
            clock=core.clock,
            catalog=core.catalog,
            project=project,
            source=source,
            timestamp=timestamp,
            event_id=event_id,
        )
        return await self._submit(wire, wait)

    async def record_event(
        self, event: Mapping[str, Any], *, org: str | None = None, wait: bool = False
    ) -> Receipt:
        """Record an event given in the wire format of the ingestion API."""
        core = self._core
        core.check_open()
        wire = wire_event(event, org=org or core.org or "", clock=core.clock, catalog=core.catalog)
        return await self._submit(wire, wait)

    async def _submit(self, event: WireEvent, wait: bool) -> Receipt:
        if not wait:
            return await asyncio.to_thread(self._core.enqueue, event)
        future: Future[Receipt] = await asyncio.to_thread(self._core.enqueue_expecting, event)
        waiter = asyncio.wrap_future(future)
        # An outcome that arrives after we stopped waiting is settled by settle(); reading it
        # here keeps asyncio from reporting a "never retrieved" exception at garbage collection.
        waiter.add_done_callback(_retrieve)
        # asyncio.wait, not wait_for: on timeout the concurrent future must stay alive (waiting
        # for it to be cancelled would cancel it), since settle() decides from it.
        done, _ = await asyncio.wait([waiter], timeout=self._core.ack_timeout)
        if waiter in done and waiter.exception() is None:
            return waiter.result()
        return await asyncio.to_thread(self._core.settle, event.id, future)

    # The timeout is a parameter (not asyncio.timeout) because the waiting happens in a
    # worker thread, which cancellation cannot stop.
    async def flush(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until every event recorded so far is delivered (or dead-lettered)."""
        self._core.check_open()
        await asyncio.to_thread(self._core.sender.flush, timeout)

    async def aclose(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Flush, then stop, within ``timeout`` seconds (see ``AuditClient.close``)."""
        await asyncio.to_thread(self._core.close, timeout)

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

    async def __aenter__(self) -> AsyncAuditClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _retrieve(future: asyncio.Future[Receipt]) -> None:
    if not future.cancelled():
        future.exception()
