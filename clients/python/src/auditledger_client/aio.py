"""The asyncio client: the same core as :class:`~auditledger_client.AuditClient`, with the
spool's fsync'd writes moved off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import Future
from types import TracebackType
from typing import Any

from .build import WireEvent
from .model import Receipt
from .runtime import CoreClient


class AsyncAuditClient(CoreClient[Coroutine[Any, Any, Receipt]]):
    """The asyncio face of :class:`~auditledger_client.AuditClient`; same options, same
    guarantees, same ``record`` (``await client.record(...)``; an invalid event raises at the
    call, before anything is awaited). Delivery runs in the same background thread, so a busy event
    loop never delays it, and ``await client.aclose()`` (or ``async with``) ends it cleanly."""

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
