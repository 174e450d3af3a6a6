"""Real server processes: acknowledged events survive kill -9; several processes sharing one
PostgreSQL keep one dense sequence and sign only consistent checkpoints; an event id sent
concurrently is stored once."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from auditledger.core.canonical import event_leaf_hash
from auditledger.core.checkpoint import StoredCheckpoint, open_checkpoint
from auditledger.core.merkle import consistency_proof, root_hash, verify_consistency
from auditledger.services import Services, build_services
from auditledger.settings import load_settings
from auditledger.store.log import fetch_nodes
from tests.helpers import OrgAccess, make_org, sample_event
from tests.integrity.support import verify
from tests.servers import ServerProcess

pytestmark = pytest.mark.slow


def prepare(database_url: str, tmp_path: Path) -> tuple[Services, OrgAccess]:
    settings = load_settings(
        environ={}, database_url=database_url, signing_key_file=tmp_path / "signing.key"
    )
    services = build_services(settings)
    services.db.migrate()
    return services, make_org(services, "acme")


def send(client: httpx.Client, url: str, token: str, event: dict[str, Any]) -> httpx.Response:
    return client.post(
        f"{url}/api/v1/orgs/acme/events",
        json=event,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def check_log(services: Services, access: OrgAccess) -> list[uuid.UUID]:
    """The stored event ids in sequence order, after checking the log is whole."""
    org = access.org
    head = services.log.head(org.id)
    leaves = services.log.leaves(org.id, 0, head.tree_size)
    assert [leaf.seq for leaf in leaves] == list(range(head.tree_size)), "sequence has gaps"
    events = services.log.events(org.id, org.slug, 0, head.tree_size)
    assert len(events) == head.tree_size
    for leaf, event in zip(leaves, events, strict=True):
        assert event_leaf_hash(event) == leaf.leaf_hash
    assert root_hash(head.tree_size, lambda ids: services.log.nodes(org.id, ids)) == head.root_hash
    ids = [leaf.event_id for leaf in leaves]
    assert len(set(ids)) == len(ids), "an event is stored twice"
    return ids


@pytest.mark.postgres
@pytest.mark.parametrize("engine_kind", ["postgres"], indirect=True)
def test_two_processes_on_one_postgres_keep_one_dense_log(
    database_url: str, tmp_path: Path
) -> None:
    services, access = prepare(database_url, tmp_path)
    per_client = 40
    shared = sample_event()  # every client also sends this one, at the same moment
    barrier = threading.Barrier(16)

    def client_loop(url: str) -> list[int]:
        statuses = []
        with httpx.Client() as client:
            barrier.wait()
            statuses.append(send(client, url, access.ingest, shared).status_code)
            for _ in range(per_client):
                response = send(client, url, access.ingest, sample_event())
                statuses.append(response.status_code)
        return statuses

    with (
        ServerProcess(database_url, tmp_path) as first,
        ServerProcess(database_url, tmp_path) as second,
        ThreadPoolExecutor(16) as pool,
    ):
        urls = [first.url, second.url] * 8
        results = list(pool.map(client_loop, urls))

    shared_statuses = [r[0] for r in results]
    assert sorted(shared_statuses) == [200] * 15 + [201]
    assert all(status == 201 for r in results for status in r[1:])
    ids = check_log(services, access)
    assert len(ids) == 16 * per_client + 1
    services.stop()


@pytest.mark.postgres
@pytest.mark.parametrize("engine_kind", ["postgres"], indirect=True)
def test_two_processes_checkpointing_one_log_stay_consistent(
    database_url: str, tmp_path: Path
) -> None:
    services, access = prepare(database_url, tmp_path)
    org = access.org
    stop = threading.Event()

    def client_loop(url: str) -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                assert send(client, url, access.ingest, sample_event()).status_code == 201

    def stored() -> list[StoredCheckpoint]:
        found = services.checkpoints.repo.list_checkpoints(org.id, before=None, limit=1000)
        return sorted(found, key=lambda c: c.tree_size)

    # Both checkpointers run every second, with the same key file and witness directory.
    env = {"AUDITLEDGER_CHECKPOINT_INTERVAL": "1"}
    with (
        ServerProcess(database_url, tmp_path, env=env) as first,
        ServerProcess(database_url, tmp_path, env=env) as second,
        ThreadPoolExecutor(8) as pool,
    ):
        clients = [pool.submit(client_loop, url) for url in [first.url, second.url] * 4]
        deadline = time.monotonic() + 60
        while len(stored()) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        for running in clients:
            running.result()
        size = services.log.head(org.id).tree_size
        while stored()[-1].tree_size < size and time.monotonic() < deadline:
            time.sleep(0.2)

    checkpoints = stored()
    assert len(checkpoints) >= 4
    assert checkpoints[-1].tree_size == size
    verifiers = services.checkpoints.verifiers()
    origin = services.checkpoints.origin(org.slug)
    with services.db.read() as connection:
        fetch = partial(fetch_nodes, connection, org.id)
        for checkpoint in checkpoints:
            opened = open_checkpoint(checkpoint.note, verifiers, origin=origin)
            assert opened.root_hash == root_hash(opened.tree_size, fetch)
        for old, new in itertools.pairwise(checkpoints):
            proof = consistency_proof(old.tree_size, new.tree_size, fetch)
            assert verify_consistency(
                old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof
            )
    report = verify(services, org)
    assert report.ok, [f.describe() for f in report.findings]
    assert report.checkpoints_checked == len(checkpoints)
    services.stop()
