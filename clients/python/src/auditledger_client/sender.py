"""The background sender: ships the spool to the service in order, one batch at a time.

One thread per client. It takes the oldest events (up to the batch size, waiting at most the
linger time for a batch to fill), sends them, and removes them only after a 2xx receipt.
Failures are handled as :mod:`auditledger_client.delivery` classifies them: transient ones are
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

log = logging.getLogger("auditledger_client")
T = TypeVar("T")


class Undeliverable(Exception):
    """Set on a ``wait=True`` future when the event cannot be committed before its caller's
    deadline (the connection is refused, or the service asked for a longer pause)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
        self._deadlines: dict[Future[Receipt], float] = {}
        # Set by a caller who waits (flush, wait=True): cut a backoff pause short and try now,
        # so that a service that is back is noticed at once instead of after up to `cap` s.
        self._kick = False
        self._on_exit: Callable[[], None] | None = None
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

    def expect(self, event_id: uuid.UUID, deadline: float) -> Future[Receipt]:
        """A future that completes with the event's receipt (or its rejection), or fails with
        :class:`Undeliverable` as soon as it is clear it cannot before ``deadline`` (a
        ``time.monotonic()`` value)."""
        future: Future[Receipt] = Future()
        with self._cond:
            self._waiters.setdefault(event_id, []).append(future)
            self._deadlines[future] = deadline
            self._kick = True
            self._cond.notify_all()
        return future

    def forget(self, event_id: uuid.UUID, future: Future[Receipt]) -> None:
        """Stop waiting for ``event_id`` through ``future``."""
        with self._cond:
            futures = self._waiters.get(event_id, [])
            if future in futures:
                futures.remove(future)
            self._deadlines.pop(future, None)
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
            self._kick = True
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

    def stop(self, timeout: float, on_exit: Callable[[], None] | None = None) -> None:
        """Keep sending for up to ``timeout`` seconds, then stop the thread; returns within
        ``timeout``. ``on_exit`` runs once the thread has ended: at once if it ends in time,
        else in the thread, after the request it has on the wire is answered (that answer
        decides what the spool keeps, so it is not cut off)."""
        with self._cond:
            self._stopping = True
            self._drain_deadline = time.monotonic() + timeout
            self._on_exit = on_exit
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._cond:
            if self._thread.is_alive() or self._on_exit is None:
                return
            callback, self._on_exit = self._on_exit, None
        callback()

    @property
    def stopped(self) -> bool:
        """Whether the thread has ended."""
        return not self._thread.is_alive()

    def _done_up_to(self, target: int) -> bool:
        first = self.spool.first_seq()
        return first is None or first > target

    # The background thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            with self._cond:
                callback, self._on_exit = self._on_exit, None
            if callback is not None:
                callback()

    def _loop(self) -> None:
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
                self._kick = False
            give_up: list[Future[Receipt]] = []
            try:
                outcome = self.deliverer.send(batch[0].org, [e.body for e in batch])
                delay = self._settle(batch, outcome)
                if isinstance(outcome, Retry) and delay is not None:
                    give_up = self._hopeless(batch, outcome, delay)
            except Exception as exc:  # never let the thread die: the spool would stall unseen
                log.exception("audit client sender failed; retrying")
                self._attempt += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                delay = self.backoff.delay(self._attempt - 1)
            with self._cond:
                self._in_flight = frozenset()
                self._cond.notify_all()
            # After the in-flight set is cleared, so that the callers can withdraw the events.
            for future in give_up:
                if not future.done():
                    future.set_exception(Undeliverable(self.last_error or "not delivered"))
            if delay:
                self._sleep(delay)

    def _hopeless(
        self, batch: list[SpooledEvent], outcome: Retry, delay: float
    ) -> list[Future[Receipt]]:
        """The waiting callers of ``batch`` whose event cannot be committed in their time:
        all of them when the connection was refused (nothing is listening), else those whose
        deadline comes before the next attempt."""
        next_attempt = time.monotonic() + delay
        with self._cond:
            return [
                future
                for event in batch
                for future in self._waiters.get(event.id, [])
                if outcome.refused or self._deadlines.get(future, 0.0) < next_attempt
            ]

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
                if remaining <= 0 or self._kick:
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
                    self._deadlines.pop(future, None)
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
                    self._deadlines.pop(future, None)
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
