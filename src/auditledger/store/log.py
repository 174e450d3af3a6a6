"""The event log's storage: appending with dense sequence numbers, and reading it back.

:class:`EventLog` is the interface; :class:`SqlEventLog` implements it on SQLite and on
PostgreSQL, and one contract test suite runs against both.

Appending takes the organization's ``log_heads`` row lock (PostgreSQL ``SELECT ... FOR
UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already excludes other writers), so several server
processes append to one organization in turn: sequence numbers stay dense and there is one
Merkle tree. The lock is held for one group commit, not one event.
"""

from __future__ import annotations

import json
import operator
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg
from sqlalchemy import Connection, Table, Uuid, func, select, text, update
from sqlalchemy.exc import DBAPIError

from auditledger.core.columns import RENAMES
from auditledger.core.errors import Conflict, Problem
from auditledger.core.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    NodeId,
    completing_leaf,
    perfect_decomposition,
)
from auditledger.core.rowcanon import EVENT_COLUMNS, RowCanonicalizer
from auditledger.store import partitions
from auditledger.store.database import Database, is_missing_partition
from auditledger.store.rows import draft_row, row_to_event
from auditledger.store.schema import directory, events, leaves, log_heads
from auditledger.store.types import UTCDateTime, sqlite_value
from auditledger_client.core.event import Event, EventDraft, Location

# Bound on the number of parameters in one IN (...) list.
_CHUNK = 500
# SQLite's limit on the parameters of one statement (32,766 since 3.32; stay well below).
_SQLITE_MAX_VARIABLES = 30_000
_SQLITE_PLANS: dict[str, tuple[Callable[[dict[str, Any]], tuple[Any, ...]], tuple[int, ...]]] = {}


def _sqlite_plan(
    table: Table,
) -> tuple[Callable[[dict[str, Any]], tuple[Any, ...]], tuple[int, ...]]:
    """How a row of ``table`` becomes its SQLite parameters: a getter of every column's cell,
    and the positions of the columns whose values need :func:`sqlite_value` (instants, UUIDs)."""
    plan = _SQLITE_PLANS.get(table.name)
    if plan is None:
        names = [c.name for c in table.columns]
        converted = tuple(
            i for i, c in enumerate(table.columns) if isinstance(c.type, UTCDateTime | Uuid)
        )
        plan = _SQLITE_PLANS[table.name] = (operator.itemgetter(*names), converted)
    return plan


@dataclass(frozen=True)
class PendingEvent:
    """A validated event waiting for its place in the log."""

    draft: EventDraft
    digest: bytes  # SHA-256 of the event as sent, for idempotency
    location: Location | None


@dataclass(frozen=True)
class AppendRequest:
    """The events of one ingest request: stored together or not at all."""

    org_id: int
    org_slug: str
    events: Sequence[PendingEvent]
    received_at: datetime


@dataclass(frozen=True)
class Receipt:
    """Proof of storage handed back to the platform."""

    event_id: uuid.UUID
    seq: int
    leaf_hash: bytes
    duplicate: bool


AppendResult = list[Receipt] | Conflict


@dataclass(frozen=True)
class LogHead:
    """An organization's log size and Merkle root."""

    org_id: int
    tree_size: int
    root_hash: bytes


@dataclass(frozen=True)
class Leaf:
    """One leaf of the log; survives the purge of its event."""

    seq: int
    event_id: uuid.UUID
    leaf_hash: bytes
    occurred_at: datetime


