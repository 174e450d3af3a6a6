"""What the verifier reads: one organization's stored log, in one read snapshot.

The verifier must see every row, including rows nothing else should ever produce (a second
event at one sequence number, an event without a leaf, rows past the head), so pages are
sequence-number ranges, not "the next N rows", and the reads are lean raw selects: the verifier
works on column values, not on the dataclasses the rest of the service uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, select, text

from auditledger.core.checkpoint import StoredCheckpoint
from auditledger.core.columns import (
    JOINED_LEAF_COLUMNS,
    LEAF_EVIDENCE_COLUMNS,
    VERIFIED_EVENT_COLUMNS,
    StoredEntry,
)
from auditledger.core.cosignature import CosignatureRow
from auditledger.store.database import Database
from auditledger.store.engine import sqlite_path
from auditledger.store.log import read_head
from auditledger.store.plans import log_walk_plans
from auditledger.store.schema import checkpoints

# A stored leaf: (seq, leaf hash, the Merkle nodes its row holds, and its expiry proof's
# prefix length, midstate and suffix, null for leaves older than ingest-time proofs). A plain
# tuple, because the verifier touches millions of them.
LeafRow = tuple[int, bytes, bytes, int | None, bytes | None, bytes | None]


class LogSource(Protocol):
    """A stored log as the verifier reads it."""

    def head(self) -> tuple[int, bytes]:
        """The log head: (tree size, root hash)."""
        ...

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, smallest first (without cosignatures: those are
        :meth:`cosignature_rows`)."""
        ...

    def cosignature_rows(self) -> list[CosignatureRow]:
        """Every stored cosignature row of the organization, raw, by tree size."""
        ...

    def seq_span(self) -> tuple[int, int]:
        """(lowest, highest + 1) sequence number of any stored leaf or event; (0, 0) if none."""
        ...

    def leaves(self, start: int, end: int) -> list[LeafRow]:
        """Leaves with ``start <= seq < end``, in order."""
        ...

    def event_rows(self, start: int, end: int) -> list[Sequence[Any]]:
        """Raw event rows (columns as :data:`VERIFIED_EVENT_COLUMNS`), ``start <= seq < end``,
        by seq."""
        ...

    def leaf_evidence(self, start: int, end: int) -> list[Sequence[Any]]:
        """Raw leaf columns checked against events (:data:`LEAF_EVIDENCE_COLUMNS`),
        ``start <= seq < end``, by seq."""
        ...

    def joined_rows(self, start: int, end: int) -> list[Sequence[Any]]:
        """Each event with ``start <= seq < end`` that has a leaf, its columns
        (:data:`VERIFIED_EVENT_COLUMNS`) followed by its leaf's (:data:`JOINED_LEAF_COLUMNS`),
        by seq. Events without a leaf and leaves without an event are left out: the verifier
        reads such a page again with the separate reads."""
        ...

    def directory(self) -> list[StoredEntry]:
        """The organization's directory entries (filter choices), raw."""
        ...

    def reopenable(self) -> tuple[str, int] | None:
        """(database URL, organization id) another process can read this log with, or None
        (an in-memory database)."""
        ...


# Columns read in SQLite's stored form on both engines (Database.stored_form), so every raw
# value the verifier compares or formats has one type whatever the engine.
_STORED_FORMS = {
    "occurred_at": "instant",
    "received_at": "instant",
    "last_seen": "instant",
    "event_id": "uuid",
}


def _columns(db: Database, alias: str, names: Sequence[str]) -> str:
    return ", ".join(
        db.stored_form(alias + name, _STORED_FORMS[name]) if name in _STORED_FORMS else alias + name
        for name in names
    )


def _statements(db: Database) -> dict[str, str]:
    # Fixed column names, no input.
    page = "WHERE org_id = ? AND seq >= ? AND seq < ? ORDER BY seq"
    return {
        "events": f"SELECT {_columns(db, '', VERIFIED_EVENT_COLUMNS)} FROM events {page}",
        "leaf_evidence": f"SELECT {_columns(db, '', LEAF_EVIDENCE_COLUMNS)} FROM leaves {page}",
        "joined": (
            f"SELECT {_columns(db, 'e.', VERIFIED_EVENT_COLUMNS)}, "
            f"{_columns(db, 'l.', JOINED_LEAF_COLUMNS)} "
            "FROM events e JOIN leaves l ON l.org_id = e.org_id AND l.seq = e.seq "
            "WHERE e.org_id = ? AND e.seq >= ? AND e.seq < ? ORDER BY e.seq"
        ),
        "directory": (
            f"SELECT {_columns(db, '', ('kind', 'ref_id', 'name', 'parent_id', 'last_seen'))} "
            "FROM directory WHERE org_id = ?"
        ),
    }


