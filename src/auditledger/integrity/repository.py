"""SQL for signed checkpoints and the registry of signing keys.

Checkpoints are append-only (triggers refuse UPDATE and DELETE). Several server processes may
sign the same tree size at once; the second insert is ignored, which is harmless because
Ed25519 signatures are deterministic and a size has one root.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from auditledger.core.checkpoint import StoredCheckpoint
from auditledger.core.keys import VerifierKey
from auditledger.store.database import Database
from auditledger.store.schema import (
    checkpoints,
    key_rotations,
    leaves,
    log_heads,
    organizations,
    signing_keys,
)


@dataclass(frozen=True)
class RegisteredKey:
    """A row of the ``signing_keys`` registry."""

    key: VerifierKey
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class PendingLog:
    """An organization whose log grew past its latest checkpoint."""

    org_id: int
    slug: str
    tree_size: int


def _checkpoint(row: Any) -> StoredCheckpoint:
    return StoredCheckpoint(
        org_id=row.org_id,
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        note=row.note,
        key_name=row.key_name,
        created_at=row.created_at,
    )


class IntegrityRepository:
    """Reads and writes checkpoints and signing keys."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _insert_ignore(self, connection: Connection, table: Any, row: dict[str, Any]) -> bool:
        return self.db.insert_ignore(connection, table, row)

    # -- signing keys ------------------------------------------------------------------------

    def register_key(self, key: VerifierKey, now: datetime) -> bool:
        """Add ``key`` to the registry unless it is there; True if it was added."""
        with self.db.write() as connection:
            return self._insert_ignore(
                connection,
                signing_keys,
                {
                    "key_id": key.key_id_hex,
                    "name": key.name,
                    "public_key": key.public_key,
                    "created_at": now,
                    "retired_at": None,
                },
            )

    def retire_key(self, key: VerifierKey, now: datetime) -> None:
        """Mark ``key`` retired: it signs nothing new, and still verifies what it signed."""
        with self.db.write() as connection:
            connection.execute(
                update(signing_keys)
                .where(signing_keys.c.key_id == key.key_id_hex, signing_keys.c.retired_at.is_(None))
                .values(retired_at=now)
            )

    def registered_keys(self) -> list[RegisteredKey]:
        """Every registered key, oldest first (retired ones included)."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(signing_keys).order_by(signing_keys.c.created_at, signing_keys.c.key_id)
            ).all()
        return [
            RegisteredKey(VerifierKey(r.name, r.public_key), r.created_at, r.retired_at)
            for r in rows
        ]

    def record_rotation(
        self, old: VerifierKey, new: VerifierKey, statement: str, now: datetime
    ) -> None:
        """Keep the signed statement that ``old`` was rotated to ``new``."""
        with self.db.write() as connection:
            self._insert_ignore(
                connection,
                key_rotations,
                {
                    "new_key_id": new.key_id_hex,
                    "old_key_id": old.key_id_hex,
                    "statement": statement,
                    "created_at": now,
                },
            )

    def rotations(self) -> list[str]:
        """Every rotation statement, oldest first."""
        with self.db.read() as connection:
            return list(
                connection.execute(
                    select(key_rotations.c.statement).order_by(key_rotations.c.created_at)
                ).scalars()
            )

    # -- checkpoints -------------------------------------------------------------------------

    def insert_checkpoint(self, checkpoint: StoredCheckpoint) -> bool:
        """Store ``checkpoint``; False (and nothing changes) if its size is already stored."""
        with self.db.write() as connection:
            return self._insert_ignore(
                connection,
                checkpoints,
                {
                    "org_id": checkpoint.org_id,
                    "tree_size": checkpoint.tree_size,
                    "root_hash": checkpoint.root_hash,
                    "note": checkpoint.note,
                    "key_name": checkpoint.key_name,
                    "created_at": checkpoint.created_at,
                },
            )

    def latest_checkpoint(
        self, org_id: int, connection: Connection | None = None
    ) -> StoredCheckpoint | None:
        """The organization's largest checkpoint, or None."""
        query = (
            select(checkpoints)
            .where(checkpoints.c.org_id == org_id)
            .order_by(checkpoints.c.tree_size.desc())
            .limit(1)
        )
        if connection is not None:
            row = connection.execute(query).first()
        else:
            with self.db.read() as fresh:
                row = fresh.execute(query).first()
        return _checkpoint(row) if row is not None else None

    def checkpoint_at(self, org_id: int, tree_size: int) -> StoredCheckpoint | None:
        """The checkpoint of exactly ``tree_size`` leaves, or None."""
        with self.db.read() as connection:
            row = connection.execute(
                select(checkpoints).where(
                    checkpoints.c.org_id == org_id, checkpoints.c.tree_size == tree_size
                )
            ).first()
        return _checkpoint(row) if row is not None else None

    def list_checkpoints(
        self, org_id: int, *, before: int | None, limit: int
    ) -> list[StoredCheckpoint]:
        """Checkpoints newest (largest) first, below ``before`` if given: one keyset page."""
        query = select(checkpoints).where(checkpoints.c.org_id == org_id)
        if before is not None:
            query = query.where(checkpoints.c.tree_size < before)
        with self.db.read() as connection:
            rows = connection.execute(
                query.order_by(checkpoints.c.tree_size.desc()).limit(limit)
            ).all()
        return [_checkpoint(r) for r in rows]

    def pending_logs(self) -> list[PendingLog]:
        """Organizations whose log holds more leaves than their latest checkpoint covers."""
        latest = (
            select(checkpoints.c.org_id, func.max(checkpoints.c.tree_size).label("size"))
            .group_by(checkpoints.c.org_id)
            .subquery()
        )
        query = (
            select(log_heads.c.org_id, organizations.c.slug, log_heads.c.tree_size)
            .join(organizations, organizations.c.id == log_heads.c.org_id)
            .outerjoin(latest, latest.c.org_id == log_heads.c.org_id)
            .where(log_heads.c.tree_size > func.coalesce(latest.c.size, 0))
            .order_by(log_heads.c.org_id)
        )
        with self.db.read() as connection:
            return [PendingLog(r.org_id, r.slug, r.tree_size) for r in connection.execute(query)]

    def seq_of_event(self, org_id: int, event_id: uuid.UUID) -> int | None:
        """The sequence number of an event id (kept after the event's content is purged)."""
        with self.db.read() as connection:
            seq = connection.execute(
                select(leaves.c.seq).where(leaves.c.org_id == org_id, leaves.c.event_id == event_id)
            ).scalar()
        return int(seq) if seq is not None else None
