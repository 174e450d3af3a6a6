"""The sequence-order pass of ``verify`` over leaves and event rows (steps 1 to 3 of
:mod:`auditledger.integrity.verify`): re-hash every event, check every seq has one leaf and one
event, recompute the tree and compare the stored nodes, keep the roots checkpoints claim.

It can start part way through a log (from the tree's stored edge there), so two processes can
each take a range of seqs (:mod:`auditledger.integrity.split`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from auditledger.core.columns import JOINED_AT, DigestParts
from auditledger.core.expiry import ExpiryProof, ProofError
from auditledger.core.merkle import EMPTY_ROOT, HASH_SIZE, Frontier
from auditledger.core.rowcanon import UNREADABLE, RowCanonicalizer
from auditledger.integrity.source import LeafRow

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

    def extend(self, later: SeqRanges) -> None:
        """Add every seq of ``later`` (all no smaller than any added before)."""
        for start, end in later.ranges:
            if self.ranges and self.ranges[-1][1] >= start:
                self.ranges[-1][1] = max(self.ranges[-1][1], end)
            else:
                self.ranges.append([start, end])

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


# Whether retention purged the event at a seq, given its leaf's expiry proof (None for leaves
# older than ingest-time proofs) and leaf hash.
PurgedHook = Callable[[int, ExpiryProof | None, bytes], bool]


def _is_hash(value: Any) -> bool:
    # SQLite keeps whatever a hand-written UPDATE stores (text, an integer): such a leaf
    # hash is as wrong as one of the wrong length, and must be reported, not crash the pass.
    return type(value) is bytes and len(value) == HASH_SIZE


def _leaf_proof(leaf: LeafRow) -> ExpiryProof | None:
    seq, _hash, _nodes, prefix_len, midstate, suffix = leaf
    if prefix_len is None or midstate is None or suffix is None:
        return None
    return ExpiryProof(seq, prefix_len, bytes(midstate), bytes(suffix))


class SeqPass:
    """The sequence-order pass over leaves and event hashes (steps 1 to 3)."""

    def __init__(
        self,
        org_slug: str,
        tree_size: int,
        wanted_roots: set[int],
        purged: PurgedHook,
        frontier: Frontier | None = None,
    ) -> None:
        self.canon = RowCanonicalizer(org_slug)
        self.tree_size = tree_size
        self.wanted = wanted_roots
        self.purged = purged
        # A pass over a later range starts from the tree's edge there (split.py).
        self.frontier = frontier or Frontier()
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
            and all(_is_hash(leaf[1]) for leaf in leaves)
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
                row[0] == seq and _is_hash(row[at_hash])
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
        if leaf is None or not _is_hash(leaf):
            self.broken_at = seq
            return
        nodes = self.frontier.append(leaf)
        if stored_nodes is not None and stored_nodes != nodes:
            self.found["nodes"].add(seq)
        if self.frontier.size in self.wanted:
            self.roots[self.frontier.size] = self.frontier.root()
