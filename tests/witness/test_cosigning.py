"""The log side in one process, on both engines: cosignatures from a real witness service
(over in-process HTTP) are verified, stored append-only, served, exported in bundles and
checked by verify, which also catches a cosignature forged into the database."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, update
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from auditledger.core.cosignature import Cosignature, WitnessKey, cosign, witness_key_of
from auditledger.core.keys import SigningKey
from auditledger.core.note import parse_note
from auditledger.export.service import ExportService
from auditledger.integrity.bundle_verify import verify_bundle
from auditledger.integrity.cosigning import (
    MAX_ANSWER_BYTES,
    Answer,
    CosigningService,
    WitnessFailed,
    http_post,
)
from auditledger.query.filters import EventFilter
from auditledger.services import Services
from auditledger.settings import WitnessEndpoint
from auditledger.store.schema import cosignatures
from auditledger.web.app import create_app
from auditledger.witness.app import create_witness_app
from auditledger.witness.config import WitnessConfig
from auditledger.witness.service import WitnessService
from auditledger.witness.state import WitnessState
from auditledger_client.core.event import Actor
from tests.support.helpers import OrgAccess, make_org
from tests.support.integrity import ingest_many, verify
from tests.support.waiting import LOADED_MACHINE_SECONDS, wait_until

ACTOR = Actor("user", "auditor", "An Auditor")
W1 = SigningKey("w1.example/witness", Ed25519PrivateKey.generate())
W2 = SigningKey("w2.example/witness", Ed25519PrivateKey.generate())


def witness_post(services: Services, key: SigningKey, state: Path) -> TestClient:
    config = WitnessConfig(
        name=key.name,
        key_file=state.parent / "unused.key",
        state_file=state,
        host="127.0.0.1",
        port=1,
        logs={"auditledger.local/acme": (services.checkpoints.signing_key().verifier,)},
    )
    service = WitnessService(config, key, WitnessState(state), now=lambda: 1_780_000_000)
    return TestClient(create_witness_app(service))


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    services.checkpoints.ensure_key()
    access = make_org(services)
    ingest_many(services, access.org, 6)
    return access


@pytest.fixture
def cosigning(services: Services, acme: OrgAccess, tmp_path: Path) -> CosigningService:
    clients = {
        "http://w1.test": witness_post(services, W1, tmp_path / "w1.db"),
        "http://w2.test": witness_post(services, W2, tmp_path / "w2.db"),
    }

    def post(url: str, body: bytes, timeout: float) -> Answer:
        base, _, path = url.rpartition("/")
        response = clients[base].post("/" + path, content=body)
        return Answer(response.status_code, response.text)

    service = CosigningService(
        services.db,
        services.checkpoints.repo,
        [
            WitnessEndpoint(url, witness_key_of(key))
            for url, key in zip(clients, (W1, W2), strict=True)
        ],
        2,
        services.clock,
        post=post,
    )
    # The wiring's, with these witnesses: exports ask them too.
    services.cosigning = service
    services.export = ExportService(services.db, services.ingest, services.checkpoints, service)
    return service


@pytest.mark.slow
def test_cosignatures_are_stored_served_and_extend_with_the_log(
    services: Services, acme: OrgAccess, cosigning: CosigningService
) -> None:
    services.checkpoints.checkpoint(acme.org.id, "acme")
    assert cosigning.run_once() == 2
    assert cosigning.run_once() == 0  # nothing new to ask
    stored = services.checkpoints.repo.latest_checkpoint(acme.org.id)
    assert stored is not None
    assert len(stored.cosignatures) == 2
    assert stored.served_note.startswith(stored.note)
    assert len(parse_note(stored.served_note).signatures) == 3
    ingest_many(services, acme.org, 5)
    services.checkpoints.checkpoint(acme.org.id, "acme")
    assert cosigning.run_once() == 2  # from 6 to 11, with a consistency proof
    keys = [witness_key_of(W1), witness_key_of(W2)]
    assert verify(services, acme.org, witnesses=keys, witnesses_required=2).ok


def test_cosignatures_are_append_only(
    services: Services, acme: OrgAccess, cosigning: CosigningService
) -> None:
    services.checkpoints.checkpoint(acme.org.id, "acme")
    cosigning.run_once()
    for statement in (update(cosignatures).values(line="x"), delete(cosignatures)):
        with pytest.raises(DBAPIError), services.db.write() as connection:
            connection.execute(statement)


def test_verify_reports_a_forged_cosignature_and_a_missing_quorum(
    services: Services, acme: OrgAccess
) -> None:
    stored, _ = services.checkpoints.checkpoint(acme.org.id, "acme")
    text = parse_note(stored.note).text
    # A line claiming to be W1's, made with another key, written straight into the database.
    signed = cosign(W2, text, 1_780_000_000)
    forged = Cosignature(W1.name, witness_key_of(W1).key_id, signed.timestamp, signed.signature)
    with services.db.write() as connection:
        connection.execute(
            insert(cosignatures).values(
                org_id=acme.org.id,
                tree_size=stored.tree_size,
                witness_name=W1.name,
                key_id=witness_key_of(W1).key_id_hex,
                cosigned_at=forged.timestamp,
                line=forged.line(),
                received_at=services.clock.now(),
            )
        )
    report = verify(services, acme.org, witnesses=[witness_key_of(W1)], witnesses_required=1)
    kinds = {f.kind for f in report.findings}
    assert kinds == {"cosignature_row", "witnesses"}, report.findings
    assert report.checkpoints("witnesses") == [stored.tree_size]


def test_bundles_carry_cosignatures_and_verify_bundle_counts_them(
    services: Services, acme: OrgAccess, cosigning: CosigningService, tmp_path: Path
) -> None:
    path = tmp_path / "evidence.zip"
    services.export.write_bundle(acme.org, EventFilter(), path, actor=ACTOR, source_ip=None)
    log_keys = services.checkpoints.verifiers()
    both = [witness_key_of(W1), witness_key_of(W2)]
    assert verify_bundle(path, log_keys).ok
    assert verify_bundle(path, log_keys, witnesses=both, witnesses_required=2).ok
    stranger = witness_key_of(SigningKey("w3.example/witness", Ed25519PrivateKey.generate()))
    report = verify_bundle(path, log_keys, witnesses=[*both, stranger], witnesses_required=3)
    assert len(report.problems) == 1
    size = report.tree_size
    assert f"(checkpoint {size}) has 2 valid cosignatures of the 3 required" in report.problems[0]
    assert "w3.example/witness" in report.problems[0]


def test_a_malformed_stored_cosignature_does_not_stop_witnessing(
    services: Services, acme: OrgAccess, cosigning: CosigningService
) -> None:
    stored, _ = services.checkpoints.checkpoint(acme.org.id, "acme")
    with services.db.write() as connection:
        connection.execute(
            insert(cosignatures).values(
                org_id=acme.org.id,
                tree_size=stored.tree_size,
                witness_name="garbage",
                key_id="00000000",
                cosigned_at=0,
                line="not a signature line\n",
                received_at=services.clock.now(),
            )
        )
    assert cosigning.run_once() == 2
    keys = [witness_key_of(W1)]
    report = verify(services, acme.org, witnesses=keys, witnesses_required=1)
    # The bad row is reported; the witnesses' sound ones still make the quorum.
    assert [f.kind for f in report.findings] == ["cosignature_row"]


class Counting:
    """Counts calls of one method while the test runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
        self.calls = 0
        original = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)


