"""Verify an organization's whole stored log and say exactly what is wrong, and where.

One pass in sequence order over the leaves and events:

1. every stored event is re-encoded (canonical bytes v1) and hashed; the hash must equal its
   stored leaf hash, so a changed event names its own sequence number;
2. every sequence number below the head has exactly one leaf and one event (or its event was
   purged by retention: the ``purged`` hook says which, given the leaf's expiry proof), and
   nothing is stored past the head; a stored event's leaf holds the expiry proof of exactly
   that event (what a later purge relies on);
3. the Merkle tree is recomputed from the leaf hashes, and the nodes each leaf row stores must
   equal the recomputed ones (proofs are served from those nodes);
4. the recomputed root must equal the log head's root, and, at each checkpoint's size, the root
   that checkpoint signed. Checkpoints that all match one recomputed tree are consistent with
   one another by construction; one that does not match is reported with the range of
   sequence numbers between it and the previous checkpoint that does.

Signatures are checked with the given verifier keys (the registry, or keys an auditor trusts).
Checkpoints saved earlier by an auditor (``against``) must be covered by the log: a log smaller
than one of them was rolled back. Every stored witness cosignature must be one cosignature line
that its row's columns describe, of a stored checkpoint, and verify wherever the witness's key
is known. The pieces (checkpoint opening, canonical bytes, proofs) live
in their own modules so other verifiers (an evidence bundle's) can reuse them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditledger.core.checkpoint import SignedCheckpoint, open_checkpoint
from auditledger.core.columns import (
    COLUMN_FINDINGS,
    JOINED_AT,
    ColumnCheck,
    DigestParts,
    checkpoint_metadata_problems,
)
from auditledger.core.cosignature import (
    CosignatureRow,
    WitnessKey,
    policy_problems,
    row_problems,
)
from auditledger.core.errors import InvalidInput
from auditledger.core.expiry import ExpiryProof, ProofError
from auditledger.core.keys import VerifierKey
from auditledger.core.merkle import EMPTY_ROOT, HASH_SIZE, Frontier
from auditledger.core.note import NoteSignature, parse_note, parse_signature_line
from auditledger.core.rowcanon import UNREADABLE, RowCanonicalizer
from auditledger.integrity.source import LeafRow, LogSource

PAGE = 10_000

# What each kind of per-event finding means, as the report says it.
SEQ_FINDINGS = {
    "altered": "stored event differs from its leaf hash (changed after it was recorded)",
    "expiry": (
        "the leaf's expiry proof is not that of its event (a purge of it could not prove "
        "that it had expired)"
    ),
    "unreadable": "stored event cannot be read (a column holds what auditledger never writes)",
    "missing": "event missing (not covered by a purge)",
    "duplicate": "more than one stored event has this sequence number (forged rows)",
    "leaf_missing": "leaf missing (its hash and tree nodes are gone)",
    "nodes": "stored Merkle nodes differ from the tree recomputed from the leaf hashes",
    "beyond_head": "stored past the log's head (forged rows, or the head was rolled back)",
}


class SeqRanges:
    """Sequence numbers, added in increasing order, kept as half-open ranges."""

    def __init__(self) -> None:
        self.ranges: list[list[int]] = []

    def add(self, seq: int) -> None:
        """Add ``seq`` (no smaller than any added before)."""
        if self.ranges and self.ranges[-1][1] >= seq:
            self.ranges[-1][1] = max(self.ranges[-1][1], seq + 1)
        else:
            self.ranges.append([seq, seq + 1])

    def __len__(self) -> int:
        return sum(end - start for start, end in self.ranges)

    def seqs(self) -> list[int]:
        """Every sequence number (for small sets)."""
        return [s for start, end in self.ranges for s in range(start, end)]

    def describe(self, limit: int = 20) -> str:
        """``3, 7, 10-19`` (at most ``limit`` ranges, then how many more)."""
        parts = [str(a) if b == a + 1 else f"{a}-{b - 1}" for a, b in self.ranges[:limit]]
        if len(self.ranges) > limit:
            parts.append(f"and {len(self.ranges) - limit} more ranges")
        return ", ".join(parts)


@dataclass
class Finding:
    """One problem: a kind, what it means, and where (sequence numbers or a checkpoint)."""

    kind: str
    message: str
    seqs: SeqRanges | None = None
    checkpoint: int | None = None

    def describe(self) -> str:
        """One line for people."""
        if self.seqs is not None:
            count = len(self.seqs)
            noun = "seq" if count == 1 else f"{count} seqs"
            return f"{self.message}: {noun} {self.seqs.describe()}"
        return self.message


@dataclass
class VerifyReport:
    """What :func:`verify_log` found."""

    org: str
    tree_size: int
    events_checked: int = 0
    leaves_checked: int = 0
    checkpoints_checked: int = 0
    purged: int = 0  # events absent because an attested retention purge removed them
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.findings

    def seqs(self, kind: str) -> list[int]:
        """The sequence numbers of one kind of finding (empty if none)."""
        for finding in self.findings:
            if finding.kind == kind and finding.seqs is not None:
                return finding.seqs.seqs()
        return []

    def checkpoints(self, kind: str | None = None) -> list[int]:
        """Tree sizes of the checkpoints named by findings (of one kind, if given)."""
        return [
            f.checkpoint
            for f in self.findings
            if f.checkpoint is not None and (kind is None or f.kind == kind)
        ]


@dataclass(frozen=True)
class SavedCheckpoint:
    """A checkpoint note an auditor kept, and where it came from (for the report)."""

    label: str
    note: str


@dataclass
class _Claim:
    """A root some signed checkpoint asserts for a tree size."""

    label: str
    root: bytes
    stored: bool


# Whether retention purged the event at a seq, given its leaf's expiry proof (None for leaves
# older than ingest-time proofs) and leaf hash.
PurgedHook = Callable[[int, ExpiryProof | None, bytes], bool]


def _nothing_purged(seq: int, proof: ExpiryProof | None, leaf_hash: bytes) -> bool:
    return False


def _leaf_proof(leaf: LeafRow) -> ExpiryProof | None:
    seq, _hash, _nodes, prefix_len, midstate, suffix = leaf
    if prefix_len is None or midstate is None or suffix is None:
        return None
    return ExpiryProof(seq, prefix_len, bytes(midstate), bytes(suffix))


def _problem_text(error: InvalidInput) -> str:
    return "; ".join(p.message for p in error.problems) or error.message


def open_checkpoint_finding(
    note: str, verifiers: Iterable[VerifierKey], origin: str, label: str
) -> tuple[SignedCheckpoint | None, str | None]:
    """Open a checkpoint: (the checkpoint, None) or (None, why it does not verify)."""
    try:
        return open_checkpoint(note, verifiers, origin=origin, field=label), None
    except InvalidInput as exc:
        return None, _problem_text(exc)


class _Pass:
    """The sequence-order pass over leaves and event hashes (steps 1 to 3)."""

    def __init__(
        self,
        org_slug: str,
        tree_size: int,
        wanted_roots: set[int],
        purged: PurgedHook,
    ) -> None:
        self.canon = RowCanonicalizer(org_slug)
        self.tree_size = tree_size
        self.wanted = wanted_roots
        self.purged = purged
        self.frontier = Frontier()
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT}
        self.broken_at: int | None = None  # where the tree could no longer be recomputed
        self.found = {kind: SeqRanges() for kind in SEQ_FINDINGS}
        self.events = 0
        self.leaves = 0

    def page(self, start: int, end: int, leaves: list[LeafRow], rows: list[Sequence[Any]]) -> None:
        """Check the leaves and event rows of ``start <= seq < end``."""
        self.leaves += len(leaves)
        self.events += len(rows)
        # Leaves are unique per seq and sorted, so matching ends and count mean one leaf for
        # every seq; the events are checked one by one (a duplicate can hide beside a gap).
        if (
            self.broken_at is None
            and start >= 0
            and end <= self.tree_size
            and len(leaves) == len(rows) == end - start
            and leaves[0][0] == start
            and leaves[-1][0] == end - 1
            and all(row[0] == seq for row, seq in zip(rows, range(start, end), strict=True))
            and all(len(leaf[1]) == HASH_SIZE for leaf in leaves)
        ):
            self._aligned_page(leaves, rows)
        else:
            self._irregular_page(start, end, leaves, rows)

    def _hash(self, row: Sequence[Any], leaf: LeafRow | None) -> bytes:
        """The row's leaf hash; where the leaf keeps an expiry proof, also checks that it is
        this row's (the same SHA-256 pass gives both)."""
        if leaf is None:
            return self.canon.leaf_hash(row)
        return self._hash_at(row, *leaf)

    def _hash_at(
        self,
        row: Sequence[Any],
        seq: int,
        stored: bytes,
        _nodes: bytes,
        prefix_len: int | None,
        midstate: bytes | None,
        suffix: bytes | None,
    ) -> bytes:
        if midstate is None:
            return self.canon.leaf_hash(row)
        try:
            computed, proof = self.canon.leaf_and_proof(row)
        except ProofError:  # not v1 bytes: no proof of it can match, the hash says the rest
            computed = self.canon.leaf_hash(row)
            if computed == stored:
                self.found["expiry"].add(seq)
            return computed
        if computed == stored and (proof.prefix_len, proof.midstate, proof.suffix) != (
            prefix_len,
            midstate,
            suffix,
        ):
            self.found["expiry"].add(seq)
        return computed

    def joined_page(
        self, start: int, end: int, rows: Sequence[Sequence[Any]]
    ) -> list[DigestParts | None] | None:
        """Check the page ``start <= seq < end`` from joined rows (:data:`JOINED_AT`) if it
        holds exactly one event and one leaf for every seq, in order: then the content of
        each row's idempotency digest (None where the row could not be encoded in one go),
        for :meth:`ColumnCheck.joined_page`. None for any other page, left to :meth:`page`
        (its separate reads see what a join hides)."""
        at_hash, at_nodes = JOINED_AT["leaf_hash"], JOINED_AT["nodes"]
        # The leaves' primary key is (org, seq): one joined row per seq means one leaf and
        # one event there (a second event would add a row, a missing one remove it).
        if not (
            self.broken_at is None
            and start >= 0
            and end <= self.tree_size
            and len(rows) == end - start
            and all(
                row[0] == seq and len(row[at_hash]) == HASH_SIZE
                for row, seq in zip(rows, range(start, end), strict=True)
            )
        ):
            return None
        self.leaves += len(rows)
        self.events += len(rows)
        encode = self.canon.with_digest_parts
        leaf_and_parts = self.canon.leaf_hasher().leaf_and_parts
        sha256 = hashlib.sha256
        frontier = self.frontier
        append = frontier.append
        wanted, roots = self.wanted, self.roots
        altered, nodes_differ = self.found["altered"], self.found["nodes"]
        unreadable, expiry = self.found["unreadable"], self.found["expiry"]
        at_prefix = JOINED_AT["expiry_prefix_len"]
        digests: list[DigestParts | None] = []
        for row in rows:
            seq, stored = row[0], row[at_hash]
            prefix_len, midstate, suffix = row[at_prefix], row[at_prefix + 1], row[at_prefix + 2]
            try:
                canonical, head, stamp, tail = encode(row)
            except UNREADABLE:
                # Say which of the two it is, as the separate checks do.
                digests.append(None)
                try:
                    if self._hash_at(row, seq, stored, b"", prefix_len, midstate, suffix) != stored:
                        altered.add(seq)
                except UNREADABLE:
                    unreadable.add(seq)
            else:
                digests.append((head, stamp, tail))
                if midstate is None:
                    computed = sha256(b"\x00" + canonical).digest()
                else:
                    try:
                        computed, cut, state, tail_bytes = leaf_and_parts(seq, canonical)
                    except ProofError:  # not v1 bytes: the hash says the rest
                        computed = sha256(b"\x00" + canonical).digest()
                        if computed == stored:
                            expiry.add(seq)
                    else:
                        if computed == stored and (
                            cut != prefix_len or state != midstate or tail_bytes != suffix
                        ):
                            expiry.add(seq)
                if computed != stored:
                    altered.add(seq)
            if append(stored) != row[at_nodes]:
                nodes_differ.add(seq)
            if frontier.size in wanted:
                roots[frontier.size] = frontier.root()
        return digests

    def _aligned_page(self, leaves: list[LeafRow], rows: list[Sequence[Any]]) -> None:
        # The common case, kept lean (it is most of the verifier's time): exactly one leaf
        # and one event for every seq of the page, in order.
        hash_ = self._hash
        frontier = self.frontier
        append = frontier.append
        wanted, roots = self.wanted, self.roots
        altered, nodes_differ = self.found["altered"], self.found["nodes"]
        for leaf, row in zip(leaves, rows, strict=True):
            seq, stored, stored_nodes = leaf[0], leaf[1], leaf[2]
            try:
                if hash_(row, leaf) != stored:
                    altered.add(seq)
            except UNREADABLE:
                self.found["unreadable"].add(seq)
            if append(stored) != stored_nodes:
                nodes_differ.add(seq)
            if frontier.size in wanted:
                roots[frontier.size] = frontier.root()

    def _irregular_page(
        self, start: int, end: int, leaves: list[LeafRow], rows: list[Sequence[Any]]
    ) -> None:
        leaf_at = {leaf[0]: leaf for leaf in leaves if start <= leaf[0] < end}
        hashes_at: dict[int, list[bytes | None]] = {}
        for row in rows:
            seq = row[0]
            if start <= seq < end:
                try:
                    computed: bytes | None = self._hash(row, leaf_at.get(seq))
                except UNREADABLE:
                    computed = None
                hashes_at.setdefault(seq, []).append(computed)
        for seq in range(start, end):
            leaf = leaf_at.get(seq)
            here = hashes_at.get(seq, [])
            if not 0 <= seq < self.tree_size:
                if leaf is not None or here:
                    self.found["beyond_head"].add(seq)
                continue
            if len(here) > 1:
                self.found["duplicate"].add(seq)
            for computed in here:
                if computed is None:
                    self.found["unreadable"].add(seq)
                elif leaf is not None and computed != leaf[1]:
                    self.found["altered"].add(seq)
            if leaf is None:
                self.found["leaf_missing"].add(seq)
                # Its event, if intact and alone, still tells us the leaf hash.
                self._leaf(seq, here[0] if len(here) == 1 else None, None)
                continue
            if not here and not self.purged(seq, _leaf_proof(leaf), leaf[1]):
                self.found["missing"].add(seq)
            self._leaf(seq, leaf[1], leaf[2])

    def _leaf(self, seq: int, leaf: bytes | None, stored_nodes: bytes | None) -> None:
        if self.broken_at is not None:
            return
        if leaf is None or len(leaf) != HASH_SIZE:
            self.broken_at = seq
            return
        nodes = self.frontier.append(leaf)
        if stored_nodes is not None and stored_nodes != nodes:
            self.found["nodes"].add(seq)
        if self.frontier.size in self.wanted:
            self.roots[self.frontier.size] = self.frontier.root()


