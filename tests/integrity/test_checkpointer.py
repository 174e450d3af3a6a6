"""Checkpoints are signed after new events and on demand, stored once per size, and never
inconsistent with an earlier one (stored, or witnessed outside the database)."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from auditledger.core.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from auditledger.core.errors import Inconsistent, Unavailable
from auditledger.core.merkle import consistency_proof, verify_consistency
from auditledger.integrity.checkpointer import Checkpointer
from auditledger.services import Services, build_services
from auditledger.settings import Settings
from auditledger.store.log import fetch_nodes
from auditledger.web.app import create_app
from auditledger_client.core.clock import FrozenClock
from tests.support.helpers import FixedLocator, OrgAccess, make_org
from tests.support.integrity import ingest_many, rewrite_event, tampering, verify


@pytest.fixture
def access(services: Services) -> OrgAccess:
    services.checkpoints.ensure_key()
    return make_org(services)


def sign(services: Services, access: OrgAccess) -> tuple[int, bool]:
    stored, created = services.checkpoints.checkpoint(access.org.id, access.org.slug)
    return stored.tree_size, created


def wait_for(condition: Callable[[], bool], seconds: float = 120.0) -> bool:
    """Poll until ``condition`` holds (background work); False if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_checkpoint_covers_the_log_and_verifies(services: Services, access: OrgAccess) -> None:
    ingest_many(services, access.org, 5)
    stored, created = services.checkpoints.checkpoint(access.org.id, access.org.slug)
    assert created
    head = services.log.head(access.org.id)
    assert (stored.tree_size, stored.root_hash) == (5, head.root_hash)
    opened = open_checkpoint(
        stored.note, services.checkpoints.verifiers(), origin="auditledger.local/acme"
    )
    assert (opened.tree_size, opened.root_hash) == (5, head.root_hash)
    assert stored.key_name == "auditledger.local"
    witness = services.settings.witness_dir / "acme.txt"
    assert witness.read_text(encoding="utf-8") == stored.note


def test_unchanged_log_is_not_signed_again(services: Services, access: OrgAccess) -> None:
    ingest_many(services, access.org, 3)
    assert sign(services, access) == (3, True)
    assert sign(services, access) == (3, False)
    ingest_many(services, access.org, 2)
    assert sign(services, access) == (5, True)
    sizes = [
        c.tree_size
        for c in services.checkpoints.repo.list_checkpoints(access.org.id, before=None, limit=10)
    ]
    assert sizes == [5, 3]


def test_successive_checkpoints_are_consistent(services: Services, access: OrgAccess) -> None:
    for count in (1, 2, 5, 8, 1, 13):
        ingest_many(services, access.org, count)
        sign(services, access)
    stored = services.checkpoints.repo.list_checkpoints(access.org.id, before=None, limit=100)
    stored.reverse()
    with services.db.read() as connection:
        fetch = partial(fetch_nodes, connection, access.org.id)
        for old, new in itertools.pairwise(stored):
            proof = consistency_proof(old.tree_size, new.tree_size, fetch)
            assert verify_consistency(
                old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof
            )


def test_run_once_signs_only_logs_that_grew(services: Services, access: OrgAccess) -> None:
    other = make_org(services, "globex")
    make_org(services, "initech")  # never receives events: never signed
    ingest_many(services, access.org, 2)
    assert [c.org_id for c in services.checkpoints.run_once()] == [access.org.id]
    assert services.checkpoints.run_once() == []
    ingest_many(services, other.org, 1)
    ingest_many(services, access.org, 1)
    signed = services.checkpoints.run_once()
    assert sorted((c.org_id, c.tree_size) for c in signed) == sorted(
        [(access.org.id, 3), (other.org.id, 1)]
    )


def test_two_processes_signing_the_same_size_is_harmless(
    services: Services, access: OrgAccess, settings: Settings, clock: FrozenClock
) -> None:
    ingest_many(services, access.org, 4)
    second = build_services(settings, clock=clock, locator=FixedLocator())
    try:
        first_cp, first_new = services.checkpoints.checkpoint(access.org.id, access.org.slug)
        # The other process read the same head and signs the same tree: its insert is ignored.
        again = second.checkpoints.repo.insert_checkpoint(first_cp)
        other_cp, other_new = second.checkpoints.checkpoint(access.org.id, access.org.slug)
    finally:
        second.stop()
    assert first_new
    assert not again
    assert not other_new
    assert other_cp.note == first_cp.note


def test_rewritten_history_is_refused_and_logged(
    services: Services, access: OrgAccess, caplog: pytest.LogCaptureFixture
) -> None:
    ingest_many(services, access.org, 6)
    sign(services, access)
    rewrite_event(services, access.org, 2, actor_name="Mallory")
    ingest_many(services, access.org, 2)
    with caplog.at_level(logging.ERROR), pytest.raises(Inconsistent) as raised:
        sign(services, access)
    assert "not consistent with the witness copy" in raised.value.message
    assert "refusing to sign a checkpoint of auditledger.local/acme" in caplog.text
    assert services.checkpoints.repo.latest_checkpoint(access.org.id).tree_size == 6  # type: ignore[union-attr]


