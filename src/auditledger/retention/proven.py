"""Provable retention: keep an expiry proof of every event a purge removes, and check purges.

A purge is legitimate only if everything it removed had expired. ``verify`` (and
``GET /retention``, cheaply) check each recorded purge:

1. the ``audit_log.purge`` event that attests it names the purge's own time and cutoff;
2. the cutoff is not after the purge ran, and not later than the retention then in force allows
   (the latest ``retention_change`` the log holds before the purge, else the deployment's
   default; never less than the floor);
3. the log holds no legal hold in force when the purge ran (the latest ``legal_hold_change``
   before it did not place one);
4. every removed event has an expiry proof (:mod:`core.expiry`) that leads to its leaf hash
   and proves it occurred before the cutoff: the one its ``leaves`` row has kept since ingest
   or, for leaves written before ingest-time proofs, one the purge computed from the row and
   stored in ``purge_proofs``.

A removed event without such a proof counts as missing, named by its sequence number. Purges
attested before expiry proofs existed (below the organization's ``purge_proof_epochs`` size)
are accepted on their attestation alone and counted as unproven.
"""

from __future__ import annotations

import bisect
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, insert, or_, select

from auditledger.core.canonical import format_timestamp
from auditledger.core.expiry import ExpiryProof, ProofError, make_proof, proven_occurrence
from auditledger.core.rowcanon import EVENT_COLUMNS, RowCanonicalizer
from auditledger.retention import policy
from auditledger.retention.records import PurgeRecord, Range, compress
from auditledger.store.schema import events, leaves, purge_proof_epochs, purge_proofs

PROOF_BATCH = 5_000


class UnprovablePurge(Exception):
    """A planned purge would remove an event whose stored row no longer matches its leaf."""


def write_proofs(
    connection: Connection,
    org_id: int,
    org_slug: str,
    purge_id: uuid.UUID,
    ranges: Sequence[Range],
    cutoff: datetime,
) -> int:
    """Store an expiry proof of every event of ``ranges`` that occurred before ``cutoff`` and
    whose leaf has none from ingest (leaves written before migration 0009); returns how many.

    Only those rows are read. Raises :class:`UnprovablePurge` if one does not hash to its
    leaf: a purge must not launder an altered event into a "purged" one.
    """
    legacy = _without_leaf_proofs(connection, org_id, ranges)
    if not legacy:
        return 0
    canon = RowCanonicalizer(org_slug)
    columns = [events.c[name] for name in EVENT_COLUMNS]
    written = 0
    for first, last in legacy:
        rows = connection.execute(
            select(*columns, leaves.c.leaf_hash)
            .join(leaves, (leaves.c.org_id == events.c.org_id) & (leaves.c.seq == events.c.seq))
            .where(
                events.c.org_id == org_id,
                events.c.seq >= first,
                events.c.seq <= last,
                events.c.occurred_at < cutoff,
            )
            .order_by(events.c.seq)
        )
        batch: list[dict[str, object]] = []
        for row in rows:
            values = tuple(row)
            seq = int(values[0])
            proof = make_proof(seq, canon.canonical_bytes(values[:-1]))
            try:
                occurred = proven_occurrence(proof, values[-1])
            except ProofError as exc:
                raise UnprovablePurge(str(exc)) from None
            batch.append(
                {
                    "org_id": org_id,
                    "seq": seq,
                    "purge_id": purge_id,
                    "occurred_at": occurred,
                    "prefix_len": proof.prefix_len,
                    "midstate": proof.midstate,
                    "suffix": proof.suffix,
                }
            )
            if len(batch) >= PROOF_BATCH:
                connection.execute(insert(purge_proofs), batch)
                written += len(batch)
                batch = []
        if batch:
            connection.execute(insert(purge_proofs), batch)
            written += len(batch)
    return written


_RANGES_PER_QUERY = 200


def _in_ranges(column: Any, ranges: Sequence[Range]) -> ColumnElement[bool]:
    return or_(*(and_(column >= first, column <= last) for first, last in ranges))


def _without_leaf_proofs(
    connection: Connection, org_id: int, ranges: Sequence[Range]
) -> list[Range]:
    """The seqs of ``ranges`` whose leaves keep no ingest-time expiry proof (a partial index
    holds exactly those, so this reads nothing of the others)."""
    found: list[int] = []
    for offset in range(0, len(ranges), _RANGES_PER_QUERY):
        chunk = ranges[offset : offset + _RANGES_PER_QUERY]
        found.extend(
            int(seq)
            for (seq,) in connection.execute(
                select(leaves.c.seq)
                .where(
                    leaves.c.org_id == org_id,
                    leaves.c.expiry_midstate.is_(None),
                    _in_ranges(leaves.c.seq, chunk),
                )
                .order_by(leaves.c.seq)
            )
        )
    return compress(sorted(found))


