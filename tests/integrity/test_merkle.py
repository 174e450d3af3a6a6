"""The Merkle code against a naive, recursive reading of RFC 6962 section 2.1, for every tree
size from 1 to 300: roots, every inclusion proof, every consistency pair, and mutated proofs.

The naive side hashes each leaf range once (memoized) and the stored side builds its perfect
nodes once, so the whole sweep costs a few seconds instead of re-hashing the tree per size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from functools import cache

import pytest

from auditledger.core.canonical import leaf_hash
from auditledger.core.merkle import (
    EMPTY_ROOT,
    Frontier,
    NodeId,
    completing_leaf,
    consistency_proof,
    consistency_proof_length,
    inclusion_proof,
    inclusion_proof_length,
    perfect_decomposition,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 300
# Leaves beyond MAX_SIZE exist only so "wrong size" probes (2n) have a true root to compare to.
DATA = [f"leaf {i}".encode() for i in range(2 * MAX_SIZE + 2)]


# -- the naive implementation, straight from RFC 6962 2.1 -------------------------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(start: int, end: int) -> bytes:
    """MTH(D[start:end])."""
    n = end - start
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + DATA[start]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + mth(start, start + k) + mth(start + k, end)).digest()


@cache
def path(m: int, start: int, end: int) -> tuple[bytes, ...]:
    """PATH(m, D[start:end]), m counted from ``start``."""
    n = end - start
    if n == 1:
        return ()
    k = _k(n)
    if m < k:
        return (*path(m, start, start + k), mth(start + k, end))
    return (*path(m - k, start + k, end), mth(start, start + k))


@cache
def subproof(m: int, start: int, end: int, complete: bool) -> tuple[bytes, ...]:
    """SUBPROOF(m, D[start:end], b)."""
    n = end - start
    if m == n:
        return () if complete else (mth(start, end),)
    k = _k(n)
    if m <= k:
        return (*subproof(m, start, start + k, complete), mth(start + k, end))
    return (*subproof(m - k, start + k, end, False), mth(start, start + k))


def naive_consistency(m: int, n: int) -> tuple[bytes, ...]:
    """PROOF(m, D[n]) for 0 < m <= n."""
    return subproof(m, 0, n, True)


# -- the stored side: perfect nodes as the log keeps them --------------------------------------


def build_store(size: int) -> dict[NodeId, bytes]:
    """Every perfect node of a tree of ``size`` leaves, as the leaves rows hold them."""
    frontier = Frontier()
    store: dict[NodeId, bytes] = {}
    for index in range(size):
        leaf = leaf_hash(DATA[index])
        store[(0, index)] = leaf
        blob = frontier.append(leaf)
        for level in range(1, len(blob) // 32 + 1):
            store[(level, index >> level)] = blob[(level - 1) * 32 : level * 32]
    return store


STORE = build_store(MAX_SIZE)


def fetch_upto(size: int) -> Callable[[Iterable[NodeId]], dict[NodeId, bytes]]:
    """A fetcher that knows only the nodes a log of ``size`` leaves has stored."""

    def fetch(wanted: Iterable[NodeId]) -> dict[NodeId, bytes]:
        return {n: STORE[n] for n in wanted if n in STORE and completing_leaf(n) < size}

    return fetch


def sizes() -> range:
    return range(1, MAX_SIZE + 1)


def flip(proof: list[bytes], position: int) -> list[bytes]:
    """The proof with one bit of element ``position`` flipped (a different bit each time)."""
    changed = bytearray(proof[position])
    bit = (position * 37) % 256
    changed[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:position], bytes(changed), *proof[position + 1 :]]


# -- roots -------------------------------------------------------------------------------------


def test_roots_agree_with_naive_for_every_size() -> None:
    frontier = Frontier()
    assert frontier.root() == EMPTY_ROOT == mth(0, 0)
    assert root_hash(0, fetch_upto(0)) == EMPTY_ROOT
    for size in sizes():
        frontier.append(leaf_hash(DATA[size - 1]))
        assert frontier.root() == mth(0, size), size
        assert root_hash(size, fetch_upto(size)) == mth(0, size), size
        # A frontier rebuilt from its edge (what an append does after a restart) agrees too.
        rebuilt = Frontier(size, frontier.edge())
        assert rebuilt.root() == mth(0, size)


def test_perfect_decomposition_tiles_ranges_with_aligned_perfect_subtrees() -> None:
    for start in range(70):
        for end in range(start, 140):
            nodes = perfect_decomposition(start, end)
            covered = [i for lv, index in nodes for i in range((index << lv), (index + 1) << lv)]
            assert covered == list(range(start, end))
            for level, index in nodes:
                assert mth(index << level, (index + 1) << level) == STORE[(level, index)]


def test_missing_nodes_are_an_error_not_a_wrong_root() -> None:
    with pytest.raises(LookupError):
        root_hash(5, lambda wanted: {})


# -- inclusion ---------------------------------------------------------------------------------

INCLUSION = [(i, n) for n in sizes() for i in range(n)]
CONSISTENCY = [(m, n) for n in sizes() for m in range(1, n + 1)]


@pytest.fixture(scope="module")
def inclusion_proofs() -> dict[tuple[int, int], list[bytes]]:
    """Every inclusion proof of every tree, generated once from the stored nodes."""
    return {(i, n): inclusion_proof(i, n, fetch_upto(n)) for i, n in INCLUSION}


@pytest.fixture(scope="module")
def consistency_proofs() -> dict[tuple[int, int], list[bytes]]:
    """Every consistency proof between sizes 1..300, generated once from the stored nodes."""
    return {(m, n): consistency_proof(m, n, fetch_upto(n)) for m, n in CONSISTENCY}


@pytest.mark.slow
def test_every_inclusion_proof_agrees_with_naive_and_verifies(
    inclusion_proofs: dict[tuple[int, int], list[bytes]],
) -> None:
    for (i, n), proof in inclusion_proofs.items():
        assert tuple(proof) == path(i, 0, n), (i, n)
        assert len(proof) == inclusion_proof_length(i, n)
        assert verify_inclusion(i, n, mth(i, i + 1), proof, mth(0, n)), (i, n)


def inclusion_mutations(
    i: int, n: int, proof: list[bytes]
) -> Iterator[tuple[str, int, int, bytes, list[bytes], bytes]]:
    """(what, index, size, leaf, proof, root) probes that must all be rejected."""
    leaf, root = mth(i, i + 1), mth(0, n)
    # Every element is flipped in turn: a verifier that skips one (GHSA-672p-m5jq-mrh8) fails.
    for position in range(len(proof)):
        yield f"flipped bit in proof[{position}]", i, n, leaf, flip(proof, position), root
    if proof:
        yield "missing first element", i, n, leaf, proof[1:], root
        yield "missing last element", i, n, leaf, proof[:-1], root
        yield "short element", i, n, leaf, [proof[0][:31], *proof[1:]], root
    yield "extra element at the end", i, n, leaf, [*proof, root], root
    yield "extra element at the front", i, n, leaf, [root, *proof], root
    yield "extra empty element", i, n, leaf, [*proof, b""], root
    for wrong in (i - 1, i + 1, i ^ 2):
        if 0 <= wrong < n and wrong != i:
            yield f"index {wrong}", wrong, n, leaf, proof, root
    yield "index == size", n, n, leaf, proof, root
    yield "negative index", -1, n, leaf, proof, root
    # A proof names its tree only through the root, so a wrong size is probed with that size's
    # true root: accepting it would claim a leaf the other tree does not have there.
    for wrong in (n - 1, n + 1, 2 * n, n // 2):
        if i < wrong != n and path(i, 0, wrong) != tuple(proof):
            yield f"size {wrong}", i, wrong, leaf, proof, mth(0, wrong)
    yield "size 0", i, 0, leaf, proof, EMPTY_ROOT
    yield "wrong leaf", i, n, mth(n, n + 1), proof, root
    yield "wrong root", i, n, leaf, proof, mth(0, n + 1)
    yield "empty root", i, n, leaf, proof, EMPTY_ROOT
    yield "truncated leaf", i, n, leaf[:31], proof, root


@pytest.mark.slow
def test_mutated_inclusion_proofs_are_rejected(
    inclusion_proofs: dict[tuple[int, int], list[bytes]],
) -> None:
    accepted = []
    for (i, n), proof in inclusion_proofs.items():
        for what, index, size, leaf, probe, root in inclusion_mutations(i, n, proof):
            if verify_inclusion(index, size, leaf, probe, root):
                accepted.append(f"leaf {i} of {n}: {what}")
    assert accepted == []


# -- consistency -------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_consistency_proof_agrees_with_naive_and_verifies(
    consistency_proofs: dict[tuple[int, int], list[bytes]],
) -> None:
    for (m, n), proof in consistency_proofs.items():
        assert tuple(proof) == naive_consistency(m, n), (m, n)
        assert len(proof) == consistency_proof_length(m, n)
        assert verify_consistency(m, n, mth(0, m), mth(0, n), proof), (m, n)


def consistency_mutations(
    m: int, n: int, proof: list[bytes]
) -> Iterator[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    """(what, first, second, first root, second root, proof) probes that must be rejected."""
    first, second = mth(0, m), mth(0, n)
    for position in range(len(proof)):
        yield f"flipped bit in proof[{position}]", m, n, first, second, flip(proof, position)
    if proof:
        yield "missing first element", m, n, first, second, proof[1:]
        yield "missing last element", m, n, first, second, proof[:-1]
        yield "short element", m, n, first, second, [*proof[:-1], proof[-1][:31]]
    yield "extra element at the end", m, n, first, second, [*proof, second]
    yield "extra element at the front", m, n, first, second, [first, *proof]
    if proof:
        yield "repeated first element", m, n, first, second, [proof[0], *proof]
    if m < n:
        yield "empty proof", m, n, first, second, []
        yield "swapped roots", m, n, second, first, proof
    yield "wrong first root", m, n, mth(0, m - 1), second, proof
    yield "wrong second root", m, n, first, mth(0, n + 1), proof
    for wrong in (m - 1, m + 1, m ^ 2):
        if 0 < wrong <= n and wrong != m and naive_consistency(wrong, n) != tuple(proof):
            yield f"first size {wrong}", wrong, n, mth(0, wrong), second, proof
    for wrong in (n - 1, n + 1, 2 * n, n // 2):
        if m <= wrong != n and naive_consistency(m, wrong) != tuple(proof):
            yield f"second size {wrong}", m, wrong, first, mth(0, wrong), proof
    yield "first size 0", 0, n, EMPTY_ROOT, second, proof
    yield "first larger than second", n + 1, n, mth(0, n + 1), second, proof


@pytest.mark.slow
def test_mutated_consistency_proofs_are_rejected(
    consistency_proofs: dict[tuple[int, int], list[bytes]],
) -> None:
    accepted = []
    for (m, n), proof in consistency_proofs.items():
        for what, first, second, root1, root2, probe in consistency_mutations(m, n, proof):
            if verify_consistency(first, second, root1, root2, probe):
                accepted.append(f"{m} -> {n}: {what}")
    assert accepted == []


def test_sizes_a_proof_cannot_have_are_refused() -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_proof(3, 3, fetch_upto(3))
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_proof(0, 0, fetch_upto(0))
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(0, 3, fetch_upto(3))
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(4, 3, fetch_upto(4))
    assert not verify_inclusion(0, 0, EMPTY_ROOT, [], EMPTY_ROOT)


# -- known answers (transparency-dev/merkle proof/verify_test.go) ------------------------------

KNOWN_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
KNOWN_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, proof) and (first, second, proof), hex.
KNOWN_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
KNOWN_CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def known_store() -> dict[NodeId, bytes]:
    frontier = Frontier()
    store: dict[NodeId, bytes] = {}
    for index, data in enumerate(KNOWN_LEAVES):
        store[(0, index)] = leaf_hash(data)
        blob = frontier.append(leaf_hash(data))
        for level in range(1, len(blob) // 32 + 1):
            store[(level, index >> level)] = blob[(level - 1) * 32 : level * 32]
    return store


def test_known_answer_roots() -> None:
    frontier = Frontier()
    for data, root in zip(KNOWN_LEAVES, KNOWN_ROOTS, strict=True):
        frontier.append(leaf_hash(data))
        assert frontier.root().hex() == root


@pytest.mark.parametrize(("index", "size", "proof"), KNOWN_INCLUSION)
def test_known_answer_inclusion(index: int, size: int, proof: list[str]) -> None:
    store = known_store()
    got = inclusion_proof(index, size, lambda wanted: {n: store[n] for n in wanted})
    assert [h.hex() for h in got] == proof
    leaf = leaf_hash(KNOWN_LEAVES[index])
    root = bytes.fromhex(KNOWN_ROOTS[size - 1])
    assert verify_inclusion(index, size, leaf, [bytes.fromhex(h) for h in proof], root)


@pytest.mark.parametrize(("first", "second", "proof"), KNOWN_CONSISTENCY)
def test_known_answer_consistency(first: int, second: int, proof: list[str]) -> None:
    store = known_store()
    got = consistency_proof(first, second, lambda wanted: {n: store[n] for n in wanted})
    assert [h.hex() for h in got] == proof
    assert verify_consistency(
        first,
        second,
        bytes.fromhex(KNOWN_ROOTS[first - 1]),
        bytes.fromhex(KNOWN_ROOTS[second - 1]),
        [bytes.fromhex(h) for h in proof],
    )


def test_many_inclusion_proofs_in_one_fetch_match_the_naive_paths() -> None:
    from auditledger.core import merkle

    calls: list[int] = []
    size = 37
    fetch = fetch_upto(size)

    def counting(wanted: Iterable[NodeId]) -> dict[NodeId, bytes]:
        calls.append(1)
        return fetch(wanted)

    indices = [0, 5, 17, 31, 36]
    proofs = merkle.inclusion_proofs(indices, size, counting)
    assert len(calls) == 1
    assert [tuple(p) for p in proofs] == [path(i, 0, size) for i in indices]
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_proofs([size], size, counting)