def test_each_answer_is_verified_once_and_a_quiet_pass_verifies_nothing(
    services: Services,
    acme: OrgAccess,
    cosigning: CosigningService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services.checkpoints.checkpoint(acme.org.id, "acme")
    verified = Counting(monkeypatch, WitnessKey, "verify_cosignature")
    reads = Counting(monkeypatch, cosigning.repo, "checkpoint_at")
    assert cosigning.run_once() == 2
    assert verified.calls == 2  # one answer line per witness
    verified.calls = reads.calls = 0
    assert cosigning.run_once() == 0
    assert (verified.calls, reads.calls) == (0, 0)  # what it verified, it remembers


def test_a_checkpoint_handed_out_is_cosigned_without_reading_it_again(
    services: Services,
    acme: OrgAccess,
    cosigning: CosigningService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored, created = services.checkpoints.checkpoint(acme.org.id, "acme")
    assert created
    reads = Counting(monkeypatch, cosigning.repo, "checkpoint_at")
    cosigned = cosigning.checkpoint_cosigned(stored, "acme")
    assert reads.calls == 0
    assert len(cosigned.cosignatures) == 2
    latest = services.checkpoints.repo.latest_checkpoint(acme.org.id)
    assert latest is not None
    assert set(cosigned.cosignatures) == set(latest.cosignatures)
    # Asked again, the witnesses are not: both cosignatures are known.
    assert cosigning.checkpoint_cosigned(latest, "acme").served_note == latest.served_note


@pytest.fixture
def slow_witness(services: Services) -> Iterator[threading.Event]:
    """The deployment's only witness answers when the test lets it (the event)."""
    release = threading.Event()

    def post(url: str, body: bytes, timeout: float) -> Answer:
        release.wait(LOADED_MACHINE_SECONDS)
        return Answer(503, "not now\n")

    services.cosigning = CosigningService(
        services.db,
        services.checkpoints.repo,
        [WitnessEndpoint("http://slow.test", witness_key_of(W1))],
        1,
        services.clock,
        post=post,
    )
    try:
        yield release
    finally:
        release.set()


def test_a_witness_that_does_not_answer_holds_up_no_checkpoint_round(
    services: Services, acme: OrgAccess, slow_witness: threading.Event
) -> None:
    services.settings = services.settings.replace(checkpoint_interval=1)

    def newest() -> int:
        latest = services.checkpoints.repo.latest_checkpoint(acme.org.id)
        return latest.tree_size if latest is not None else 0

    app = create_app(services, manage_services=False, checkpoints=True)
    with TestClient(app):
        wait_until(lambda: newest() == 6, "the first round's checkpoint")
        ingest_many(services, acme.org, 3)
        # The witness still has the first checkpoint and has not answered.
        wait_until(lambda: newest() == 9, "a round while the witness keeps the cosigner waiting")
        assert not slow_witness.is_set()
        slow_witness.set()


class Trickle(threading.Thread):
    """An HTTP server on 127.0.0.1 that answers one request 200 with ``size`` bytes, sent
    ``chunk`` bytes every ``pause`` seconds."""

    def __init__(self, size: int, chunk: int, pause: float) -> None:
        super().__init__(daemon=True)
        self.size, self.chunk, self.pause = size, chunk, pause
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.done = threading.Event()

    def run(self) -> None:
        connection, _ = self.server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % self.size)
            sent = 0
            while sent < self.size and not self.done.wait(self.pause):
                try:
                    connection.sendall(b"x" * self.chunk)
                except OSError:  # the client gave up
                    return
                sent += self.chunk

    def __enter__(self) -> Trickle:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.done.set()
        self.join(10)
        self.server.close()


@pytest.mark.slow
def test_a_witness_answer_that_takes_too_long_fails_even_if_bytes_keep_coming() -> None:
    # A byte every 0.2 s never trips a read timeout of 1 s; the whole answer would take 20 s.
    with Trickle(size=100, chunk=1, pause=0.2) as witness, pytest.raises(WitnessFailed) as failed:
        http_post(f"{witness.url}/add-checkpoint", b"old 0\n\n", 1.0)
    assert "took more than 1 s" in str(failed.value)


def test_a_witness_answer_too_large_fails() -> None:
    witness = Trickle(size=10 * MAX_ANSWER_BYTES, chunk=65536, pause=0)
    with witness, pytest.raises(WitnessFailed) as failed:
        http_post(f"{witness.url}/add-checkpoint", b"old 0\n\n", 30.0)
    assert f"exceeds {MAX_ANSWER_BYTES} bytes" in str(failed.value)