def verify_log(
    source: LogSource,
    *,
    org_slug: str,
    origin: str,
    verifiers: Sequence[VerifierKey],
    against: Sequence[SavedCheckpoint] = (),
    purged: PurgedHook = _nothing_purged,
    progress: Callable[[int, int], None] | None = None,
    page_size: int = PAGE,
    witnesses: Sequence[WitnessKey] = (),
    witnesses_required: int = 0,
    known_witnesses: Sequence[WitnessKey] = (),
) -> VerifyReport:
    """Check the whole stored log of one organization; see the module docstring.

    ``purged(seq, proof, leaf_hash)`` says whether retention purged that event (its absence is
    then expected), given the expiry proof its leaf keeps (None for older leaves);
    ``progress(done, total)`` is called after each page of sequence numbers. Cosignatures by
    ``witnesses`` must verify wherever they appear, and the newest stored checkpoint (and each
    saved one) needs ``witnesses_required`` of them. Every stored cosignature row is checked;
    its signature too where its witness is one of ``witnesses`` or ``known_witnesses`` (those
    the deployment is configured with).
    """
    size, head_root = source.head()
    report = VerifyReport(org_slug, size)
    claims: dict[int, list[_Claim]] = {}
    signed: list[tuple[str, str, int]] = []  # (label, note text, size) of good checkpoints
    texts: dict[int, str | None] = {}  # size -> the stored checkpoint's note text, if readable

    for stored in source.checkpoints():
        report.checkpoints_checked += 1
        label = f"checkpoint {stored.tree_size}"
        try:
            texts[stored.tree_size] = parse_note(stored.note).text
        except InvalidInput:
            texts[stored.tree_size] = None  # reported just below, as its signature
        opened, why = open_checkpoint_finding(stored.note, verifiers, origin, label)
        if opened is None:
            report.findings.append(
                Finding("checkpoint_signature", f"{label}: {why}", checkpoint=stored.tree_size)
            )
            continue
        if (opened.tree_size, opened.root_hash) != (stored.tree_size, stored.root_hash):
            report.findings.append(
                Finding(
                    "checkpoint_row",
                    f"{label}: the stored size or root differs from the signed note's "
                    f"({opened.tree_size})",
                    checkpoint=stored.tree_size,
                )
            )
        for metadata in checkpoint_metadata_problems(stored, opened):
            report.findings.append(
                Finding("checkpoint_row", f"{label}: {metadata}", checkpoint=stored.tree_size)
            )
        claims.setdefault(opened.tree_size, []).append(_Claim(label, opened.root_hash, True))
        signed.append((label, parse_note(stored.note).text, stored.tree_size))

    cosigned = _check_cosignature_rows(
        source.cosignature_rows(), texts, [*witnesses, *known_witnesses], report
    )
    if signed and witnesses_required:
        # The newest checkpoint is the one this report stands on: it must be witnessed (by
        # rows that passed their own check; the others are reported above).
        label, text, tree_size = signed[-1]
        problems = policy_problems(
            label, text, cosigned.get(tree_size, []), witnesses, witnesses_required
        )
        report.findings.extend(Finding(p.kind, p.message, checkpoint=tree_size) for p in problems)
    if witnesses_required and not signed and size:
        report.findings.append(
            Finding(
                "witnesses",
                f"no signed checkpoint of the log's {size} events, so none is cosigned by "
                f"{witnesses_required} of the given witnesses",
            )
        )

    for saved in against:
        opened, why = open_checkpoint_finding(saved.note, verifiers, origin, saved.label)
        if opened is None:
            report.findings.append(Finding("against_signature", f"{saved.label}: {why}"))
            continue
        label = f"saved checkpoint {opened.tree_size} ({saved.label})"
        claims.setdefault(opened.tree_size, []).append(_Claim(label, opened.root_hash, False))
        note = parse_note(saved.note)  # it opened: it parses
        problems = policy_problems(label, note.text, note.signatures, witnesses, witnesses_required)
        report.findings.extend(
            Finding(p.kind, p.message, checkpoint=opened.tree_size) for p in problems
        )

    checker = _Pass(org_slug, size, set(claims) | {size}, purged)
    columns = ColumnCheck()
    low, high = source.seq_span()
    low, high = min(low, 0), max(high, size)
    for start in range(low, high, page_size):
        end = min(start + page_size, high)
        joined = source.joined_rows(start, end)
        digests = checker.joined_page(start, end, joined)
        if digests is not None:
            columns.joined_page(joined, digests)
        else:
            rows = source.event_rows(start, end)
            checker.page(start, end, source.leaves(start, end), rows)
            columns.page(source.leaf_evidence(start, end), rows)
        if progress is not None:
            progress(end - low, high - low)
    report.events_checked, report.leaves_checked = checker.events, checker.leaves
    columns.finish_directory(source.directory(), complete=columns.events == size)
    # Where the record itself differs from its leaf, comparing other columns with it says
    # nothing more: that seq is already reported.
    untrusted = set(checker.found["altered"].seqs()) | set(checker.found["unreadable"].seqs())
    report.findings.extend(_column_findings(columns, untrusted))

    for kind, message in SEQ_FINDINGS.items():
        if checker.found[kind].ranges:
            report.findings.append(Finding(kind, message, seqs=checker.found[kind]))
    if checker.broken_at is None and checker.roots.get(size) != head_root:
        report.findings.append(
            Finding("head", f"the log head's root is not the root of its {size} stored leaves")
        )
    report.findings.extend(_root_findings(claims, checker, size))
    return report


