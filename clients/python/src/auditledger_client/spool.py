"""The spool: events waiting to be delivered, in a SQLite file, first in first out.

Every event is committed to the spool before ``record()`` returns, so an event the platform
recorded survives the service being down, the network failing and this process being killed.
The file is opened in WAL mode with ``synchronous=FULL`` (each append is fsync'd; ``normal``
trades a power-loss window for speed and still survives the process dying) and with
SQLite's exclusive locking mode, so two clients can never ship the same spool at once.

``path=None`` keeps the same tables in memory: the same order and semantics, but nothing
survives the process.

Events refused for good by the service move, in the same transaction, to ``dead_letters`` with
the service's explanation: never silently dropped, never retried forever.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from auditledger_client.core.errors import Problem

from .build import WireEvent
from .errors import DuplicateEvent, SpoolFull, SpoolLocked
from .model import DeadLetter

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    org TEXT NOT NULL,
    body TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    org TEXT NOT NULL,
    body TEXT NOT NULL,
    status INTEGER NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    problems TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
"""

Durability = Literal["full", "normal"]


@dataclass(frozen=True)
class SpooledEvent:
    """An event in the spool; ``seq`` orders the spool."""

    seq: int
    id: uuid.UUID
    org: str
    body: str
    bytes: int


class Spool:
    """A bounded FIFO of events with a dead-letter table. Thread-safe."""

    def __init__(
        self,
        path: str | Path | None,
        *,
        max_events: int = 100_000,
        max_bytes: int = 512 * 1024 * 1024,
        durability: Durability = "full",
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._conn = self._open(durability)
        count, size = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM spool"
        ).fetchone()
        # Kept in memory: the exclusive lock means nobody else changes the file under us.
        self._count = int(count)
        self._bytes = int(size)

    def _open(self, durability: Durability) -> sqlite3.Connection:
        target = str(self.path) if self.path is not None else ":memory:"
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=0.5)
        try:
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            if self.path is not None:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
            conn.executescript(_SCHEMA)
            # A write takes the exclusive lock now (and holds it until close), so a second
            # client fails here rather than when both start sending the same events.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("PRAGMA user_version = 1")
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" in str(exc):
                raise SpoolLocked(
                    f"the spool {target} is in use by another client; each client needs its "
                    "own spool file"
                ) from None
            raise
        return conn

    @property
    def pending(self) -> int:
        """How many events wait to be delivered."""
        return self._count

    @property
    def durable(self) -> bool:
        """Whether the spool is a file (False: memory only)."""
        return self.path is not None

    def append(self, events: Sequence[WireEvent]) -> None:
        """Add ``events`` at the end, all or none; :class:`SpoolFull` when over a bound."""
        sizes = [len(e.body.encode("utf-8")) for e in events]
        now = datetime.now(UTC).isoformat()
        with self._lock:
            if self._count + len(events) > self.max_events:
                raise SpoolFull(
                    f"the spool holds {self._count} events (at most {self.max_events}); "
                    "the audit service has not accepted events for a while"
                )
            if self._bytes + sum(sizes) > self.max_bytes:
                raise SpoolFull(
                    f"the spool holds {self._bytes} bytes of events (at most {self.max_bytes})"
                )
            try:
                self._insert(events, sizes, now)
            except sqlite3.IntegrityError:
                raise DuplicateEvent(self._duplicate(events)) from None
            self._count += len(events)
            self._bytes += sum(sizes)

    def _insert(self, events: Sequence[WireEvent], sizes: list[int], now: str) -> None:
        with self._transaction():
            self._conn.executemany(
                "INSERT INTO spool (event_id, org, body, bytes, recorded_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(str(e.id), e.org, e.body, n, now) for e, n in zip(events, sizes, strict=True)],
            )

    def _duplicate(self, events: Sequence[WireEvent]) -> uuid.UUID:
        # Only the event_id is unique; find which one (or a repeat within ``events``).
        seen: set[uuid.UUID] = set()
        for event in events:
            row = self._conn.execute(
                "SELECT 1 FROM spool WHERE event_id = ?", (str(event.id),)
            ).fetchone()
            if row is not None or event.id in seen:
                return event.id
            seen.add(event.id)
        return events[0].id

    def head(self, max_events: int, max_bytes: int) -> list[SpooledEvent]:
        """The oldest events that can travel together: one organization, within both limits
        (always at least one event when the spool is not empty)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, event_id, org, body, bytes FROM spool ORDER BY seq LIMIT ?",
                (max_events,),
            ).fetchall()
        batch: list[SpooledEvent] = []
        total = 0
        for seq, event_id, org, body, size in rows:
            if batch and (org != batch[0].org or total + size > max_bytes):
                break
            batch.append(SpooledEvent(seq, uuid.UUID(event_id), org, body, size))
            total += size
        return batch

    def last_seq(self) -> int:
        """The position of the newest event ever appended (0 for a new spool)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'spool'"
            ).fetchone()
        return int(row[0]) if row else 0

    def first_seq(self) -> int | None:
        """The position of the oldest waiting event, or None when the spool is empty."""
        with self._lock:
            row = self._conn.execute("SELECT MIN(seq) FROM spool").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def remove(self, events: Iterable[SpooledEvent]) -> None:
        """Delete delivered events."""
        events = list(events)
        with self._lock, self._transaction():
            self._conn.executemany("DELETE FROM spool WHERE seq = ?", [(e.seq,) for e in events])
            self._forget(events)

    def withdraw(self, event_id: uuid.UUID) -> bool:
        """Take a not-yet-sent event back out; False if it is no longer in the spool."""
        with self._lock, self._transaction():
            row = self._conn.execute(
                "DELETE FROM spool WHERE event_id = ? RETURNING bytes", (str(event_id),)
            ).fetchone()
            if row is None:
                return False
            self._count -= 1
            self._bytes -= int(row[0])
            return True

    def bury(
        self,
        event: SpooledEvent,
        status: int,
        code: str,
        message: str,
        problems: Sequence[Problem],
    ) -> DeadLetter:
        """Move ``event`` to the dead letters with the service's explanation."""
        failed_at = datetime.now(UTC)
        problems_json = json.dumps([p.as_dict() for p in problems], ensure_ascii=False)
        with self._lock, self._transaction():
            self._conn.execute("DELETE FROM spool WHERE seq = ?", (event.seq,))
            self._conn.execute(
                "INSERT INTO dead_letters "
                "(event_id, org, body, status, code, message, problems, failed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(event.id),
                    event.org,
                    event.body,
                    status,
                    code,
                    message,
                    problems_json,
                    failed_at.isoformat(),
                ),
            )
            self._forget([event])
        return DeadLetter(
            event.id,
            event.org,
            json.loads(event.body),
            status,
            code,
            message,
            list(problems),
            failed_at,
        )

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT event_id, org, body, status, code, message, problems, failed_at "
                "FROM dead_letters ORDER BY seq"
            ).fetchall()
        return [
            DeadLetter(
                uuid.UUID(event_id),
                org,
                json.loads(body),
                int(status),
                code,
                message,
                [Problem(p["field"], p["message"]) for p in json.loads(problems)],
                datetime.fromisoformat(failed_at),
            )
            for event_id, org, body, status, code, message, problems, failed_at in rows
        ]

    def close(self) -> None:
        """Close the file (and release its lock)."""
        with self._lock:
            self._conn.close()

    def _forget(self, events: Sequence[SpooledEvent]) -> None:
        self._count -= len(events)
        self._bytes -= sum(e.bytes for e in events)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
