"""What a witness remembers: the latest checkpoint it cosigned per log, in a SQLite file.

The spec requires checking the old size against the stored checkpoint and storing the new one
atomically (else two requests can roll the record back). Each submission runs inside one
``BEGIN IMMEDIATE`` transaction, which takes SQLite's write lock before reading, so processes
and threads sharing the file are serialized; the commit is durable (``synchronous=FULL``)
before the cosignature is returned.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS latest (
    origin TEXT PRIMARY KEY,
    tree_size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class Latest:
    """The newest checkpoint cosigned for one origin."""

    origin: str
    tree_size: int
    root_hash: bytes
    note: str
    cosigned_at: int


class Transaction:
    """Reads and the one write of a submission, inside its transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def latest(self, origin: str) -> Latest | None:
        """The latest cosigned checkpoint of ``origin``, or None if it never cosigned one."""
        row = self._connection.execute(
            "SELECT origin, tree_size, root_hash, note, cosigned_at FROM latest WHERE origin = ?",
            (origin,),
        ).fetchone()
        return Latest(row[0], row[1], bytes(row[2]), row[3], row[4]) if row else None

    def record(self, latest: Latest) -> None:
        """Make ``latest`` the origin's newest cosigned checkpoint."""
        self._connection.execute(
            "INSERT INTO latest (origin, tree_size, root_hash, note, cosigned_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET "
            "tree_size = excluded.tree_size, root_hash = excluded.root_hash, "
            "note = excluded.note, cosigned_at = excluded.cosigned_at",
            (latest.origin, latest.tree_size, latest.root_hash, latest.note, latest.cosigned_at),
        )


class WitnessState:
    """The state file (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=FULL")
        self._connection.execute(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._connection)
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def atomically(self, work: Callable[[Transaction], T]) -> T:
        """Run ``work`` in one transaction: committed if it returns, rolled back if it raises."""
        with self._transaction() as transaction:
            return work(transaction)

    def close(self) -> None:
        """Close the file."""
        self._connection.close()
