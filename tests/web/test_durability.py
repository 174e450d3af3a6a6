"""Real server processes: acknowledged events survive kill -9; several processes sharing one
PostgreSQL keep one dense sequence and sign only consistent checkpoints; an event id sent
concurrently is stored once."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx2 as httpx
import pytest

from auditledger.integrity.checkpoint import StoredCheckpoint, open_checkpoint
from auditledger.integrity.merkle import consistency_proof, root_hash, verify_consistency
from auditledger.store.log import fetch_nodes
from tests.support.durability import check_log, prepare, send
from tests.support.helpers import sample_event
from tests.support.integrity import verify
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow


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
        deadline = time.monotonic() + 120
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
