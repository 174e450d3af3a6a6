"""SQL for signed checkpoints and the registry of signing keys.

Checkpoints are append-only (triggers refuse UPDATE and DELETE). Several server processes may
sign the same tree size at once; the second insert is ignored, which is harmless because
Ed25519 signatures are deterministic and a size has one root.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from auditledger.core.checkpoint import StoredCheckpoint
from auditledger.core.cosignature import WitnessKey
from auditledger.core.keys import VerifierKey
from auditledger.store.database import Database
from auditledger.store.schema import (
    checkpoints,
    cosignatures,
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


def with_cosignatures(
    connection: Connection, found: Sequence[StoredCheckpoint]
) -> list[StoredCheckpoint]:
    """``found`` with the cosignature lines stored for each (in a stable order)."""
    if not found:
        return []
    org_ids = {c.org_id for c in found}
    sizes = {c.tree_size for c in found}
    query = select(cosignatures.c.org_id, cosignatures.c.tree_size, cosignatures.c.line).where(
        cosignatures.c.org_id.in_(org_ids)
    )
    if len(sizes) <= 1000:  # else the organizations' whole table, unfiltered (one long IN)
        query = query.where(cosignatures.c.tree_size.in_(sizes))
    rows = connection.execute(
        query.order_by(cosignatures.c.witness_name, cosignatures.c.key_id)
    ).all()
    lines: dict[tuple[int, int], list[str]] = {}
    for row in rows:
        lines.setdefault((row.org_id, row.tree_size), []).append(row.line)
    return [replace(c, cosignatures=tuple(lines.get((c.org_id, c.tree_size), ()))) for c in found]


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
        """The organization's largest checkpoint (with its cosignatures), or None."""
        query = (
            select(checkpoints)
            .where(checkpoints.c.org_id == org_id)
            .order_by(checkpoints.c.tree_size.desc())
            .limit(1)
        )
        if connection is not None:
            row = connection.execute(query).first()
            return with_cosignatures(connection, [_checkpoint(row)])[0] if row else None
        with self.db.read() as fresh:
            row = fresh.execute(query).first()
            return with_cosignatures(fresh, [_checkpoint(row)])[0] if row else None

    def checkpoint_at(self, org_id: int, tree_size: int) -> StoredCheckpoint | None:
        """The checkpoint of exactly ``tree_size`` leaves (with its cosignatures), or None."""
        with self.db.read() as connection:
            row = connection.execute(
                select(checkpoints).where(
                    checkpoints.c.org_id == org_id, checkpoints.c.tree_size == tree_size
                )
            ).first()
            return with_cosignatures(connection, [_checkpoint(row)])[0] if row else None

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
            return with_cosignatures(connection, [_checkpoint(r) for r in rows])

    # -- cosignatures ------------------------------------------------------------------------

    def insert_cosignature(
        self,
        org_id: int,
        tree_size: int,
        witness: WitnessKey,
        cosigned_at: int,
        line: str,
        now: datetime,
    ) -> bool:
        """Keep a verified cosignature of checkpoint ``tree_size``; False if that witness's
        cosignature of it is already stored (the first one stays)."""
        with self.db.write() as connection:
            return self._insert_ignore(
                connection,
                cosignatures,
                {
                    "org_id": org_id,
                    "tree_size": tree_size,
                    "witness_name": witness.name,
                    "key_id": witness.key_id_hex,
                    "cosigned_at": cosigned_at,
                    "line": line,
                    "received_at": now,
                },
            )

    def cosigned_size(self, org_id: int, witness: WitnessKey) -> int | None:
        """The largest checkpoint of the organization ``witness`` cosigned, or None."""
        with self.db.read() as connection:
            size = connection.execute(
                select(func.max(cosignatures.c.tree_size)).where(
                    cosignatures.c.org_id == org_id,
                    cosignatures.c.witness_name == witness.name,
                    cosignatures.c.key_id == witness.key_id_hex,
                )
            ).scalar()
        return int(size) if size is not None else None

    def newest_checkpoints(self) -> list[tuple[int, str, int]]:
        """(org id, slug, tree size) of each organization's largest checkpoint."""
        query = (
            select(checkpoints.c.org_id, organizations.c.slug, func.max(checkpoints.c.tree_size))
            .join(organizations, organizations.c.id == checkpoints.c.org_id)
            .group_by(checkpoints.c.org_id, organizations.c.slug)
            .order_by(checkpoints.c.org_id)
        )
        with self.db.read() as connection:
            return [(int(r[0]), str(r[1]), int(r[2])) for r in connection.execute(query)]

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
