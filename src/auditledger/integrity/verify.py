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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from auditledger.core.checkpoint import SignedCheckpoint, open_checkpoint
from auditledger.core.columns import (
    COLUMN_FINDINGS,
    ColumnCheck,
    checkpoint_metadata_problems,
)
from auditledger.core.cosignature import (
    CosignatureRow,
    WitnessKey,
    policy_problems,
    row_problems,
)
from auditledger.core.errors import InvalidInput
from auditledger.core.expiry import ExpiryProof
from auditledger.core.keys import VerifierKey
from auditledger.core.note import NoteSignature, parse_note, parse_signature_line
from auditledger.integrity.seq_pass import SEQ_FINDINGS, PurgedHook, SeqPass, SeqRanges
from auditledger.integrity.source import LogSource
from auditledger.integrity.split import SecondProcess

__all__ = ["SEQ_FINDINGS", "Finding", "SavedCheckpoint", "SeqRanges", "VerifyReport", "verify_log"]

PAGE = 10_000


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


def _nothing_purged(seq: int, proof: ExpiryProof | None, leaf_hash: bytes) -> bool:
    return False


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
    processes: int = 1,
) -> VerifyReport:
    """Check the whole stored log of one organization; see the module docstring.

    ``purged(seq, proof, leaf_hash)`` says whether retention purged that event (its absence is
    then expected), given the expiry proof its leaf keeps (None for older leaves);
    ``progress(done, total)`` is called after each page of sequence numbers. Cosignatures by
    ``witnesses`` must verify wherever they appear, and the newest stored checkpoint (and each
    saved one) needs ``witnesses_required`` of them. Every stored cosignature row is checked;
    its signature too where its witness is one of ``witnesses`` or ``known_witnesses`` (those
    the deployment is configured with). With ``processes`` 2, a second process checks the
    upper half of a large log's seqs meanwhile (:mod:`auditledger.integrity.split`).
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

    checker = SeqPass(org_slug, size, set(claims) | {size}, purged)
    columns = ColumnCheck()
    low, high = source.seq_span()
    low, high = min(low, 0), max(high, size)

    def check(first: int, stop: int) -> None:
        for start in range(first, stop, page_size):
            end = min(start + page_size, stop)
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

    second = (
        SecondProcess.start(
            source,
            org_slug=org_slug,
            low=low,
            tree_size=size,
            wanted=checker.wanted,
            page_size=page_size,
        )
        if processes > 1
        else None
    )
    if second is None:
        check(low, high)
    else:
        try:
            check(low, second.job.start)
            resume = second.join(checker, columns)
        finally:
            second.close()
        check(resume, high)
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


def _root_findings(claims: dict[int, list[_Claim]], checker: SeqPass, size: int) -> list[Finding]:
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