class EventLog(Protocol):
    """Storage of organizations' event logs."""

    def append(self, requests: Sequence[AppendRequest]) -> list[AppendResult]:
        """Store each request's events in one transaction; one result per request."""
        ...

    def head(self, org_id: int) -> LogHead:
        """The organization's current size and root."""
        ...

    def nodes(self, org_id: int, wanted: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """Hashes of stored perfect subtrees (level 0 is a leaf)."""
        ...

    def leaves(self, org_id: int, start: int, end: int) -> list[Leaf]:
        """Leaves with ``start <= seq < end``, in order."""
        ...

    def events(self, org_id: int, org_slug: str, start: int, end: int) -> list[Event]:
        """Stored events with ``start <= seq < end``, in order (purged ones are absent)."""
        ...

    def event_by_id(self, org_id: int, org_slug: str, event_id: uuid.UUID) -> Event | None:
        """The stored event with this id, or None."""
        ...


class SqlEventLog:
    """:class:`EventLog` on SQLite or PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- appending ---------------------------------------------------------------------------

    def append(self, requests: Sequence[AppendRequest]) -> list[AppendResult]:
        """Store requests in one transaction (a group commit); one result per request."""
        if not requests:
            return []
        self.db.ensure_partitions(
            sorted({partitions.day_of(p.draft.occurred_at) for r in requests for p in r.events})
        )
        try:
            return self._append_once(requests)
        except DBAPIError as exc:
            if not (self.db.is_postgres and is_missing_partition(exc)):
                raise
            # A partition this process believed in was dropped by another one: look again.
            self.db.forget_partitions()
            self.db.ensure_partitions(
                sorted({partitions.day_of(p.draft.occurred_at) for r in requests for p in r.events})
            )
            return self._append_once(requests)

    def _append_once(self, requests: Sequence[AppendRequest]) -> list[AppendResult]:
        results: list[AppendResult | None] = [None] * len(requests)
        by_org: dict[int, list[int]] = defaultdict(list)
        for index, request in enumerate(requests):
            by_org[request.org_id].append(index)
        with self.db.write() as connection:
            # A fixed lock order keeps two processes' group commits from deadlocking.
            for org_id in sorted(by_org):
                batch = [requests[i] for i in by_org[org_id]]
                appender = _OrgAppend(self.db, connection, org_id, batch[0].org_slug)
                for index, result in zip(by_org[org_id], appender.run(batch), strict=True):
                    results[index] = result
        return [r for r in results if r is not None]

    # -- reading -----------------------------------------------------------------------------

    def head(self, org_id: int) -> LogHead:
        """The organization's current size and root (size 0 and the empty root if new)."""
        with self.db.read() as connection:
            return read_head(connection, org_id)

    def nodes(self, org_id: int, wanted: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """Stored perfect-subtree hashes, fetched in as few queries as possible."""
        with self.db.read() as connection:
            return fetch_nodes(connection, org_id, wanted)

    def leaves(self, org_id: int, start: int, end: int) -> list[Leaf]:
        """Leaves with ``start <= seq < end``, in order."""
        with self.db.read() as connection:
            return list(iter_leaves(connection, org_id, start, end))

    def events(self, org_id: int, org_slug: str, start: int, end: int) -> list[Event]:
        """Stored events with ``start <= seq < end``, in sequence order."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(events)
                .where(events.c.org_id == org_id, events.c.seq >= start, events.c.seq < end)
                .order_by(events.c.seq)
            )
            return [row_to_event(org_slug, row) for row in rows]

    def event_by_id(self, org_id: int, org_slug: str, event_id: uuid.UUID) -> Event | None:
        """The stored event with this id, or None (never stored, or purged)."""
        with self.db.read() as connection:
            seq = connection.execute(
                select(leaves.c.seq).where(leaves.c.org_id == org_id, leaves.c.event_id == event_id)
            ).scalar()
            if seq is None:
                return None
            row = connection.execute(
                select(events).where(events.c.org_id == org_id, events.c.seq == seq)
            ).first()
            return row_to_event(org_slug, row) if row is not None else None


def read_head(connection: Connection, org_id: int) -> LogHead:
    """The organization's size and root in ``connection``'s snapshot (0 and the empty root if
    it has no head)."""
    row = connection.execute(
        select(log_heads.c.tree_size, log_heads.c.root_hash).where(log_heads.c.org_id == org_id)
    ).first()
    if row is None:
        return LogHead(org_id, 0, EMPTY_ROOT)
    return LogHead(org_id, int(row.tree_size), bytes(row.root_hash))


def fetch_nodes(
    connection: Connection, org_id: int, wanted: Iterable[NodeId]
) -> dict[NodeId, bytes]:
    """Perfect-subtree hashes from their completing leaves' rows (see core.merkle)."""
    by_seq: dict[int, list[NodeId]] = defaultdict(list)
    for node in set(wanted):
        by_seq[completing_leaf(node)].append(node)
    found: dict[NodeId, bytes] = {}
    seqs = sorted(by_seq)
    for offset in range(0, len(seqs), _CHUNK):
        chunk = seqs[offset : offset + _CHUNK]
        rows = connection.execute(
            select(leaves.c.seq, leaves.c.leaf_hash, leaves.c.nodes).where(
                leaves.c.org_id == org_id, leaves.c.seq.in_(chunk)
            )
        )
        for seq, leaf, blob in rows:
            for level, index in by_seq[seq]:
                if level == 0:
                    found[(level, index)] = leaf
                elif len(blob) >= level * HASH_SIZE:
                    found[(level, index)] = blob[(level - 1) * HASH_SIZE : level * HASH_SIZE]
    return found


def iter_leaves(connection: Connection, org_id: int, start: int, end: int) -> Iterator[Leaf]:
    """Leaves ``start <= seq < end`` in order, read in keyset pages."""
    page = 10_000
    position = start
    while position < end:
        rows = connection.execute(
            select(leaves.c.seq, leaves.c.event_id, leaves.c.leaf_hash, leaves.c.occurred_at)
            .where(
                leaves.c.org_id == org_id,
                leaves.c.seq >= position,
                leaves.c.seq < min(end, position + page),
            )
            .order_by(leaves.c.seq)
        ).all()
        for row in rows:
            yield Leaf(row.seq, row.event_id, row.leaf_hash, row.occurred_at)
        position += page


@dataclass
class _Staged:
    digest: bytes
    receipt: Receipt


class _OrgAppend:
    """One organization's part of a group commit, inside the shared transaction."""

    def __init__(self, db: Database, connection: Connection, org_id: int, org_slug: str) -> None:
        self.db = db
        self.connection = connection
        self.org_id = org_id
        self.canonical = RowCanonicalizer(org_slug)

    def run(self, requests: Sequence[AppendRequest]) -> list[AppendResult]:
        head = self._lock_head()
        known = self._stored_ids(requests)
        frontier = self._frontier(head)
        event_rows: list[dict[str, Any]] = []
        leaf_rows: list[dict[str, Any]] = []
        results: list[AppendResult] = []
        for request in requests:
            conflict = self._conflict(request, known)
            if conflict is not None:
                results.append(conflict)
                continue
            receipts = []
            for pending in request.events:
                draft = pending.draft
                prior = known.get(draft.event_id)
                if prior is not None:
                    receipts.append(prior.receipt)
                    continue
                seq = frontier.size
                row = draft_row(self.org_id, seq, request.received_at, draft, pending.location)
                # The verifier's encoder, from the very row stored: one definition of the bytes.
                leaf, proof = self.canonical.leaf_and_proof([row[c] for c in EVENT_COLUMNS])
                nodes = frontier.append(leaf)
                event_rows.append(row)
                leaf_rows.append(
                    {
                        "org_id": self.org_id,
                        "seq": seq,
                        "event_id": draft.event_id,
                        "leaf_hash": leaf,
                        "nodes": nodes,
                        "request_digest": pending.digest,
                        "occurred_at": draft.occurred_at,
                        "expiry_prefix_len": proof.prefix_len,
                        "expiry_midstate": proof.midstate,
                        "expiry_suffix": proof.suffix,
                    }
                )
                receipt = Receipt(draft.event_id, seq, leaf, duplicate=False)
                known[draft.event_id] = _Staged(
                    pending.digest, Receipt(draft.event_id, seq, leaf, duplicate=True)
                )
                receipts.append(receipt)
            results.append(receipts)
        if leaf_rows:
            self._insert(leaves, leaf_rows)
            self._insert(events, event_rows)
            self.connection.execute(
                update(log_heads)
                .where(log_heads.c.org_id == self.org_id)
                .values(tree_size=frontier.size, root_hash=frontier.root())
            )
            self._update_directory(event_rows)
        return results

    def _insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Write a group commit's rows with the driver's bulk path (inside the transaction).

        This is the hot path of ingestion; SQLAlchemy's per-row parameter processing costs
        more than the write itself, so rows go to the driver directly in the exact forms the
        column types store (see ``store.types``): COPY on PostgreSQL, ``executemany`` on SQLite.
        """
        columns = [c.name for c in table.columns]
        driver = self.connection.connection.driver_connection
        if self.db.is_postgres:
            assert isinstance(driver, psycopg.Connection)
            with (
                driver.cursor() as cursor,
                cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row([row[c] for c in columns])
            return
        assert isinstance(driver, sqlite3.Connection)
        # One multi-row INSERT per chunk rather than executemany: the sqlite3 module releases
        # the GIL at every row it steps, and under load each release costs a wait for the
        # event loop's thread to hand it back.
        per_chunk = _SQLITE_MAX_VARIABLES // len(columns)
        row_marks = "(" + ", ".join("?" for _ in columns) + ")"
        cells, converted = _sqlite_plan(table)
        for offset in range(0, len(rows), per_chunk):
            chunk = rows[offset : offset + per_chunk]
            values: list[Any] = []
            for row in chunk:
                # Most columns go as they are (one C-level fetch of every cell); only the
                # instant and UUID columns take their stored form.
                row_values = list(cells(row))
                for index in converted:
                    row_values[index] = sqlite_value(row_values[index])
                values += row_values
            driver.execute(
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
                + ", ".join([row_marks] * len(chunk)),
                values,
            )

    def _lock_head(self) -> LogHead:
        query = select(log_heads.c.tree_size, log_heads.c.root_hash).where(
            log_heads.c.org_id == self.org_id
        )
        row = self.connection.execute(self.db.for_update(query)).first()
        if row is None:
            raise LookupError(f"organization {self.org_id} has no log head")
        return LogHead(self.org_id, row.tree_size, row.root_hash)

    def _frontier(self, head: LogHead) -> Frontier:
        positions = perfect_decomposition(0, head.tree_size)
        found = fetch_nodes(self.connection, self.org_id, positions)
        return Frontier(head.tree_size, [found[p] for p in positions])

    def _stored_ids(self, requests: Sequence[AppendRequest]) -> dict[uuid.UUID, _Staged]:
        ids = sorted({p.draft.event_id for r in requests for p in r.events if p.draft.id_supplied})
        known: dict[uuid.UUID, _Staged] = {}
        for offset in range(0, len(ids), _CHUNK):
            chunk = ids[offset : offset + _CHUNK]
            if self.db.is_postgres:
                # One unique-index probe per id whatever the statistics say: a plain IN list
                # lets a stale row estimate pick a scan of the whole organization's leaves.
                rows = self.connection.execute(
                    text(
                        "SELECT l.event_id, l.seq, l.leaf_hash, l.request_digest "
                        "FROM unnest(CAST(:ids AS uuid[])) AS wanted(id) CROSS JOIN LATERAL "
                        "(SELECT event_id, seq, leaf_hash, request_digest FROM leaves "
                        " WHERE org_id = :org AND event_id = wanted.id LIMIT 1) AS l"
                    ),
                    {"ids": chunk, "org": self.org_id},
                )
            else:
                rows = self.connection.execute(
                    select(
                        leaves.c.event_id, leaves.c.seq, leaves.c.leaf_hash, leaves.c.request_digest
                    ).where(leaves.c.org_id == self.org_id, leaves.c.event_id.in_(chunk))
                )
            for row in rows:
                known[row.event_id] = _Staged(
                    row.request_digest,
                    Receipt(row.event_id, row.seq, row.leaf_hash, duplicate=True),
                )
        return known

    @staticmethod
    def _conflict(request: AppendRequest, known: dict[uuid.UUID, _Staged]) -> Conflict | None:
        seen: dict[uuid.UUID, bytes] = {}
        problems = []
        for index, pending in enumerate(request.events):
            event_id = pending.draft.event_id
            prior = known.get(event_id)
            earlier = prior.digest if prior is not None else seen.get(event_id)
            if earlier is not None and earlier != pending.digest:
                where = f"events[{index}].id" if len(request.events) > 1 else "id"
                problems.append(
                    Problem(
                        where,
                        f"event {event_id} is already stored with different content; "
                        "an event id may be re-sent only with identical content",
                    )
                )
            seen.setdefault(event_id, pending.digest)
        if not problems:
            return None
        return Conflict("an event id is already stored with different content", problems)

    def _update_directory(self, rows: list[dict[str, Any]]) -> None:
        entries: dict[tuple[str, str], dict[str, Any]] = {}

        def note(
            kind: str, ref_id: str | None, name: str | None, parent: str | None, at: Any
        ) -> None:
            if ref_id is None:
                return
            current = entries.get((kind, ref_id))
            if current is None or at >= current["last_seen"]:
                entries[(kind, ref_id)] = {
                    "org_id": self.org_id,
                    "kind": kind,
                    "ref_id": ref_id,
                    "name": name if name is not None else (current or {}).get("name"),
                    "parent_id": parent,
                    "last_seen": at,
                }

        for row in rows:
            at = row["occurred_at"]
            note("project", row["project_id"], row["project_name"], None, at)
            note("actor", row["actor_id"], row["actor_name"], None, at)
            renamed_to = _renamed_to(row)
            if row["subject_type"] == "model":
                note("model", row["subject_id"], renamed_to or row["subject_name"], None, at)
            elif row["subject_type"] == "user" and renamed_to is not None:
                # A person's new name is their name as an actor from now on.
                note("actor", row["subject_id"], renamed_to, None, at)
            elif row["subject_type"] == "model_version":
                note("model", row["parent_id"], row["parent_name"], None, at)
                note("model_version", row["subject_id"], row["subject_name"], row["parent_id"], at)
        self.db.upsert(
            self.connection,
            directory,
            list(entries.values()),
            keys=["org_id", "kind", "ref_id"],
            update={
                "name": lambda excluded: _coalesce(excluded.name, directory.c.name),
                "parent_id": lambda excluded: _coalesce(excluded.parent_id, directory.c.parent_id),
                "last_seen": lambda excluded: excluded.last_seen,
            },
            where=lambda excluded: excluded.last_seen >= directory.c.last_seen,
        )


# Event types whose subject is called ``new_name`` from that moment on. The event itself keeps
# the name it was sent with (the old one): names inside events are snapshots, the directory
# holds what lists, headings and filters call a subject now.


def _renamed_to(row: dict[str, Any]) -> str | None:
    """The subject's name after ``row`` if it is a rename, else None."""
    if (row["category"], row["type"]) not in RENAMES:
        return None
    new_name = json.loads(row["properties"]).get("new_name")
    return new_name if isinstance(new_name, str) and new_name else None


def _coalesce(first: Any, second: Any) -> Any:
    return func.coalesce(first, second)


__all__ = [
    "AppendRequest",
    "AppendResult",
    "EventLog",
    "Leaf",
    "LogHead",
    "PendingEvent",
    "Receipt",
    "SqlEventLog",
]
