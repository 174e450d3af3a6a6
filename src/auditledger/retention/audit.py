"""Holding every purge to the retention rules: for ``verify`` (every proof) and for
``GET /retention`` (the same rules, proofs only counted). See :mod:`retention.proven`."""

from __future__ import annotations

import bisect
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from auditledger.core.canonical import format_timestamp
from auditledger.core.expiry import ExpiryProof, ProofError, proven_occurrence
from auditledger.integrity.verify import Finding, SeqRanges
from auditledger.retention.proven import Rules, epoch, iter_proofs, leaf_proof_count, proof_summary
from auditledger.retention.records import PurgeRecord, Range, compress, purge_records
from auditledger.store.schema import purge_attestations


def _attestations(connection: Connection, org_id: int) -> dict[uuid.UUID, dict[str, object]]:
    found: dict[uuid.UUID, dict[str, object]] = {}
    for row in connection.execute(
        select(purge_attestations.c.purge_id, purge_attestations.c.canonical).where(
            purge_attestations.c.org_id == org_id
        )
    ):
        try:
            found[row.purge_id] = json.loads(row.canonical)
        except ValueError:
            continue  # records.py reports an attestation that is not the leaf's event
    return found


def _label(record: PurgeRecord) -> str:
    return f"purge {record.purge_id} ({record.count} events, {record.ran_at:%Y-%m-%d})"


def purge_problems(
    connection: Connection, org_id: int, default_days: int, floor_days: int
) -> list[tuple[PurgeRecord, str | None]]:
    """Every purge with what is wrong with it, or None: attestation, rules, and whether its
    expiry proofs are all there and all before its cutoff (their hashes are verify's job)."""
    records = purge_records(connection, org_id)
    rules = Rules.load(connection, org_id, default_days, floor_days)
    attestations = _attestations(connection, org_id)
    legacy_below = epoch(connection, org_id)
    checked = []
    for record in records:
        problem = record.problem or rules.problem(record, attestations.get(record.purge_id))
        if problem is None and (record.attested_seq or 0) >= legacy_below:
            count, latest = proof_summary(connection, org_id, record.purge_id)
            # Leaves with ingest-time proofs, counted where they show an expired event.
            count += leaf_proof_count(connection, org_id, record.ranges, record.cutoff)
            if count != record.count:
                problem = f"it has expiry proofs for {count} of its {record.count} events"
            elif latest is not None and latest >= record.cutoff:
                problem = (
                    f"an expiry proof claims an event of {format_timestamp(latest)}, "
                    "not before its cutoff"
                )
        checked.append((record, problem))
    return checked


class _Spans:
    """A set of sequence numbers given as (possibly overlapping) inclusive ranges."""

    def __init__(self, spans: Iterable[Range]) -> None:
        merged: list[Range] = []
        for first, last in sorted(spans):
            if merged and first <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], last))
            else:
                merged.append((first, last))
        self._ranges = merged
        self._starts = [first for first, _ in merged]

    def covers(self, seq: int) -> bool:
        """Whether ``seq`` is in the set."""
        index = bisect.bisect_right(self._starts, seq) - 1
        return index >= 0 and self._ranges[index][0] <= seq <= self._ranges[index][1]


class _Cutoffs:
    """For a seq, the latest cutoff of the valid purges that cover it (None if none does)."""

    def __init__(self, given: Iterable[tuple[Range, datetime]]) -> None:
        spans = list(given)
        points = sorted({p for (first, last), _ in spans for p in (first, last + 1)})
        best: list[datetime | None] = [None] * len(points)
        for (first, last), cutoff in spans:
            for index in range(bisect.bisect_left(points, first), len(points)):
                if points[index] > last:
                    break
                current = best[index]
                if current is None or cutoff > current:
                    best[index] = cutoff
        self._points = points
        self._best = best

    def get(self, seq: int) -> datetime | None:
        """The latest cutoff that applies to ``seq``."""
        index = bisect.bisect_right(self._points, seq) - 1
        return self._best[index] if index >= 0 else None


@dataclass
class _Claim:
    record: PurgeRecord
    valid: bool  # attested and within the rules
    legacy: bool  # attested before expiry proofs existed


