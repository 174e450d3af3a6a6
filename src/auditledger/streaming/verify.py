"""The receiver's side: check a captured stream with the organization's public key alone.

:class:`StreamVerifier` takes batches in the order they arrived (a receiver can feed it live;
``auditledger verify-stream`` feeds it a saved file) and reports, per batch, anything that is
not exactly the log's: a checkpoint not signed by a trusted key, an event whose leaf hash or
inclusion proof does not lead to the checkpoint's root, an event edited after it was hashed, a
log that was rewritten between two batches (the consistency proof fails), or a gap (a batch
missing between two others, or, for an unfiltered destination, an event missing from a batch).
It imports only the pure integrity code, never storage.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from auditledger.core.canonical import leaf_hash
from auditledger.core.checkpoint import SignedCheckpoint, open_checkpoint
from auditledger.core.errors import InvalidInput
from auditledger.core.keys import VerifierKey
from auditledger.core.merkle import verify_consistency, verify_inclusion

FORMAT = "auditledger-stream"
# The event fields the canonical bytes fix, as (event JSON key, canonical key).
_BOUND = (
    ("id", "id"),
    ("organization", "org"),
    ("seq", "seq"),
    ("timestamp", "timestamp"),
    ("received", "received"),
    ("category", "category"),
    ("type", "type"),
    ("properties", "properties"),
    ("project", "project"),
    ("actor", "actor"),
)


@dataclass
class StreamReport:
    """What a verification found."""

    batches: int = 0
    events: int = 0
    unbound: int = 0  # events whose content could not be checked (source withheld)
    first_seq: int | None = None
    to_seq: int | None = None
    tree_size: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing wrong."""
        return not self.problems and self.batches > 0


