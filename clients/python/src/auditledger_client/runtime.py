"""What the sync and async clients share: options, the spool, the sender and their lifecycle.

The async client is a facade over the same core (spool writes run in a worker thread), so
there is one implementation of ordering, retries and dead letters.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Self, TypeVar, Unpack

from .build import WireEvent
from .config import options_from_env
from .delivery import Deliverer
from .errors import ClientClosed, FlushTimeout, NotAcknowledged
from .model import DeadLetter, Receipt
from .options import ClientOptions, ResolvedOptions
from .recording import ClientRecorder
from .sender import Sender, Undeliverable
from .spool import Spool

log = logging.getLogger("auditledger_client")


class ClientCore:
    """The spool and its sender, with the options both clients take
    (:class:`~auditledger_client.options.ClientOptions`)."""

    def __init__(
        self, server: str, token: str, *, spool_path: str | Path | None, options: ClientOptions
    ) -> None:
        resolved = ResolvedOptions.of(options)
        self.org = resolved.org
        self.catalog = resolved.catalog
        self.ack_timeout = resolved.ack_timeout
        self.clock = resolved.the_clock()
        self.spool = Spool(
            spool_path,
            max_events=resolved.max_spool_events,
            max_bytes=resolved.max_spool_bytes,
            durability=resolved.durability,
        )
        self.deliverer = Deliverer(
            server, token, timeout=resolved.timeout, transport=resolved.transport
        )
        self.sender = Sender(
            self.spool,
            self.deliverer,
            batch_size=resolved.batch_size,
            linger=resolved.linger,
            backoff=resolved.backoff,
            on_dead_letter=resolved.on_dead_letter,
            on_error=resolved.on_error,
        )
        self.closed = False
        self.sender.start()

    def check_open(self) -> None:
        """:class:`ClientClosed` once the client is closed."""
        if self.closed:
            raise ClientClosed("the audit client is closed")

    def enqueue(self, event: WireEvent) -> Receipt:
        """Append to the spool (durably, unless memory-only) and wake the sender."""
        self.check_open()
        self.spool.append([event])
        self.sender.notify()
        return Receipt(event.id, event.org, "queued")

    def enqueue_expecting(self, event: WireEvent) -> Future[Receipt]:
        """Append and return a future for the service's receipt, due within ``ack_timeout``."""
        self.check_open()
        future = self.sender.expect(event.id, time.monotonic() + self.ack_timeout)
        try:
            self.enqueue(event)
        except BaseException:
            self.sender.forget(event.id, future)
            raise
        return future

    def settle(self, event_id: uuid.UUID, future: Future[Receipt]) -> Receipt:
        """After a wait ended without a receipt (timed out, or the sender gave up early because
        the service cannot be reached in time): withdraw the event if it is not on the wire,
        then raise :class:`NotAcknowledged` (or return the receipt if it arrived meanwhile)."""
        # Withdrawing first, atomically with the in-flight check, is what makes the answer
        # exact: an event that is neither in flight nor withdrawn has already been settled.
        withdrawn = self.sender.withdraw(event_id)
        reason = self.sender.last_error or "no answer in time"
        if future.done() and not future.cancelled():
            error = future.exception()
            if error is None and not withdrawn:
                return future.result()
            if isinstance(error, Undeliverable):
                reason = error.reason
            elif error is not None and not withdrawn:
                raise error
        self.sender.forget(event_id, future)
        raise NotAcknowledged(event_id, withdrawn, reason)

    def close(self, timeout: float) -> None:
        """Deliver what the spool holds, then stop; returns within ``timeout`` seconds.

        Whatever could not be delivered stays in a spool file for the next client that opens
        it; with a memory-only spool it is lost, and :class:`FlushTimeout` says so. A request
        still on the wire at the deadline is left to finish in the background (its answer
        decides what the spool keeps); the spool file is released when it has.
        """
        if self.closed:
            return
        self.closed = True
        deadline = time.monotonic() + max(0.0, timeout)
        unsent: FlushTimeout | None = None
        try:
            self.sender.flush(max(0.0, deadline - time.monotonic()))
        except FlushTimeout as exc:
            unsent = exc
        self.sender.stop(max(0.0, deadline - time.monotonic()), on_exit=self._release)
        if unsent is None:
            return
        if self.spool.durable:
            log.warning(
                "%d audit events remain in %s; they are sent when a client opens it again",
                unsent.pending,
                self.spool.path,
            )
            return
        raise FlushTimeout(
            f"{unsent.pending} audit events were not delivered and are lost "
            f"(memory-only spool): {unsent.message}",
            unsent.pending,
        )

    def _release(self) -> None:
        self.deliverer.close()
        self.spool.close()


R = TypeVar("R")


class CoreClient(ClientRecorder[R]):
    """What the sync and async clients have alike over their :class:`ClientCore`: how they
    are made (arguments, or the environment), and what they report. Each adds how it waits."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        spool_path: str | Path | None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self._core = ClientCore(server, token, spool_path=spool_path, options=options)
        self._org = self._core.org
        self._clock = self._core.clock
        self._catalog = self._core.catalog

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> Self:
        """A client configured from ``AUDITLEDGER_SERVER``, ``AUDITLEDGER_TOKEN``,
        ``AUDITLEDGER_SPOOL_PATH`` and the other variables of ``docs/integration.md``;
        keyword arguments win over the environment."""
        return cls(**options_from_env(environ, **options))

    def _check_open(self) -> None:
        self._core.check_open()

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
