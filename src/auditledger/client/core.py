"""What the sync and async clients share: options, the spool, the sender and their lifecycle.

The async client is a facade over the same core (spool writes run in a worker thread), so
there is one implementation of ordering, retries and dead letters.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx

from auditledger.clock import Clock, SystemClock

from .backoff import Backoff
from .build import WireEvent, build_event, wire_event
from .delivery import Deliverer
from .errors import ClientClosed, FlushTimeout, NotAcknowledged
from .model import Actor, DeadLetter, Receipt, Ref
from .sender import Sender
from .spool import Durability, Spool

log = logging.getLogger("auditledger.client")


class ClientCore:
    """The spool and its sender, with the options both clients take (see :class:`AuditClient`)."""

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
        self.org = org
        self.ack_timeout = ack_timeout
        self.clock = clock or SystemClock()
        self.spool = Spool(
            spool_path,
            max_events=max_spool_events,
            max_bytes=max_spool_bytes,
            durability=durability,
        )
        self.deliverer = Deliverer(server, token, timeout=timeout, transport=transport)
        self.sender = Sender(
            self.spool,
            self.deliverer,
            batch_size=batch_size,
            linger=linger,
            backoff=backoff,
            on_dead_letter=on_dead_letter,
            on_error=on_error,
        )
        self.closed = False
        self.sender.start()

    def build(
        self,
        category: str,
        type_: str,
        *,
        subject: Ref,
        actor: Actor,
        parent: Ref | None,
        properties: Mapping[str, Any] | None,
        project: Ref | None,
        source_ip: str | None,
        timestamp: datetime | None,
        event_id: uuid.UUID | None,
        org: str | None,
    ) -> WireEvent:
        """A validated event (raises at the call site when it is not valid)."""
        self.check_open()
        return build_event(
            category,
            type_,
            org=org or self.org or "",
            subject=subject,
            actor=actor,
            clock=self.clock,
            parent=parent,
            properties=properties,
            project=project,
            source_ip=source_ip,
            timestamp=timestamp,
            event_id=event_id,
        )

    def build_wire(self, event: Mapping[str, Any], org: str | None) -> WireEvent:
        """A validated event from a wire-format mapping."""
        self.check_open()
        return wire_event(event, org=org or self.org or "", clock=self.clock)

    def check_open(self) -> None:
        """:class:`ClientClosed` once the client is closed."""
        if self.closed:
            raise ClientClosed("the audit client is closed")

    def enqueue(self, event: WireEvent) -> Receipt:
        """Append to the spool (durably, unless memory-only) and wake the sender."""
        self.spool.append([event])
        self.sender.notify()
        return Receipt(event.id, event.org, "queued")

    def enqueue_expecting(self, event: WireEvent) -> Future[Receipt]:
        """Append and return a future for the service's receipt."""
        future = self.sender.expect(event.id)
        try:
            self.enqueue(event)
        except BaseException:
            self.sender.forget(event.id, future)
            raise
        return future

    def give_up(self, event_id: uuid.UUID, future: Future[Receipt]) -> Receipt:
        """After a wait timed out: withdraw the event if it is not on the wire, then raise
        :class:`NotAcknowledged` (or return the receipt if it arrived meanwhile)."""
        # Withdrawing first, atomically with the in-flight check, is what makes the answer
        # exact: an event that is neither in flight nor withdrawn has already been settled.
        withdrawn = self.sender.withdraw(event_id)
        if not withdrawn and future.done():
            return future.result()
        self.sender.forget(event_id, future)
        reason = self.sender.last_error or "no answer in time"
        raise NotAcknowledged(event_id, withdrawn, reason)

    def close(self, timeout: float) -> None:
        """Deliver what the spool holds (up to ``timeout`` seconds), then stop.

        Whatever could not be delivered stays in a spool file for the next client that opens
        it; with a memory-only spool it is lost, and :class:`FlushTimeout` says so.
        """
        if self.closed:
            return
        self.closed = True
        unsent: FlushTimeout | None = None
        try:
            self.sender.flush(timeout)
        except FlushTimeout as exc:
            unsent = exc
        self.sender.stop(0.0)
        self.deliverer.close()
        if self.sender.stopped:
            self.spool.close()
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