def _check_cosignature_rows(
    rows: Sequence[CosignatureRow],
    texts: dict[int, str | None],
    witnesses: Sequence[WitnessKey],
    report: VerifyReport,
) -> dict[int, list[NoteSignature]]:
    """Report each stored cosignature row that is not what it claims (one finding per row);
    the signatures of the others, by tree size."""
    good: dict[int, list[NoteSignature]] = {}
    for row in rows:
        problems = row_problems(row, texts, witnesses)
        size = row.tree_size if isinstance(row.tree_size, int) else None
        if problems:
            report.findings.append(
                Finding(
                    "cosignature_row",
                    f"cosignature of checkpoint {row.tree_size} by {row.witness_name}"
                    f"+{row.key_id}: " + "; ".join(problems),
                    checkpoint=size,
                )
            )
        elif size is not None and isinstance(row.line, str):
            good.setdefault(size, []).append(parse_signature_line(row.line))
    return good


def _column_findings(columns: ColumnCheck, untrusted: set[int]) -> list[Finding]:
    findings = []
    for kind, message in COLUMN_FINDINGS.items():
        seqs = SeqRanges()
        for seq in columns.seqs(kind):
            if seq not in untrusted:
                seqs.add(seq)
        if seqs.ranges:
            findings.append(Finding(kind, message, seqs=seqs))
    if columns.orphans:
        findings.append(
            Finding(
                "directory_orphan",
                "directory entries that no stored event names: " + ", ".join(columns.orphans[:20]),
            )
        )
    return findings