def _hex(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not a hex string")
    data = bytes.fromhex(value)
    if len(data) != 32:
        raise ValueError("not 32 bytes")
    return data


def _subject_of(canonical: dict[str, Any]) -> dict[str, Any]:
    subject = dict(canonical["subject"])
    parent = subject.pop("parent", None)
    if parent is not None:
        subject["parent"] = parent
    return subject


def content_problem(event: dict[str, Any], canonical: dict[str, Any]) -> str | None:
    """Why ``event`` (the JSON sent) is not what the canonical bytes say, or None."""
    for key, canonical_key in _BOUND:
        if event.get(key) != canonical.get(canonical_key):
            return f"its {key} differs from its hashed content"
    if event.get("subject") != _subject_of(canonical):
        return "its subject differs from its hashed content"
    if "source" in event and event["source"] != canonical.get("source"):
        return "its source differs from its hashed content"
    return None


class StreamVerifier:
    """Checks batches one after another, remembering what the previous one proved."""

    def __init__(self, verifiers: list[VerifierKey]) -> None:
        self.verifiers = verifiers
        self.report = StreamReport()
        self._previous: dict[str, Any] | None = None
        self._checkpoint: SignedCheckpoint | None = None

    def feed(self, batch: Any) -> list[str]:
        """Check one batch; its problems (also added to :attr:`report`)."""
        number = self.report.batches + 1
        try:
            problems = self._check(batch)
        except (KeyError, TypeError, ValueError) as exc:
            problems = [f"malformed: {type(exc).__name__}: {exc}"]
        problems = [f"batch {number}: {p}" for p in problems]
        self.report.batches = number
        self.report.problems.extend(problems)
        return problems

    def _check(self, batch: Any) -> list[str]:
        if not isinstance(batch, dict) or batch.get("format") != FORMAT:
            return [f"not an {FORMAT} batch"]
        if batch.get("version") != 1:
            return [f"unknown version {batch.get('version')!r}"]
        org = str(batch["organization"])
        origin = str(batch["origin"])
        if not origin.endswith("/" + org):
            return [f"origin {origin!r} is not the log of organization {org!r}"]
        try:
            checkpoint = open_checkpoint(str(batch["checkpoint"]), self.verifiers, origin=origin)
        except InvalidInput as exc:
            why = "; ".join(p.message for p in exc.problems) or exc.message
            return [f"checkpoint does not verify: {why}"]
        problems = self._check_chain(batch, checkpoint)
        problems.extend(self._check_events(batch, checkpoint, org))
        self._previous = batch
        self._checkpoint = checkpoint
        report = self.report
        if report.first_seq is None:
            report.first_seq = int(batch["from_seq"])
        report.to_seq = int(batch["to_seq"])
        report.tree_size = checkpoint.tree_size
        return problems

    def _check_chain(self, batch: dict[str, Any], checkpoint: SignedCheckpoint) -> list[str]:
        problems: list[str] = []
        from_seq, to_seq = int(batch["from_seq"]), int(batch["to_seq"])
        if not 0 <= from_seq <= to_seq <= checkpoint.tree_size:
            problems.append(
                f"range {from_seq}-{to_seq} is not inside the checkpoint's "
                f"{checkpoint.tree_size} events"
            )
        previous, before = self._previous, self._checkpoint
        if previous is None or before is None:
            return problems
        if batch["destination"] != previous["destination"]:
            problems.append("it belongs to another destination than the batch before it")
        if from_seq != int(previous["to_seq"]):
            problems.append(
                f"gap: it starts at seq {from_seq}, the batch before ended at "
                f"{previous['to_seq']} (events {previous['to_seq']}-{from_seq - 1} missing)"
                if from_seq > int(previous["to_seq"])
                else f"overlap: it starts at seq {from_seq}, before {previous['to_seq']}"
            )
        if checkpoint.tree_size < before.tree_size:
            problems.append("its checkpoint is older than the previous batch's")
        elif checkpoint.tree_size == before.tree_size:
            if checkpoint.root_hash != before.root_hash:
                problems.append("two checkpoints of one size with different roots")
        else:
            if batch.get("previous_tree_size") != before.tree_size:
                problems.append("its consistency proof is not from the previous batch's checkpoint")
            proof = [_hex(h) for h in batch["consistency"]]
            if not verify_consistency(
                before.tree_size,
                checkpoint.tree_size,
                before.root_hash,
                checkpoint.root_hash,
                proof,
            ):
                problems.append(
                    f"the log of {checkpoint.tree_size} events does not extend the previous "
                    f"checkpoint of {before.tree_size}: the log was rewritten"
                )
        return problems

    def _check_events(
        self, batch: dict[str, Any], checkpoint: SignedCheckpoint, org: str
    ) -> list[str]:
        problems: list[str] = []
        from_seq, to_seq = int(batch["from_seq"]), int(batch["to_seq"])
        seqs: list[int] = []
        for record in batch["events"]:
            seq = int(record["seq"])
            label = f"event seq {seq}"
            event = record["event"]
            if seqs and seq <= seqs[-1]:
                problems.append(f"{label}: out of order (after seq {seqs[-1]})")
            seqs.append(seq)
            if not from_seq <= seq < to_seq:
                problems.append(f"{label}: outside the batch's range {from_seq}-{to_seq}")
            if event.get("seq") != seq or event.get("id") != record["id"]:
                problems.append(f"{label}: its id or seq differs from the record's")
            if event.get("organization") != org:
                problems.append(f"{label}: of another organization")
            leaf = _hex(record["leaf_hash"])
            proof = [_hex(h) for h in record["inclusion"]]
            if not verify_inclusion(seq, checkpoint.tree_size, leaf, proof, checkpoint.root_hash):
                problems.append(f"{label}: not in the log (its inclusion proof fails)")
                continue
            canonical_text = record.get("canonical")
            if canonical_text is None:
                self.report.unbound += 1
                if "source" in event:
                    problems.append(f"{label}: a source without the hashed content to check it")
            else:
                canonical_bytes = str(canonical_text).encode("utf-8")
                if leaf_hash(canonical_bytes) != leaf:
                    problems.append(f"{label}: its content does not hash to its leaf hash")
                else:
                    why = content_problem(event, json.loads(canonical_bytes))
                    if why:
                        problems.append(f"{label}: tampered: {why}")
            self.report.events += 1
        if not batch.get("filtered") and seqs != list(range(from_seq, to_seq)):
            missing = sorted(set(range(from_seq, to_seq)) - set(seqs))
            shown = ", ".join(str(s) for s in missing[:10])
            problems.append(
                f"gap: an unfiltered batch of {from_seq}-{to_seq} lacks seq {shown}"
                + (" and more" if len(missing) > 10 else "")
            )
        return problems


def read_batches(lines: Iterable[str]) -> Iterator[Any]:
    """Batches of a saved stream: one JSON batch per line (blank lines ignored)."""
    for line in lines:
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                yield {"malformed": str(exc)}


def verify_stream(lines: Iterable[str], verifiers: list[VerifierKey]) -> StreamReport:
    """Check a whole saved stream."""
    verifier = StreamVerifier(verifiers)
    for batch in read_batches(lines):
        verifier.feed(batch)
    if verifier.report.batches == 0:
        verifier.report.problems.append("the stream holds no batch")
    return verifier.report
