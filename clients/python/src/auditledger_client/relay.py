"""The relay: ships outbox rows to the service, in order, at least once, and marks them sent.

Each step claims the oldest pending rows in a transaction, sends them as one batch and marks
them sent (or rejected) in that same transaction. On PostgreSQL the claim is
``SELECT ... FOR UPDATE SKIP LOCKED``, so several relays can run side by side: each row is
claimed by one of them, and a relay that dies mid-send releases its rows to the others. (Each
relay keeps its own batches in order; with several relays, batches may interleave.) SQLite has
no row locks and serializes writers, so run one relay per SQLite file; a second one would only
resend events the service then recognises as duplicates.

A crash after the service committed a batch but before the rows were marked sent means the
batch is sent again: the service answers ``duplicate`` for those ids and stores nothing twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2 as httpx
from sqlalchemy import Connection, Engine, MetaData, Table, select, update

from auditledger_client.core.clock import Clock, SystemClock

from .backoff import Backoff
from .delivery import Delivered, Deliverer, Rejected, Retry
from .outbox import DEFAULT_TABLE, outbox_table, pending_clause
from .sender import MAX_BATCH_BYTES, MAX_BATCH_EVENTS

log = logging.getLogger("auditledger.relay")


@dataclass
class RelayStats:
    """What a relay did: events stored, already stored (resent), refused for good."""

    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    last_error: str | None = None
    rejections: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Events the service acknowledged."""
        return self.created + self.duplicates


@dataclass(frozen=True)
class _Step:
    progress: bool  # False when nothing was pending or the service could not be reached
    retry_after: float | None = None
    failed: bool = False


@dataclass(frozen=True)
class _Row:
    id: int
    event_id: str
    org: str
    body: str


class Relay:
    """Ships an outbox table of ``engine``'s database to the service."""

    def __init__(
        self,
        engine: Engine,
        server: str,
        token: str,
        *,
        table: Table | str = DEFAULT_TABLE,
        org: str | None = None,
        batch_size: int = 500,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
        on_rejected: Callable[[str], None] | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_EVENTS:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_EVENTS}")
        self.engine = engine
        self.table = table if isinstance(table, Table) else outbox_table(MetaData(), table)
        self.org = org
        self.batch_size = batch_size
        self.deliverer = Deliverer(server, token, timeout=timeout, transport=transport)
        self.backoff = backoff or Backoff()
        self.clock = clock or SystemClock()
        self.on_rejected = on_rejected
        self.stats = RelayStats()
        self._attempt = 0
        # After a rejection that names no event, rows up to this id go one at a time so that
        # the refused one can be told apart from the good ones.
        self._solo_until = 0
        self._lock_rows = engine.dialect.name == "postgresql"

    def run_once(self) -> RelayStats:
        """Ship everything pending now; stop at the first failure to reach the service.

        Returns what was done; ``last_error`` is set when pending rows could not be shipped.
        """
        self.stats.last_error = None
        while True:
            step = self.step()
            if not step.progress:
                return self.stats

    def run(self, stop: threading.Event, poll_interval: float = 1.0) -> None:
        """Ship continuously until ``stop`` is set, backing off while the service is away."""
        while not stop.is_set():
            try:
                step = self.step()
            except Exception as exc:  # the platform database may be briefly unavailable
                log.exception("relay step failed; retrying")
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self._attempt += 1
                stop.wait(self.backoff.delay(self._attempt - 1))
                continue
            if step.failed:
                stop.wait(self.backoff.delay(self._attempt - 1, step.retry_after))
            elif not step.progress:
                stop.wait(poll_interval)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.deliverer.close()

    def step(self) -> _Step:
        """Claim, send and settle one batch."""
        with self.engine.connect() as conn, conn.begin():
            batch = self._claim(conn)
            if not batch:
                return _Step(progress=False)
            org = batch[0].org
            outcome = self.deliverer.send(org, [row.body for row in batch])
            if isinstance(outcome, Delivered):
                self._mark_sent(conn, batch)
                self.stats.created += sum(r.status == "created" for r in outcome.receipts)
                self.stats.duplicates += sum(r.status == "duplicate" for r in outcome.receipts)
                self._attempt = 0
                self._end_solo(batch)
                return _Step(progress=True)
            if isinstance(outcome, Retry):
                self._note_failure(conn, batch, outcome.reason)
                self._attempt += 1
                self.stats.last_error = outcome.reason
                log.warning("relay could not deliver %d events: %s", len(batch), outcome.reason)
                return _Step(False, outcome.retry_after, failed=True)
            self._reject(conn, batch, outcome)
            return _Step(progress=True)

    def _end_solo(self, batch: list[_Row]) -> None:
        if self._solo_until and batch[-1].id >= self._solo_until:
            self._solo_until = 0

    def _claim(self, conn: Connection) -> list[_Row]:
        t = self.table
        query = (
            select(t.c.id, t.c.event_id, t.c.org, t.c.body)
            .where(pending_clause(t))
            .order_by(t.c.id)
            .limit(1 if self._solo_until else self.batch_size)
        )
        if self.org is not None:
            query = query.where(t.c.org == self.org)
        if self._lock_rows:
            query = query.with_for_update(skip_locked=True)
        batch: list[_Row] = []
        size = 0
        for row_id, event_id, org, body in conn.execute(query):
            length = len(body.encode("utf-8"))
            if batch and (org != batch[0].org or size + length > MAX_BATCH_BYTES):
                break
            batch.append(_Row(row_id, event_id, org, body))
            size += length
        return batch

    def _mark_sent(self, conn: Connection, batch: list[_Row]) -> None:
        t = self.table
        conn.execute(
            update(t)
            .where(t.c.id.in_([row.id for row in batch]))
            .values(sent_at=self.clock.now(), attempts=t.c.attempts + 1, last_error=None)
        )

    def _note_failure(self, conn: Connection, batch: list[_Row], reason: str) -> None:
        t = self.table
        conn.execute(
            update(t)
            .where(t.c.id.in_([row.id for row in batch]))
            .values(attempts=t.c.attempts + 1, last_error=reason[:2000])
        )

    def _reject(self, conn: Connection, batch: list[_Row], outcome: Rejected) -> None:
        if outcome.culprits is None:
            self._solo_until = batch[-1].id
            return
        t = self.table
        for index, problems in sorted(outcome.culprits.items()):
            row = batch[index]
            detail = "; ".join(f"{p.field}: {p.message}" for p in problems)
            reason = f"{outcome.status} {outcome.code}: {outcome.message} ({detail})"
            conn.execute(
                update(t)
                .where(t.c.id == row.id)
                .values(rejected_at=self.clock.now(), last_error=reason[:2000])
            )
            self.stats.rejected += 1
            self.stats.rejections.append(f"{row.event_id}: {reason}")
            log.error("audit event %s rejected for good: %s", row.event_id, reason)
            if self.on_rejected is not None:
                self.on_rejected(f"{row.event_id}: {reason}")
        self._end_solo(batch)