def leaf_proof_count(
    connection: Connection, org_id: int, ranges: Sequence[Range], cutoff: datetime
) -> int:
    """How many seqs of ``ranges`` have an ingest-time expiry proof in their leaf claiming an
    occurrence before ``cutoff`` (the claim, as ``leaves.occurred_at`` states it; ``verify``
    checks the proofs themselves)."""
    total = 0
    for offset in range(0, len(ranges), _RANGES_PER_QUERY):
        chunk = ranges[offset : offset + _RANGES_PER_QUERY]
        total += int(
            connection.execute(
                select(func.count()).where(
                    leaves.c.org_id == org_id,
                    leaves.c.expiry_midstate.is_not(None),
                    leaves.c.occurred_at < cutoff,
                    _in_ranges(leaves.c.seq, chunk),
                )
            ).scalar_one()
        )
    return total


@dataclass(frozen=True)
class _Setting:
    seq: int
    value: int | bool


def _settings_history(connection: Connection, org_id: int, type_: str, key: str) -> list[_Setting]:
    rows = connection.execute(
        select(events.c.seq, events.c.properties)
        .where(
            events.c.org_id == org_id,
            events.c.category == "audit_log",
            events.c.type == type_,
        )
        .order_by(events.c.seq)
    )
    found = []
    for seq, properties in rows:
        try:
            value = json.loads(properties)[key]
        except (ValueError, KeyError, TypeError):
            continue  # an unreadable event is verify's "altered" finding, not a setting
        found.append(_Setting(int(seq), value))
    return found


def _in_force(history: list[_Setting], before_seq: int) -> _Setting | None:
    index = bisect.bisect_left([s.seq for s in history], before_seq) - 1
    return history[index] if index >= 0 else None


@dataclass
class Rules:
    """The retention rules a purge is held to, as the log records them."""

    default_days: int
    floor_days: int
    retention: list[_Setting] = field(default_factory=list)
    holds: list[_Setting] = field(default_factory=list)

    @classmethod
    def load(cls, connection: Connection, org_id: int, default_days: int, floor_days: int) -> Rules:
        """The organization's retention and legal-hold history from its log."""
        return cls(
            default_days,
            floor_days,
            _settings_history(connection, org_id, "retention_change", "new_days"),
            _settings_history(connection, org_id, "legal_hold_change", "new_hold"),
        )

    def problem(self, record: PurgeRecord, attestation: dict[str, object] | None) -> str | None:
        """Why the purge breaks a rule (1 to 3 of the module docstring), or None."""
        if record.attested_seq is None or attestation is None:
            return None  # unattested: reported as such by the records
        properties = attestation.get("properties")
        if attestation.get("timestamp") != format_timestamp(record.ran_at) or not (
            isinstance(properties, dict)
            and properties.get("cutoff") == format_timestamp(record.cutoff)
        ):
            return f"its time or cutoff differs from purge event {record.attested_seq}"
        if record.cutoff > record.ran_at:
            return (
                f"its cutoff {format_timestamp(record.cutoff)} is after the purge ran "
                f"({format_timestamp(record.ran_at)}): nothing could have expired by then"
            )
        changed = _in_force(self.retention, record.attested_seq)
        days = max(int(changed.value) if changed else self.default_days, self.floor_days)
        allowed = policy.cutoff(record.ran_at, days)
        if record.cutoff > allowed:
            return (
                f"its cutoff {format_timestamp(record.cutoff)} is later than the {days}-day "
                f"retention in force allows ({format_timestamp(allowed)})"
            )
        hold = _in_force(self.holds, record.attested_seq)
        if hold is not None and hold.value is True:
            return f"it ran while the organization was on legal hold (placed by seq {hold.seq})"
        return None


def epoch(connection: Connection, org_id: int) -> int:
    """The log size below which purges predate expiry proofs (0 for logs begun after)."""
    size = connection.execute(
        select(purge_proof_epochs.c.tree_size).where(purge_proof_epochs.c.org_id == org_id)
    ).scalar()
    return int(size or 0)


def proof_summary(
    connection: Connection, org_id: int, purge_id: uuid.UUID
) -> tuple[int, datetime | None]:
    """(number of expiry proofs, latest occurrence time they claim) of one purge."""
    count, latest = connection.execute(
        select(func.count(), func.max(purge_proofs.c.occurred_at)).where(
            purge_proofs.c.org_id == org_id, purge_proofs.c.purge_id == purge_id
        )
    ).one()
    return int(count), latest


def iter_proofs(
    connection: Connection, org_id: int
) -> Iterator[tuple[ExpiryProof, uuid.UUID, datetime, bytes | None]]:
    """Every expiry proof of the organization in sequence order, with its purge id, stored
    occurrence time and the leaf hash at its seq (None if that leaf is gone)."""
    rows = connection.execute(
        select(purge_proofs, leaves.c.leaf_hash)
        .outerjoin(
            leaves,
            (leaves.c.org_id == purge_proofs.c.org_id) & (leaves.c.seq == purge_proofs.c.seq),
        )
        .where(purge_proofs.c.org_id == org_id)
        .order_by(purge_proofs.c.seq)
    )
    for row in rows:
        proof = ExpiryProof(int(row.seq), int(row.prefix_len), row.midstate, row.suffix)
        yield proof, row.purge_id, row.occurred_at, row.leaf_hash
