"""An RFC 6962 / RFC 9162 Merkle tree over an organization's events, in sequence order.

Storage model: only *perfect* subtrees (2**level leaves, aligned) are ever stored, and each is
stored exactly once, in the row of the leaf that completed it. Leaf ``i`` completes the nodes
at levels 1..t where t is the number of trailing one bits of ``i``; those t hashes are kept
with leaf ``i`` as one blob, level 1 first. Any subtree hash a root or proof needs is either a
stored perfect node or a fold of a few of them, so no operation rehashes the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from auditledger.core.canonical import node_hash

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# (level, index): the perfect subtree over leaves [index * 2**level, (index + 1) * 2**level).
NodeId = tuple[int, int]
NodeFetcher = Callable[[Iterable[NodeId]], dict[NodeId, bytes]]


def largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (RFC 6962's split point k), n >= 2."""
    if n < 2:
        raise ValueError("a split needs at least two leaves")
    return 1 << ((n - 1).bit_length() - 1)


def completing_leaf(node: NodeId) -> int:
    """The index of the leaf whose row stores ``node`` (the last leaf it covers)."""
    level, index = node
    return ((index + 1) << level) - 1


def perfect_decomposition(start: int, end: int) -> list[NodeId]:
    """The aligned perfect subtrees that tile leaves [start, end), left to right, largest first."""
    nodes: list[NodeId] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length()
        while (1 << level) > end - start:
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a range from its perfect decomposition: right to left, as RFC 6962 defines."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc)
    return acc


class Frontier:
    """The right edge of a tree: enough to append leaves and compute the root in O(log n)."""

    def __init__(self, size: int = 0, edge: Sequence[bytes] = ()) -> None:
        positions = perfect_decomposition(0, size)
        if len(positions) != len(edge):
            raise ValueError(
                f"a tree of size {size} has {len(positions)} edge nodes, not {len(edge)}"
            )
        self.size = size
        self._stack: list[tuple[int, bytes]] = [
            (level, h) for (level, _), h in zip(positions, edge, strict=True)
        ]

    def append(self, leaf: bytes) -> bytes:
        """Add a leaf hash; return the hashes of the nodes it completed (levels 1..t, joined)."""
        stack = self._stack
        self.size += 1
        if not stack or stack[-1][0] != 0:
            # Every other leaf (an even index) completes nothing; the verifier's hot path.
            stack.append((0, leaf))
            return b""
        completed: list[bytes] = []
        level, acc = 0, leaf
        while stack and stack[-1][0] == level:
            _, left = stack.pop()
            acc = node_hash(left, acc)
            level += 1
            completed.append(acc)
        stack.append((level, acc))
        return b"".join(completed)

    def root(self) -> bytes:
        """The Merkle tree hash of all leaves appended so far."""
        return fold([h for _, h in self._stack])

    def edge(self) -> list[bytes]:
        """The perfect-subtree hashes along the right edge, left to right."""
        return [h for _, h in self._stack]


def subtree_hashes(ranges: Sequence[tuple[int, int]], fetch: NodeFetcher) -> list[bytes]:
    """The hash of each range, fetching every perfect node needed in a single call."""
    decompositions = [perfect_decomposition(a, b) for a, b in ranges]
    wanted = {node for nodes in decompositions for node in nodes}
    found = fetch(wanted)
    missing = wanted - found.keys()
    if missing:
        raise LookupError(f"Merkle nodes missing from storage: {sorted(missing)[:5]}")
    return [fold([found[n] for n in nodes]) for nodes in decompositions]


def root_hash(size: int, fetch: NodeFetcher) -> bytes:
    """The root of the tree's first ``size`` leaves."""
    if size == 0:
        return EMPTY_ROOT
    return subtree_hashes([(0, size)], fetch)[0]


