"""The log side in one process, on both engines: cosignatures from a real witness service
(over in-process HTTP) are verified, stored append-only, served, exported in bundles and
checked by verify, which also catches a cosignature forged into the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, update
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from auditledger.core.cosignature import Cosignature, cosign, witness_key_of
from auditledger.core.keys import SigningKey
from auditledger.core.note import parse_note
from auditledger.integrity.bundle_verify import verify_bundle
from auditledger.integrity.cosigning import Answer, CosigningService
from auditledger.query.filters import EventFilter
from auditledger.services import Services
from auditledger.settings import WitnessEndpoint
from auditledger.store.schema import cosignatures
from auditledger.witness.app import create_witness_app
from auditledger.witness.config import WitnessConfig
from auditledger.witness.service import WitnessService
from auditledger.witness.state import WitnessState
from auditledger_client.core.event import Actor
from tests.support.helpers import OrgAccess, make_org
from tests.support.integrity import ingest_many, verify

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
    services.export.cosign = service.cosign_now
    return service


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
