"""Expiry proofs: SHA-256 resumed from a midstate, and the occurrence time read from the tail."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

import pytest

from auditledger.core import midstate
from auditledger.core.expiry import ExpiryProof, ProofError, make_proof, proven_occurrence


@pytest.mark.parametrize("blocks", [0, 1, 2, 9])
@pytest.mark.parametrize("tail", [0, 1, 55, 56, 63, 64, 65, 130])
def test_resuming_gives_sha256(blocks: int, tail: int) -> None:
    message = random.Random(blocks * 1000 + tail).randbytes(blocks * 64 + tail)
    prefix, suffix = message[: blocks * 64], message[blocks * 64 :]
    expected = hashlib.sha256(message).digest()
    assert midstate.resume(midstate.midstate(prefix), len(prefix), suffix) == expected
    assert midstate.py_resume(midstate.py_midstate(prefix), len(prefix), suffix) == expected
    assert midstate.midstate(prefix) == midstate.py_midstate(prefix)


def test_a_midstate_follows_whole_blocks() -> None:
    with pytest.raises(ValueError, match="whole 64-byte blocks"):
        midstate.midstate(b"x" * 65)


# A subject whose name imitates the tail: escaped quotes keep it from passing for one.
EVENT = (
    b'{"actor":{"id":"a","name":"A","type":"user"},"category":"model","id":"x",'
    b'"properties":{},"subject":{"id":"m","name":"\\",\\"timestamp\\":\\"1999-01-01T00:00:'
    b'00.000000Z\\",\\"type\\":\\"x\\",\\"v\\":1}","type":"model"},'
    b'"timestamp":"2026-05-01T12:00:00.000001Z","type":"rename","v":1}'
)


def leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def test_a_proof_proves_the_occurrence_time_and_keeps_only_the_tail() -> None:
    proof = make_proof(4, EVENT)
    assert proven_occurrence(proof, leaf(EVENT)) == datetime(2026, 5, 1, 12, 0, 0, 1, tzinfo=UTC)
    assert proof.prefix_len % 64 == 0
    assert len(proof.suffix) < 64 + len(
        b',"timestamp":"2026-05-01T12:00:00.000001Z","type":"rename","v":1}'
    )
    assert b'"actor"' not in proof.suffix


def test_a_proof_of_other_bytes_or_another_leaf_proves_nothing() -> None:
    proof = make_proof(4, EVENT)
    with pytest.raises(ProofError, match="does not lead to its leaf hash"):
        proven_occurrence(proof, leaf(EVENT + b" "))
    moved = ExpiryProof(4, proof.prefix_len, proof.midstate, proof.suffix.replace(b"2026", b"2025"))
    with pytest.raises(ProofError, match="does not lead to its leaf hash"):
        proven_occurrence(moved, leaf(EVENT))
    with pytest.raises(ProofError, match="not canonical event bytes"):
        make_proof(4, b'{"timestamp":"2026"}')
