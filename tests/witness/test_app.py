"""The witness's HTTP interface: bodies are bounded before they are read, answers as the spec
says (the decisions themselves are test_service.py's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.testclient import TestClient

from auditledger.core.add_checkpoint import request_body
from auditledger.core.keys import SigningKey
from auditledger.witness.app import MAX_BODY, create_witness_app
from auditledger.witness.config import WitnessConfig
from auditledger.witness.service import WitnessService
from auditledger.witness.state import WitnessState
from tests.support.witnesses import MemoryTree, leaf

ORIGIN = "log.example/acme"
LOG_KEY = SigningKey("log.example", Ed25519PrivateKey.generate())
WITNESS_KEY = SigningKey("witness.example/w1", Ed25519PrivateKey.generate())
TREE = MemoryTree([leaf(i) for i in range(5)])


def client(tmp_path: Path) -> TestClient:
    config = WitnessConfig(
        name=WITNESS_KEY.name,
        key_file=tmp_path / "witness.key",
        state_file=tmp_path / "state.db",
        host="127.0.0.1",
        port=1,
        logs={ORIGIN: (LOG_KEY.verifier,)},
    )
    state = WitnessState(config.state_file)
    return TestClient(create_witness_app(WitnessService(config, WITNESS_KEY, state, lambda: 1)))


def test_a_checkpoint_is_cosigned_over_http(tmp_path: Path) -> None:
    body = request_body(0, [], TREE.note(ORIGIN, 5, LOG_KEY))
    answer = client(tmp_path).post("/add-checkpoint", content=body)
    assert answer.status_code == 200, answer.text
    assert answer.text.startswith("\u2014 witness.example/w1 ")


def test_a_body_past_the_limit_is_refused_declared_or_streamed(tmp_path: Path) -> None:
    witness = client(tmp_path)
    declared = witness.post("/add-checkpoint", content=b"x" * (MAX_BODY + 1))
    assert declared.status_code == 413
    assert "larger than 64 KiB" in declared.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused as the bytes pass the limit
        for _ in range(MAX_BODY // 1024 + 1):
            yield b"x" * 1024

    streamed = witness.post("/add-checkpoint", content=chunks())
    assert streamed.status_code == 413
    assert "larger than 64 KiB" in streamed.text
