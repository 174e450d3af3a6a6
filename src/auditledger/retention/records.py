"""Purge records, and whether the log itself attests to each of them.

A purge is recorded in ``purges`` before any event goes, then as an ``audit_log.purge`` event
appended to the organization's log; the canonical bytes of that event are kept in
``purge_attestations`` so the record stays provable after the event itself expires. A verifier
accepts a missing event as *purged* only when a purge record that the log attests to covers it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from auditledger.core.canonical import leaf_hash
from auditledger.store.schema import leaves, purge_attestations, purges

Range = tuple[int, int]  # inclusive first and last sequence number


def compress(seqs: list[int]) -> list[Range]:
    """Sorted sequence numbers as inclusive ranges: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    ranges: list[Range] = []
    for seq in seqs:
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


def ranges_text(ranges: list[Range]) -> list[str]:
    """``["0-99", "120-120"]``: the form the purge event's ``ranges`` property holds."""
    return [f"{first}-{last}" for first, last in ranges]


def ranges_json(ranges: list[Range]) -> str:
    """The form the ``purges`` table holds."""
    return json.dumps([[first, last] for first, last in ranges], separators=(",", ":"))


@dataclass(frozen=True)
class PurgeRecord:
    """One recorded purge, and what the log says about it."""

    purge_id: uuid.UUID
    ran_at: datetime
    cutoff: datetime
    count: int
    ranges: list[Range]
    attested_seq: int | None  # the purge event's sequence number, once appended
    problem: str | None  # why the log does not back this record, or None

    @property
    def attested(self) -> bool:
        """Whether the log holds a purge event matching this record exactly."""
        return self.attested_seq is not None and self.problem is None

    def covers(self, seq: int) -> bool:
        """Whether this purge removed ``seq``."""
        return any(first <= seq <= last for first, last in self.ranges)


def purge_records(connection: Connection, org_id: int) -> list[PurgeRecord]:
    """Every purge of the organization, oldest first, each checked against its attestation."""
    attestations = {
        row.purge_id: (row.seq, row.canonical)
        for row in connection.execute(
            select(purge_attestations).where(purge_attestations.c.org_id == org_id)
        )
    }
    records = []
    for row in connection.execute(
        select(purges).where(purges.c.org_id == org_id).order_by(purges.c.ran_at)
    ):
        ranges = [(int(a), int(b)) for a, b in json.loads(row.ranges)]
        attested = attestations.get(row.purge_id)
        seq = attested[0] if attested else None
        problem = (
            _attestation_problem(connection, org_id, row._mapping["count"], ranges, *attested)
            if attested
            else "not yet attested by an audit_log.purge event"
        )
        records.append(
            PurgeRecord(
                row.purge_id, row.ran_at, row.cutoff, row._mapping["count"], ranges, seq, problem
            )
        )
    return records


def _attestation_problem(
    connection: Connection,
    org_id: int,
    count: int,
    ranges: list[Range],
    seq: int,
    canonical: bytes,
) -> str | None:
    stored_leaf = connection.execute(
        select(leaves.c.leaf_hash, leaves.c.event_id).where(
            leaves.c.org_id == org_id, leaves.c.seq == seq
        )
    ).first()
    if stored_leaf is None or stored_leaf.leaf_hash != leaf_hash(canonical):
        return f"its attestation does not match leaf {seq} of the log"
    event = json.loads(canonical)
    properties = event.get("properties", {})
    if (event.get("category"), event.get("type")) != ("audit_log", "purge"):
        return f"leaf {seq} is not a purge event"
    if properties.get("ranges") != ranges_text(ranges):
        return f"its ranges differ from those in purge event {seq}"
    if properties.get("count") != count:
        return f"its count differs from purge event {seq}"
    return None
