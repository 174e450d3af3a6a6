"""The background sender: ships the spool to the service in order, one batch at a time.

One thread per client. It takes the oldest events (up to the batch size, waiting at most the
linger time for a batch to fill), sends them, and removes them only after a 2xx receipt.
Failures are handled as :mod:`auditledger.client.delivery` classifies them: transient ones are
retried with backoff, permanent ones become dead letters, and configuration problems hold the
spool until fixed. Batches never overlap, so the service receives events in spool order.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from .backoff import Backoff
from .delivery import Delivered, Deliverer, Outcome, Rejected, Retry
from .errors import EventRejected, FlushTimeout
from .model import DeadLetter, Receipt
from .spool import Spool, SpooledEvent

log = logging.getLogger("auditledger.client")
T = TypeVar("T")

# The service takes at most 1,000 events and 10 MiB per request.
MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = 8 * 1024 * 1024


class Sender:
    """Moves events from a :class:`Spool` to the service through a :class:`Deliverer`."""

    def __init__(
        self,
        spool: Spool,
        deliverer: Deliverer,
        *,
        batch_size: int = 500,
        linger: float = 0.2,
        backoff: Backoff | None = None,
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_EVENTS:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_EVENTS}")
        self.spool = spool
        self.deliverer = deliverer
        self.batch_size = batch_size
        self.linger = linger
        self.backoff = backoff or Backoff()
        self.on_dead_letter = on_dead_letter
        self.on_error = on_error
        self.last_error: str | None = None
        self._cond = threading.Condition()
        self._waiters: dict[uuid.UUID, list[Future[Receipt]]] = {}
        self._in_flight: frozenset[uuid.UUID] = frozenset()
        self._flushing = 0
        self._stopping = False
        self._drain_deadline = 0.0
        self._attempt = 0
        # After a rejection that names no event, events up to this position go one at a time
        # so that the refused one can be told apart from the good ones.
        self._solo_until = 0
        self._thread = threading.Thread(target=self._run, name="auditledger-sender", daemon=True)

    def start(self) -> None:
        """Start the background thread."""
        self._thread.start()

    # Called from the platform's threads ------------------------------------------------------

    def notify(self) -> None:
        """New events are in the spool."""
        with self._cond:
            self._cond.notify_all()

    def expect(self, event_id: uuid.UUID) -> Future[Receipt]:
        """A future that completes with the event's receipt (or its rejection)."""
        future: Future[Receipt] = Future()
        with self._cond:
            self._waiters.setdefault(event_id, []).append(future)
        return future

    def forget(self, event_id: uuid.UUID, future: Future[Receipt]) -> None:
        """Stop waiting for ``event_id`` through ``future``."""
        with self._cond:
            futures = self._waiters.get(event_id, [])
            if future in futures:
                futures.remove(future)
            if not futures:
                self._waiters.pop(event_id, None)

    def withdraw(self, event_id: uuid.UUID) -> bool:
        """Take an event back out of the spool unless it is on the wire right now."""
        with self._cond:
            if event_id in self._in_flight:
                return False
            return self.spool.withdraw(event_id)

    def flush(self, timeout: float) -> None:
        """Wait until every event recorded before this call is delivered or dead-lettered."""
        target = self.spool.last_seq()
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while not self._done_up_to(target):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._thread.is_alive():
                        pending = self.spool.pending
                        raise FlushTimeout(
                            f"{pending} events are still waiting to be delivered"
                            + (f" (last problem: {self.last_error})" if self.last_error else ""),
                            pending,
                        )
                    self._cond.wait(remaining)
            finally:
                self._flushing -= 1

    def stop(self, timeout: float) -> None:
        """Keep sending for up to ``timeout`` seconds, then stop the thread."""
        with self._cond:
            self._stopping = True
            self._drain_deadline = time.monotonic() + timeout
            self._cond.notify_all()
        if self._thread.is_alive():
            # Allow a request in progress to finish: its answer decides what the spool holds.
            self._thread.join(timeout + 60)

    @property
    def stopped(self) -> bool:
        """Whether the thread has ended."""
        return not self._thread.is_alive()

    def _done_up_to(self, target: int) -> bool:
        first = self.spool.first_seq()
        return first is None or first > target

    # The background thread -------------------------------------------------------------------

    def _run(self) -> None:
        linger_until: float | None = None
        while True:
            with self._cond:
                if self._stopping and time.monotonic() >= self._drain_deadline:
                    return
                limit = 1 if self._solo_until else self.batch_size
                batch = self.spool.head(limit, MAX_BATCH_BYTES)
                if not batch:
                    if self._stopping:
                        return
                    linger_until = None
                    self._cond.wait()
                    continue
                if not self._send_now(batch):
                    now = time.monotonic()
                    linger_until = linger_until or now + self.linger
                    if now < linger_until:
                        self._cond.wait(linger_until - now)
                        continue
                linger_until = None
                self._in_flight = frozenset(e.id for e in batch)
            try:
                delay = self._settle(
                    batch, self.deliverer.send(batch[0].org, [e.body for e in batch])
                )
            except Exception as exc:  # never let the thread die: the spool would stall unseen
                log.exception("audit client sender failed; retrying")
                self._attempt += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                delay = self.backoff.delay(self._attempt - 1)
            with self._cond:
                self._in_flight = frozenset()
                self._cond.notify_all()
            if delay:
                self._sleep(delay)

    def _send_now(self, batch: list[SpooledEvent]) -> bool:
        return (
            len(batch) >= self.batch_size
            or self.spool.pending > len(batch)  # cut short by another organization or by size
            or self._stopping
            or self._flushing > 0
            or bool(self._waiters)
            or self._solo_until > 0
        )

    def _sleep(self, delay: float) -> None:
        end = time.monotonic() + delay
        with self._cond:
            while True:
                limit = min(end, self._drain_deadline) if self._stopping else end
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)

    def _settle(self, batch: list[SpooledEvent], outcome: Outcome) -> float | None:
        if isinstance(outcome, Delivered):
            self._delivered(batch, outcome.receipts)
            return None
        if isinstance(outcome, Retry):
            return self._retry(outcome)
        self._rejected(batch, outcome)
        return None

    def _delivered(self, batch: list[SpooledEvent], receipts: list[Receipt]) -> None:
        self.spool.remove(batch)
        if self.last_error is not None:
            log.info("audit service accepts events again")
        self.last_error = None
        self._attempt = 0
        if self._solo_until and batch[-1].seq >= self._solo_until:
            self._solo_until = 0
        with self._cond:
            for receipt in receipts:
                for future in self._waiters.pop(receipt.id, []):
                    if not future.done():  # an async caller may have given up on it
                        future.set_result(receipt)

    def _retry(self, outcome: Retry) -> float:
        if self.last_error is None or outcome.hold:
            log.warning("audit events not delivered, will retry: %s", outcome.reason)
        self.last_error = outcome.reason
        if outcome.hold and self.on_error is not None:
            _call(self.on_error, outcome.reason)
        self._attempt += 1
        return self.backoff.delay(self._attempt - 1, outcome.retry_after)

    def _rejected(self, batch: list[SpooledEvent], outcome: Rejected) -> None:
        if outcome.culprits is None:
            self._solo_until = batch[-1].seq
            return
        for index, problems in sorted(outcome.culprits.items()):
            event = batch[index]
            letter = self.spool.bury(event, outcome.status, outcome.code, outcome.message, problems)
            log.error(
                "audit event %s rejected for good (%s %s): %s %s",
                event.id,
                outcome.status,
                outcome.code,
                outcome.message,
                "; ".join(f"{p.field}: {p.message}" for p in problems),
            )
            error = EventRejected(event.id, outcome.status, outcome.code, outcome.message, problems)
            with self._cond:
                for future in self._waiters.pop(event.id, []):
                    if not future.done():
                        future.set_exception(error)
            if self.on_dead_letter is not None:
                _call(self.on_dead_letter, letter)
        if self._solo_until and batch[-1].seq >= self._solo_until:
            self._solo_until = 0


def _call(callback: Callable[[T], None], arg: T) -> None:
    try:
        callback(arg)
    except Exception:
        log.exception("an audit client callback failed")