def _inclusion_ranges(index: int, start: int, end: int) -> list[tuple[int, int]]:
    # PATH(m, D[start:end]) of RFC 6962 2.1.1, as the leaf ranges whose hashes form the proof,
    # the leaf's sibling first. A loop from the top rather than the RFC's recursion: a streamed
    # batch computes one path per event, and the calls were a third of delivery's CPU.
    ranges: list[tuple[int, int]] = []
    while end - start > 1:
        k = 1 << ((end - start - 1).bit_length() - 1)  # largest_power_of_two_below
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def _consistency_ranges(m: int, start: int, end: int, complete: bool) -> list[tuple[int, int]]:
    # SUBPROOF(m, D[start:end], b) of RFC 6962 2.1.2; m counts leaves from ``start``.
    n = end - start
    if m == n:
        return [] if complete else [(start, end)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*_consistency_ranges(m, start, start + k, complete), (start + k, end)]
    return [*_consistency_ranges(m - k, start + k, end, False), (start, start + k)]


def inclusion_proof(index: int, size: int, fetch: NodeFetcher) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    return subtree_hashes(_inclusion_ranges(index, 0, size), fetch)


def inclusion_proofs(indices: Sequence[int], size: int, fetch: NodeFetcher) -> list[list[bytes]]:
    """The audit paths of many leaves of one tree, reading every node they need in one call
    (what a streamed batch or an export needs: one storage query, not one per leaf)."""
    for index in indices:
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of size {size}")
    paths = [_inclusion_ranges(index, 0, size) for index in indices]
    # Neighbouring leaves share most of their paths (every range above their common subtree):
    # each distinct range is decomposed and hashed once for the whole batch.
    decompositions: dict[tuple[int, int], list[NodeId]] = {}
    for path in paths:
        for a, b in path:
            if (a, b) not in decompositions:
                decompositions[(a, b)] = perfect_decomposition(a, b)
    wanted = {node for nodes in decompositions.values() for node in nodes}
    found = fetch(wanted) if wanted else {}
    missing = wanted - found.keys()
    if missing:
        raise LookupError(f"Merkle nodes missing from storage: {sorted(missing)[:5]}")
    hashes = {r: fold([found[n] for n in nodes]) for r, nodes in decompositions.items()}
    return [[hashes[r] for r in path] for path in paths]


def consistency_proof(first: int, second: int, fetch: NodeFetcher) -> list[bytes]:
    """The proof that the tree of ``first`` leaves is a prefix of that of ``second`` (2.1.4.1)."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first == second:
        return []
    return subtree_hashes(_consistency_ranges(first, 0, second, True), fetch)


def inclusion_proof_length(index: int, size: int) -> int:
    """How many hashes PATH(index, D[size]) holds (0 <= index < size)."""
    # Levels below the split where the paths to ``index`` and to the last leaf part ("inner")
    # each contribute one sibling; above it, one per left perfect subtree ("border").
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_length(first: int, second: int) -> int:
    """How many hashes the RFC 9162 consistency proof from ``first`` to ``second`` holds."""
    if first == second:
        return 0
    shift = (first & -first).bit_length() - 1  # trailing zero bits of ``first``
    inner = ((first - 1) ^ (second - 1)).bit_length()
    border = ((first - 1) >> inner).bit_count()
    # A first tree that is itself a perfect subtree needs no seed hash: the verifier has it.
    return inner - shift + border + (0 if first == 1 << shift else 1)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does ``proof`` show leaf ``index`` with hash ``leaf`` under ``root``?

    Checked before any hashing: the index is inside the tree, every hash is 32 bytes and the
    proof has exactly the length PATH(index, D[size]) has, so no element goes unchecked.
    """
    if not 0 <= index < size or len(leaf) != HASH_SIZE or len(root) != HASH_SIZE:
        return False
    if len(proof) != inclusion_proof_length(index, size):
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, acc = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            acc = node_hash(p, acc)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            acc = node_hash(acc, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and acc == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: does ``proof`` show tree ``first`` is a prefix of tree ``second``?

    Sizes must satisfy 0 < first <= second (an empty tree is a prefix of every tree, but
    RFC 9162 defines no proof for it). As for inclusion, lengths are checked before hashing.
    """
    if not 0 < first <= second or len(first_root) != HASH_SIZE or len(second_root) != HASH_SIZE:
        return False
    if len(proof) != consistency_proof_length(first, second):
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    if first == second:
        return first_root == second_root
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
