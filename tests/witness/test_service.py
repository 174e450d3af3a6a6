"""The witness's decisions (C2SP tlog-witness), on a real SQLite state file."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditledger.core.add_checkpoint import request_body
from auditledger.core.cosignature import check_cosignatures, witness_key_of
from auditledger.core.keys import SigningKey
from auditledger.core.note import parse_note
from auditledger.witness.config import WitnessConfig
from auditledger.witness.service import (
    BadProof,
    Malformed,
    SizeMismatch,
    UnknownLog,
    UntrustedSignature,
    WitnessService,
)
from auditledger.witness.state import WitnessState
from tests.support.witnesses import MemoryTree, leaf

ORIGIN = "log.example/acme"
LOG_KEY = SigningKey("log.example", Ed25519PrivateKey.generate())
WITNESS_KEY = SigningKey("witness.example/w1", Ed25519PrivateKey.generate())


def make_witness(path: Path) -> WitnessService:
    config = WitnessConfig(
        name=WITNESS_KEY.name,
        key_file=path / "witness.key",
        state_file=path / "state.db",
        host="127.0.0.1",
        port=1,
        logs={ORIGIN: (LOG_KEY.verifier,)},
    )
    return WitnessService(config, WITNESS_KEY, WitnessState(config.state_file), now=lambda: 1000)


def submit(witness: WitnessService, tree: MemoryTree, old: int, size: int) -> str:
    note = tree.note(ORIGIN, size, LOG_KEY)
    return witness.add_checkpoint(request_body(old, tree.proof(old, size), note))


def held(witness: WitnessService) -> int:
    latest = witness.state.atomically(lambda t: t.latest(ORIGIN))
    return latest.tree_size if latest is not None else 0


TREE = MemoryTree([leaf(i) for i in range(40)])


@pytest.mark.slow
def test_cosigns_the_first_checkpoint_and_each_consistent_extension(tmp_path: Path) -> None:
    witness = make_witness(tmp_path)
    for old, size in ((0, 5), (5, 13), (13, 13), (13, 40)):
        lines = submit(witness, TREE, old, size)
        note = TREE.note(ORIGIN, size, LOG_KEY)
        text = parse_note(note).text
        check = check_cosignatures(
            text, parse_note(note + lines).signatures, [witness_key_of(WITNESS_KEY)]
        )
        assert check.valid == ((witness_key_of(WITNESS_KEY), 1000),)
        assert held(witness) == size


def test_refuses_an_old_size_other_than_its_own_and_names_its_size(tmp_path: Path) -> None:
    witness = make_witness(tmp_path)
    submit(witness, TREE, 0, 8)
    with pytest.raises(SizeMismatch) as raised:
        submit(witness, TREE, 0, 13)
    assert raised.value.held == 8
    assert raised.value.status == 409


def test_refuses_a_rewritten_history(tmp_path: Path) -> None:
    witness = make_witness(tmp_path)
    submit(witness, TREE, 0, 8)
    # Another log under the same origin and key: the same first 5 entries, then others.
    forked = MemoryTree([leaf(i) for i in range(5)] + [leaf(i, "forged") for i in range(5, 40)])
    with pytest.raises(BadProof):
        submit(witness, forked, 8, 20)
    # A proof taken from the genuine tree does not lead to the forked root either.
    note = forked.note(ORIGIN, 20, LOG_KEY)
    with pytest.raises(BadProof):
        witness.add_checkpoint(request_body(8, TREE.proof(8, 20), note))
    # Same size, other root: a fork at the very size the witness holds.
    with pytest.raises(SizeMismatch):
        submit(witness, forked, 8, 8)
    assert held(witness) == 8


def test_refuses_a_rollback(tmp_path: Path) -> None:
    witness = make_witness(tmp_path)
    submit(witness, TREE, 0, 20)
    smaller = TREE.note(ORIGIN, 12, LOG_KEY)
    with pytest.raises(Malformed, match="exceeds"):
        witness.add_checkpoint(request_body(20, [], smaller))  # old above the new size: 400
    with pytest.raises(SizeMismatch) as raised:
        submit(witness, TREE, 0, 12)  # the truth about what the witness holds: 409
    assert raised.value.held == 20
    assert held(witness) == 20


def test_unknown_logs_untrusted_signatures_and_bad_bodies(tmp_path: Path) -> None:
    witness = make_witness(tmp_path)
    other_origin = TREE.note("log.example/globex", 3, LOG_KEY)
    with pytest.raises(UnknownLog):
        witness.add_checkpoint(request_body(0, [], other_origin))
    stranger = SigningKey("log.example", Ed25519PrivateKey.generate())
    with pytest.raises(UntrustedSignature):
        witness.add_checkpoint(request_body(0, [], TREE.note(ORIGIN, 3, stranger)))
    with pytest.raises(Malformed):
        witness.add_checkpoint(b"old 0\n\nnot a checkpoint\n")
    with pytest.raises(BadProof):
        witness.add_checkpoint(request_body(0, [leaf(1)], TREE.note(ORIGIN, 3, LOG_KEY)))
    assert held(witness) == 0


@pytest.mark.slow
def test_state_survives_a_restart(tmp_path: Path) -> None:
    witness = make_witness(tmp_path)
    submit(witness, TREE, 0, 13)
    witness.state.close()
    again = make_witness(tmp_path)
    assert held(again) == 13
    with pytest.raises(SizeMismatch):
        submit(again, TREE, 0, 20)
    submit(again, TREE, 13, 20)
    assert held(again) == 20