def _root_findings(claims: dict[int, list[_Claim]], checker: _Pass, size: int) -> list[Finding]:
    findings: list[Finding] = []
    last_good = 0  # the largest stored checkpoint size whose root matched so far
    for tree_size in sorted(claims):
        for claim in claims[tree_size]:
            kind = "checkpoint" if claim.stored else "against"
            if tree_size > size:
                findings.append(
                    Finding(
                        f"{kind}_beyond_log",
                        f"{claim.label} covers {tree_size} events but the log has {size}: "
                        "events were removed or the database was rolled back",
                        checkpoint=tree_size,
                    )
                )
            elif tree_size not in checker.roots:
                findings.append(
                    Finding(
                        f"{kind}_unchecked",
                        f"{claim.label} cannot be checked: the tree cannot be recomputed past "
                        f"seq {checker.broken_at}",
                        checkpoint=tree_size,
                    )
                )
            elif checker.roots[tree_size] != claim.root:
                findings.append(
                    Finding(
                        f"{kind}_root",
                        f"{claim.label} signed a different root than the log's first "
                        f"{tree_size} events have: the stored log differs from what was signed "
                        f"within seq {last_good}-{tree_size - 1}",
                        checkpoint=tree_size,
                    )
                )
            elif claim.stored:
                last_good = tree_size
    return findings