def test_a_head_that_disagrees_with_the_stored_nodes_is_refused(
    services: Services, access: OrgAccess
) -> None:
    ingest_many(services, access.org, 4)
    with tampering(services) as connection:
        connection.exec_driver_sql(
            "UPDATE log_heads SET root_hash = leaf_hash FROM leaves "
            f"WHERE leaves.org_id = log_heads.org_id AND leaves.seq = 0 "
            f"AND log_heads.org_id = {access.org.id}"
        )
    with pytest.raises(Inconsistent, match="head's root differs"):
        sign(services, access)


def test_a_witnessed_checkpoint_larger_than_the_log_is_refused(
    services: Services, access: OrgAccess
) -> None:
    ingest_many(services, access.org, 3)
    key = services.checkpoints.signing_key()
    ahead = sign_checkpoint(Checkpoint("auditledger.local/acme", 10, bytes(32)), key)
    services.settings.witness_dir.mkdir(parents=True, exist_ok=True)
    (services.settings.witness_dir / "acme.txt").write_text(ahead, encoding="utf-8")
    with pytest.raises(Inconsistent, match="covers 10: the database was rolled back"):
        sign(services, access)
    assert services.checkpoints.repo.latest_checkpoint(access.org.id) is None


def test_an_unreadable_witness_copy_stops_signing(services: Services, access: OrgAccess) -> None:
    ingest_many(services, access.org, 3)
    sign(services, access)
    (services.settings.witness_dir / "acme.txt").write_text("garbage\n", encoding="utf-8")
    ingest_many(services, access.org, 1)
    with pytest.raises(Inconsistent, match="witness copy does not verify"):
        sign(services, access)


def test_without_a_key_signing_is_unavailable_and_says_what_to_do(
    services: Services,
) -> None:
    org = make_org(services).org
    ingest_many(services, org, 1)
    with pytest.raises(Unavailable, match="run `auditledger init`"):
        services.checkpoints.checkpoint(org.id, org.slug)


def test_old_checkpoints_verify_after_rotation(services: Services, access: OrgAccess) -> None:
    ingest_many(services, access.org, 3)
    sign(services, access)
    old, new = services.checkpoints.rotate_key()
    ingest_many(services, access.org, 2)
    stored, _ = services.checkpoints.checkpoint(access.org.id, access.org.slug)
    registered = {r.key.key_id_hex: r for r in services.checkpoints.repo.registered_keys()}
    assert registered[old.verifier.key_id_hex].retired_at is not None
    assert registered[new.verifier.key_id_hex].retired_at is None
    first = services.checkpoints.repo.checkpoint_at(access.org.id, 3)
    assert first is not None
    open_checkpoint(first.note, [old.verifier], origin="auditledger.local/acme")
    open_checkpoint(stored.note, [new.verifier], origin="auditledger.local/acme")
    assert verify(services, access.org).ok


def test_background_checkpointer_signs_and_stops(services: Services, access: OrgAccess) -> None:
    ingest_many(services, access.org, 2)
    checkpointer = Checkpointer(services.checkpoints, interval=0.05)
    checkpointer.start()
    try:
        assert wait_for(
            lambda: services.checkpoints.repo.latest_checkpoint(access.org.id) is not None
        )
    finally:
        checkpointer.stop()
    assert checkpointer._thread is None


def test_server_starts_without_a_key_and_creates_it(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    org = make_org(services)
    ingest_many(services, org.org, 1)
    assert not services.settings.signing_key_file.exists()
    with (
        caplog.at_level(logging.WARNING),
        TestClient(create_app(services, manage_services=False, checkpoints=True)) as client,
    ):
        assert client.get("/healthz").status_code == 200
        response = client.post("/api/v1/orgs/acme/checkpoints", headers=org.headers(org.admin))
    assert response.status_code == 201
    assert services.settings.signing_key_file.exists()
    assert "generated a new signing key" in caplog.text


def test_server_starts_when_the_key_cannot_be_created(
    settings: Settings, clock: FrozenClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    svc = build_services(
        settings.replace(signing_key_file=blocker / "signing.key"),
        clock=clock,
        locator=FixedLocator(),
    )
    svc.db.migrate()
    svc.start()
    try:
        org = make_org(svc)
        ingest_many(svc, org.org, 1)
        with (
            caplog.at_level(logging.ERROR),
            TestClient(create_app(svc, manage_services=False, checkpoints=True)) as client,
        ):
            assert client.get("/healthz").status_code == 200
            response = client.post("/api/v1/orgs/acme/checkpoints", headers=org.headers(org.admin))
    finally:
        svc.stop()
    assert response.status_code == 503
    assert "auditledger init" in response.json()["error"]["message"]
    assert "checkpoints will not be signed" in caplog.text


def test_an_empty_log_can_be_checkpointed_and_then_extended(
    services: Services, access: OrgAccess
) -> None:
    assert sign(services, access) == (0, True)
    ingest_many(services, access.org, 3)
    assert sign(services, access) == (3, True)
    report = verify(services, access.org)
    assert report.ok
    assert report.checkpoints_checked == 2
