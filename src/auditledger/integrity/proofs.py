"""Inclusion and consistency proofs of an organization's log, as RFC 9162 defines them.

A proof is computed from the stored Merkle nodes of one read snapshot, so the root it proves
against and the proof itself always belong to the same tree. By default proofs are given
against the latest checkpoint, whose signed root the caller can check independently.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial

from sqlalchemy import Connection, select

from auditledger.core.errors import InvalidInput, NotFound, Problem
from auditledger.core.merkle import consistency_proof, inclusion_proof, root_hash
from auditledger.integrity.repository import IntegrityRepository
from auditledger.store.database import Database
from auditledger.store.log import fetch_nodes, read_head
from auditledger.store.schema import leaves


@dataclass(frozen=True)
class InclusionProof:
    """Leaf ``seq`` (hash ``leaf_hash``) is in the tree of ``tree_size`` leaves (``root_hash``)."""

    seq: int
    leaf_hash: bytes
    tree_size: int
    root_hash: bytes
    proof: list[bytes]


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``first`` leaves is a prefix of the tree of ``second`` leaves."""

    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]


class ProofService:
    """Proofs over the stored nodes of organizations' logs."""

    def __init__(self, db: Database, repo: IntegrityRepository) -> None:
        self.db = db
        self.repo = repo

    def _size(self, org_id: int, requested: int | None, field: str) -> int:
        """``requested``, or the latest checkpoint's size; :class:`InvalidInput` if neither."""
        if requested is not None:
            return requested
        latest = self.repo.latest_checkpoint(org_id)
        if latest is None or latest.tree_size == 0:
            raise InvalidInput(
                "no checkpoint yet",
                [
                    Problem(
                        field,
                        "this log has no checkpoint yet: give the size explicitly, or request "
                        "a checkpoint first",
                    )
                ],
            )
        return latest.tree_size

    def inclusion(
        self,
        org_id: int,
        *,
        seq: int | None = None,
        event_id: uuid.UUID | None = None,
        tree_size: int | None = None,
    ) -> InclusionProof:
        """The inclusion proof of one event, named by ``seq`` or ``event_id``."""
        if (seq is None) == (event_id is None):
            raise InvalidInput(
                "name one event", [Problem("event_id", "give either event_id or seq (not both)")]
            )
        field = "seq" if seq is not None else "event_id"
        if event_id is not None:
            seq = self.repo.seq_of_event(org_id, event_id)
            if seq is None:
                raise NotFound(f"no event {event_id} in this organization's log")
        assert seq is not None
        if seq < 0:
            raise InvalidInput("bad seq", [Problem("seq", "must be 0 or more")])
        size = self._size(org_id, tree_size, "tree_size")
        with self.db.read() as connection:
            self._check_size(connection, org_id, size, "tree_size")
            if seq >= size:
                raise InvalidInput(
                    "event not in that tree",
                    [
                        Problem(
                            field,
                            f"the event has seq {seq}, outside the tree of {size} events"
                            + ("" if tree_size is not None else " (the latest checkpoint)")
                            + ": wait for the next checkpoint or give a larger tree_size",
                        )
                    ],
                )
            leaf = connection.execute(
                select(leaves.c.leaf_hash).where(leaves.c.org_id == org_id, leaves.c.seq == seq)
            ).scalar_one()
            fetch = partial(fetch_nodes, connection, org_id)
            return InclusionProof(
                seq, leaf, size, root_hash(size, fetch), inclusion_proof(seq, size, fetch)
            )

    def consistency(self, org_id: int, first: int, second: int | None = None) -> ConsistencyProof:
        """The proof that the tree of ``first`` leaves is a prefix of that of ``second``."""
        size = self._size(org_id, second, "second")
        if not 1 <= first <= size:
            raise InvalidInput(
                "bad first size", [Problem("first", f"must be between 1 and second ({size})")]
            )
        with self.db.read() as connection:
            self._check_size(connection, org_id, size, "second")
            fetch = partial(fetch_nodes, connection, org_id)
            return ConsistencyProof(
                first,
                size,
                root_hash(first, fetch),
                root_hash(size, fetch),
                consistency_proof(first, size, fetch),
            )

    @staticmethod
    def _check_size(connection: Connection, org_id: int, size: int, field: str) -> None:
        current = read_head(connection, org_id).tree_size
        if not 1 <= size <= current:
            why = (
                f"must be between 1 and {current} (the log's current size)"
                if current
                else "the log is empty: there is nothing to prove yet"
            )
            raise InvalidInput(f"bad {field}", [Problem(field, why)])