class ProvenPurges:
    """``purged(seq)`` for :func:`integrity.verify.verify_log`: true only for an event that a
    valid purge removed and proved expired (or a purge from before proofs removed)."""

    def __init__(
        self, connection: Connection, org_id: int, default_days: int, floor_days: int
    ) -> None:
        records = purge_records(connection, org_id)
        rules = Rules.load(connection, org_id, default_days, floor_days)
        attestations = _attestations(connection, org_id)
        legacy_below = epoch(connection, org_id)
        self.findings: list[Finding] = []
        claims: list[tuple[Range, _Claim]] = []
        valid: dict[uuid.UUID, PurgeRecord] = {}
        for record in records:
            if not record.attested:
                self.findings.append(Finding("purge_record", f"{_label(record)}: {record.problem}"))
                continue
            why = rules.problem(record, attestations.get(record.purge_id))
            if why is not None:
                self.findings.append(Finding("purge_rule", f"{_label(record)}: {why}"))
            claim = _Claim(record, why is None, (record.attested_seq or 0) < legacy_below)
            claims.extend((span, claim) for span in record.ranges)
            if claim.valid:
                valid[record.purge_id] = record
        self._legacy = _Spans(span for span, c in claims if c.valid and c.legacy)
        self._cutoffs = _Cutoffs(
            (span, c.record.cutoff) for span, c in claims if c.valid and not c.legacy
        )
        self._claimed = _Spans(span for span, _ in claims)
        proven: list[int] = []
        bad: list[str] = []
        for proof, purge_id, stored_time, leaf in iter_proofs(connection, org_id):
            owner = valid.get(purge_id)
            if owner is None or not owner.covers(proof.seq) or leaf is None:
                continue  # a proof of no valid purge proves nothing
            try:
                occurred = proven_occurrence(proof, leaf)
            except ProofError as exc:
                bad.append(str(exc))
                continue
            if occurred != stored_time:
                bad.append(f"seq {proof.seq}: expiry proof's stored time differs from its tail")
            elif occurred >= owner.cutoff:
                bad.append(
                    f"seq {proof.seq}: occurred {format_timestamp(occurred)}, not before the "
                    f"cutoff {format_timestamp(owner.cutoff)} of purge {purge_id}"
                )
            else:
                proven.append(proof.seq)
        self._proven = _Spans(compress(proven))
        self._bad = bad
        self.unproven = SeqRanges()
        self.hits = 0
        self.legacy_hits = 0

    def __call__(self, seq: int, proof: ExpiryProof | None, leaf_hash: bytes) -> bool:
        if self._proven.covers(seq):
            self.hits += 1
            return True
        if self._legacy.covers(seq):
            self.hits += 1
            self.legacy_hits += 1
            return True
        cutoff = self._cutoffs.get(seq)
        if cutoff is not None and proof is not None:
            # The proof its leaf has kept since ingest: it leads to the leaf hash and shows an
            # occurrence before the cutoff of a valid purge that covers the seq.
            try:
                occurred = proven_occurrence(proof, leaf_hash)
            except ProofError as exc:
                self._bad.append(str(exc))
            else:
                if occurred < cutoff:
                    self.hits += 1
                    return True
                self._bad.append(
                    f"seq {seq}: occurred {format_timestamp(occurred)}, not before the cutoff "
                    f"{format_timestamp(cutoff)} of any valid purge that covers it"
                )
        if self._claimed.covers(seq):
            self.unproven.add(seq)
        return False

    def final_findings(self) -> list[Finding]:
        """The findings, including every removed event no valid purge proves expired."""
        findings = list(self.findings)
        bad = self._bad
        for line in bad[:20]:
            findings.append(Finding("purge_proof", line))
        if len(bad) > 20:
            findings.append(Finding("purge_proof", f"and {len(bad) - 20} more bad proofs"))
        if self.unproven.ranges:
            findings.append(
                Finding(
                    "purge_unproven",
                    "removed by a purge without proof that it had expired (a forged or "
                    "rule-breaking purge)",
                    seqs=self.unproven,
                )
            )
        return findings
