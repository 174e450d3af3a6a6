"""Group commit: one writer thread turns many concurrent requests into few transactions.

Requests wait in a bounded queue. The writer takes everything waiting (up to a limit), appends
it in one transaction and only then resolves each request's future, so every acknowledgement
follows a durable commit while the cost of that commit (an fsync on SQLite, a WAL flush on
PostgreSQL) is shared. There is no artificial delay: while one commit runs, the next group
gathers by itself, so batches grow with load and a lone request is not made to wait.

The queue is bounded in *events*. When it is full, ``submit`` refuses at once (the caller
answers 503 with Retry-After) instead of holding more in memory or dropping anything.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from auditledger.core.errors import Overloaded, Unavailable
from auditledger.ops.metrics import Metrics
from auditledger.store.log import AppendRequest, AppendResult, EventLog, Receipt

log = logging.getLogger(__name__)


@dataclass
class _Item:
    """A queued request and who waits for it: a thread (``future``) or a coroutine
    (``waiter``, on ``loop``)."""

    request: AppendRequest
    future: Future[AppendResult] | None = None
    waiter: asyncio.Future[AppendResult] | None = None
    loop: asyncio.AbstractEventLoop | None = None


# A request's result, or the exception its caller gets.
_Outcome = tuple[_Item, "AppendResult | BaseException"]


def _settle_waiters(outcomes: list[_Outcome]) -> None:
    # On the event loop: one call for a whole commit's coroutines.
    for item, outcome in outcomes:
        waiter = item.waiter
        if waiter is None or waiter.done():  # its caller gave up (cancelled)
            continue
        if isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


class GroupCommitWriter:
    """A bounded queue and the thread that commits it."""

    def __init__(
        self,
        log_store: EventLog,
        metrics: Metrics,
        *,
        capacity_events: int = 20_000,
        max_commit_events: int = 2_000,
    ) -> None:
        self._log = log_store
        self._metrics = metrics
        self._capacity = capacity_events
        self._max_commit = max_commit_events
        self._queue: deque[_Item] = deque()
        self._queued_events = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def queued_events(self) -> int:
        """Events waiting for a commit."""
        return self._queued_events

    def start(self) -> None:
        """Start the writer thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="auditledger-writer", daemon=True
            )
            self._thread.start()

    def submit(self, request: AppendRequest) -> Future[AppendResult]:
        """Queue a request; the future resolves after its commit (or with an error)."""
        item = _Item(request, future=Future())
        self._enqueue(item)
        assert item.future is not None
        return item.future

    def submit_waiter(self, request: AppendRequest) -> asyncio.Future[AppendResult]:
        """:meth:`submit` for a coroutine: a future of the running loop. The writer settles
        every such future of one commit with one wake-up of their loop, where one
        ``asyncio.wrap_future`` per request cost a wake-up (a write to the loop's self-pipe,
        its read, a callback) per request."""
        loop = asyncio.get_running_loop()
        item = _Item(request, waiter=loop.create_future(), loop=loop)
        self._enqueue(item)
        assert item.waiter is not None
        return item.waiter

    def _enqueue(self, item: _Item) -> None:
        request = item.request
        size = len(request.events)
        with self._cond:
            if self._stopping or self._thread is None:
                raise Unavailable("the service is shutting down", retry_after=2)
            if self._queued_events and self._queued_events + size > self._capacity:
                raise Overloaded(
                    f"{self._queued_events} events are waiting to be committed; "
                    "retry after the indicated delay",
                    retry_after=1,
                )
            self._queue.append(item)
            self._queued_events += size
            self._metrics.queue_events.set(self._queued_events)
            self._cond.notify()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking requests, commit what is queued, and stop the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _take(self) -> list[_Item] | None:
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return None
                self._cond.wait()
            items = [self._queue.popleft()]
            events = len(items[0].request.events)
            while self._queue and events + len(self._queue[0].request.events) <= self._max_commit:
                item = self._queue.popleft()
                events += len(item.request.events)
                items.append(item)
            return items

    def _run(self) -> None:
        while True:
            items = self._take()
            if items is None:
                return
            try:
                self._commit(items)
            finally:
                with self._cond:
                    self._queued_events -= sum(len(i.request.events) for i in items)
                    self._metrics.queue_events.set(self._queued_events)

    def _commit(self, items: list[_Item]) -> None:
        started = time.perf_counter()
        try:
            results = self._log.append([i.request for i in items])
        except (OperationalError, PoolTimeout) as exc:
            # The database is unreachable or refused the transaction: nothing was committed
            # (or, if the connection died during COMMIT, the retry will find it stored).
            self._metrics.commit_failures.inc()
            log.warning("group commit failed: database unavailable: %s", _first_line(exc))
            error = Unavailable("the database is unavailable; nothing was stored", retry_after=2)
            self._settle([(item, error) for item in items])
            return
        except DBAPIError as exc:
            self._metrics.commit_failures.inc()
            if len(items) > 1:
                # One request must not sink the others: commit them one by one.
                log.warning("group commit failed, retrying singly: %s", _first_line(exc))
                for item in items:
                    self._commit([item])
                return
            log.error("commit failed: %s", _first_line(exc))
            failed = Unavailable("the event could not be committed; nothing was stored")
            self._settle([(items[0], failed)])
            return
        except Exception as exc:  # never leave a caller waiting forever
            self._metrics.commit_failures.inc()
            log.exception("commit failed unexpectedly")
            self._settle([(item, exc) for item in items])
            return
        self._metrics.commit_seconds.observe(time.perf_counter() - started)
        committed = 0
        for result in results:
            if isinstance(result, list):
                new = sum(1 for r in result if isinstance(r, Receipt) and not r.duplicate)
                committed += new
                self._metrics.events_duplicate.inc(len(result) - new)
        self._metrics.commit_events.observe(committed)
        self._metrics.events_accepted.inc(committed)
        self._settle(list(zip(items, results, strict=True)))

    @staticmethod
    def _settle(outcomes: list[_Outcome]) -> None:
        """Hand each request its outcome: threads at once, coroutines one loop call each."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for item, outcome in outcomes:
            if item.loop is not None:
                by_loop.setdefault(item.loop, []).append((item, outcome))
            elif item.future is not None:
                if isinstance(outcome, BaseException):
                    item.future.set_exception(outcome)
                else:
                    item.future.set_result(outcome)
        for loop, waiting in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_waiters, waiting)
            except RuntimeError:  # the loop is closed: nobody is left to wait
                log.warning("%d results had no event loop to go to", len(waiting))


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