_LEAVES_SQL = (
    "SELECT seq, leaf_hash, nodes, expiry_prefix_len, expiry_midstate, expiry_suffix FROM leaves "
    "WHERE org_id = ? AND seq >= ? AND seq < ? ORDER BY seq"
)
_COSIGNATURES_SQL = (
    "SELECT tree_size, witness_name, key_id, cosigned_at, line FROM cosignatures "
    "WHERE org_id = ? ORDER BY tree_size, witness_name, key_id"
)
_SPAN_SQL = text(
    "SELECT min(lo), max(hi) FROM ("
    " SELECT min(seq) AS lo, max(seq) AS hi FROM leaves WHERE org_id = :org"
    " UNION ALL"
    " SELECT min(seq), max(seq) FROM events WHERE org_id = :org) AS spans"
)


class SqlLogSource:
    """:class:`LogSource` over one read transaction of the database."""

    def __init__(self, connection: Connection, org_id: int, db: Database) -> None:
        self.connection = connection
        self.org_id = org_id
        # Pages are read through the driver's own cursor (Database.raw_rows): SQLAlchemy's row
        # objects cost more than the verification itself.
        self.db = db
        self._sql = _statements(db)

    def _page(self, sql: str, start: int, end: int) -> list[Any]:
        return self._raw(sql, (self.org_id, start, end))

    def _raw(self, sql: str, parameters: tuple[Any, ...]) -> list[Any]:
        return self.db.raw_rows(self.connection, sql, parameters)

    def head(self) -> tuple[int, bytes]:
        """The log head: (tree size, root hash)."""
        head = read_head(self.connection, self.org_id)
        return head.tree_size, head.root_hash

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, smallest first (without cosignatures)."""
        rows = self.connection.execute(
            select(checkpoints)
            .where(checkpoints.c.org_id == self.org_id)
            .order_by(checkpoints.c.tree_size)
        )
        return [
            StoredCheckpoint(
                r.org_id, r.tree_size, bytes(r.root_hash), r.note, r.key_name, r.created_at
            )
            for r in rows
        ]

    def cosignature_rows(self) -> list[CosignatureRow]:
        """Every stored cosignature row of the organization, raw, by tree size."""
        return [CosignatureRow(*row) for row in self._raw(_COSIGNATURES_SQL, (self.org_id,))]

    def seq_span(self) -> tuple[int, int]:
        """(lowest, highest + 1) sequence number of any stored leaf or event."""
        low, high = self.connection.execute(_SPAN_SQL, {"org": self.org_id}).one()
        if low is None:
            return 0, 0
        return int(low), int(high) + 1

    def leaves(self, start: int, end: int) -> list[LeafRow]:
        """Leaves with ``start <= seq < end``, in order."""
        return self._page(_LEAVES_SQL, start, end)

    def event_rows(self, start: int, end: int) -> list[Sequence[Any]]:
        """Raw event rows with ``start <= seq < end``, by seq."""
        return self._page(self._sql["events"], start, end)

    def leaf_evidence(self, start: int, end: int) -> list[Sequence[Any]]:
        """Raw leaf columns checked against events, ``start <= seq < end``, by seq."""
        return self._page(self._sql["leaf_evidence"], start, end)

    def joined_rows(self, start: int, end: int) -> list[Sequence[Any]]:
        """Events with their leaf's columns, ``start <= seq < end``, by seq."""
        return self._page(self._sql["joined"], start, end)

    def reopenable(self) -> tuple[str, int] | None:
        """(database URL, organization id) for another process, None for in-memory SQLite."""
        url = self.db.url
        if not self.db.is_postgres and sqlite_path(url) is None:
            return None
        return url, self.org_id

    def directory(self) -> list[StoredEntry]:
        """The organization's directory entries, raw (``last_seen`` as events store times)."""
        return [StoredEntry(*row) for row in self._raw(self._sql["directory"], (self.org_id,))]


@contextmanager
def open_source(db: Database, org_id: int) -> Iterator[SqlLogSource]:
    """The organization's stored log, read in one consistent snapshot."""
    with db.read() as connection, log_walk_plans(connection):
        yield SqlLogSource(connection, org_id, db)
