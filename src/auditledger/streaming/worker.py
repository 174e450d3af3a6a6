"""The deliverer: one thread per server process that streams every active destination.

For each destination, in turn: take (or renew) its lease, sign or reuse a checkpoint of the
organization's log, build the next batch from the durable cursor, send it, and only then move
the cursor past it, as lease holder, in one UPDATE. So delivery is at least once: a crash after
sending and before that UPDATE re-sends the batch (receivers de-duplicate by event id), and a
crash at any point loses nothing. A failed send is retried with exponential backoff and jitter;
after ``max_attempts`` the destination is dead-lettered until an administrator retries it.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import literal

from auditledger.core.errors import AuditLedgerError
from auditledger.integrity.checkpointer import CheckpointService
from auditledger.store.database import Database
from auditledger.store.log import read_head
from auditledger.store.schema import destinations
from auditledger.streaming.batch import build_batch
from auditledger.streaming.model import Destination, State, check_allowed_target
from auditledger.streaming.repository import DestinationRepository
from auditledger.streaming.transports import DeliveryError, send
from auditledger.tenancy.repository import TenancyRepository

log = logging.getLogger(__name__)

BASE_DELAY = 0.5  # seconds before the first retry
MAX_DELAY = 300.0


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds before retry number ``attempts`` (1 = first): exponential, capped, full jitter
    over its upper half so many destinations failing together do not retry in step."""
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1))
    return float(ceiling / 2 + rng() * ceiling / 2)


def wall_clock() -> datetime:
    """Real time: leases are shared between processes, so they never use a test's clock."""
    return datetime.now(UTC)


class Deliverer:
    """Delivers every active destination of the deployment from this process."""

    def __init__(
        self,
        db: Database,
        repo: DestinationRepository,
        tenancy: TenancyRepository,
        checkpoints: CheckpointService,
        *,
        batch_events: int,
        max_attempts: int,
        lease_seconds: int,
        allowed_networks: tuple[str, ...],
        poll_seconds: float = 0.2,
        now: Callable[[], datetime] = wall_clock,
    ) -> None:
        self.db = db
        self.repo = repo
        self.tenancy = tenancy
        self.checkpoints = checkpoints
        self.batch_events = batch_events
        self.max_attempts = max_attempts
        self.lease = timedelta(seconds=lease_seconds)
        self.allowed_networks = allowed_networks
        self.poll_seconds = poll_seconds
        self.now = now
        self.owner = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Deliver in a background thread until :meth:`stop`."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="stream-deliverer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the batch in flight, hand every lease over, and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            for destination in self.repo.list():
                if destination.lease_owner == self.owner:
                    self.repo.release(destination.id, self.owner)
        except Exception:  # a database that is gone lets the leases simply expire
            log.warning("could not hand over streaming leases; they expire on their own")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the deliverer must outlive a database outage
                log.exception("streaming pass failed; retrying")
                busy = False
            if not busy:
                self._stop.wait(self.poll_seconds)

    def run_once(self) -> bool:
        """One pass over every destination; whether any batch was sent (more may wait)."""
        busy = False
        for destination in self.repo.list():
            if self._stop.is_set():
                break
            if self._due(destination) and self._deliver(destination):
                busy = True
        return busy

    def _due(self, destination: Destination) -> bool:
        if destination.state is not State.ACTIVE:
            return False
        return destination.next_attempt_at is None or destination.next_attempt_at <= self.now()

    def _deliver(self, destination: Destination) -> bool:
        now = self.now()
        if not self.repo.acquire(destination.id, self.owner, now, now + self.lease):
            return False
        # Re-read as holder: another process may have moved the cursor before we took over.
        current = self.repo.get(destination.org_id, destination.id)
        if current is None or not self._due(current):
            return False
        with self.db.read() as connection:
            if read_head(connection, current.org_id).tree_size <= current.next_seq:
                return False  # caught up: no checkpoint to sign, nothing to read
        org = self.tenancy.org_by_id(current.org_id)
        try:
            checkpoint, _ = self.checkpoints.checkpoint(org.id, org.slug)
        except AuditLedgerError as exc:
            log.warning("no checkpoint for %s: %s", org.slug, exc.message)
            return False
        if checkpoint.tree_size <= current.next_seq:
            return False
        with self.db.read() as connection:
            batch = build_batch(
                connection,
                current,
                org.slug,
                self.checkpoints.origin(org.slug),
                checkpoint,
                self.batch_events,
            )
        if batch.empty:
            # Nothing matched the filters: move on, but keep the range the next batch declares.
            self.repo.as_holder(current.id, self.owner, next_seq=batch.to_seq)
            return False
        try:
            check_allowed_target(current.transport, current.settings, self.allowed_networks)
            send(current, batch)
        except (DeliveryError, AuditLedgerError) as exc:
            self._failed(current, str(exc) if isinstance(exc, DeliveryError) else exc.message)
            return False
        done = self.now()
        acknowledged = self.repo.as_holder(
            current.id,
            self.owner,
            next_seq=batch.to_seq,
            batch_from=batch.to_seq,
            last_tree_size=batch.tree_size,
            delivered=destinations.c.delivered + literal(len(batch.records)),
            attempts=0,
            next_attempt_at=None,
            last_error=None,
            last_delivered_at=done,
            lease_expires=done + self.lease,
        )
        if not acknowledged:
            log.warning("lost the lease of destination %s mid-batch; it is re-sent", current.id)
        return acknowledged

    def _failed(self, destination: Destination, why: str) -> None:
        attempts = destination.attempts + 1
        dead = attempts >= self.max_attempts
        log.warning(
            "delivery to destination %s (%s) failed, attempt %d: %s",
            destination.name,
            destination.id,
            attempts,
            why,
        )
        self.repo.as_holder(
            destination.id,
            self.owner,
            attempts=attempts,
            failed=destinations.c.failed + literal(1),
            last_error=why[:1000],
            state=(State.DEAD if dead else State.ACTIVE).value,
            next_attempt_at=self.now() + timedelta(seconds=backoff(attempts)),
        )
