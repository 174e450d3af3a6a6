"""``auditledger serve --workers N``: several processes on one port and one PostgreSQL keep
one dense log and sign consistent checkpoints; SQLite refuses more than one worker."""

from __future__ import annotations

import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import httpx2 as httpx
import pytest

from auditledger.core.checkpoint import open_checkpoint
from auditledger.core.merkle import root_hash
from tests.support.durability import check_log, prepare, send
from tests.support.helpers import sample_event
from tests.support.servers import ServerProcess
from tests.support.waiting import LOADED_MACHINE_SECONDS, wait_until

pytestmark = pytest.mark.slow

# The request id's first 12 characters are a per-process prefix (web/middleware.py): the
# answers of two workers carry two prefixes.
PREFIX = 12


@pytest.mark.postgres
@pytest.mark.parametrize("engine_kind", ["postgres"], indirect=True)
def test_two_workers_on_postgres_ingest_into_one_log(database_url: str, tmp_path: Path) -> None:
    services, access = prepare(database_url, tmp_path)
    server = ServerProcess(
        database_url,
        tmp_path,
        args=("--workers", "2"),
        env={"AUDITLEDGER_CHECKPOINT_INTERVAL": "1"},
    )
    processes: set[str] = set()
    statuses: list[int] = []
    with server:
        deadline = time.monotonic() + LOADED_MACHINE_SECONDS
        # A new connection per request, so the kernel may hand each to either worker.
        while (len(processes) < 2 or len(statuses) < 40) and time.monotonic() < deadline:
            if len(statuses) >= 400:
                break
            with httpx.Client() as client:
                response = send(client, server.url, access.ingest, sample_event())
            statuses.append(response.status_code)
            processes.add(response.headers["x-request-id"][:PREFIX])
        size = len(statuses)

        def signed_size() -> int:
            latest = services.checkpoints.repo.latest_checkpoint(access.org.id)
            return latest.tree_size if latest else -1

        wait_until(lambda: signed_size() >= size, "a checkpoint of every request")
    assert len(processes) == 2, f"one process answered all {size} requests"
    assert set(statuses) == {201}
    assert len(check_log(services, access)) == size
    # Both workers run a checkpointer: what they signed is one consistent series.
    checkpoints = services.checkpoints.repo.list_checkpoints(access.org.id, before=None, limit=1000)
    assert checkpoints
    assert max(c.tree_size for c in checkpoints) == size
    verifiers = services.checkpoints.verifiers()
    origin = services.checkpoints.origin(access.org.slug)
    for checkpoint in checkpoints:
        opened = open_checkpoint(checkpoint.note, verifiers, origin=origin)
        assert opened.checkpoint.tree_size == checkpoint.tree_size
        # Each signed root is the log's root at that size: one tree, whoever signed.
        nodes = partial(services.log.nodes, access.org.id)
        assert root_hash(checkpoint.tree_size, nodes) == checkpoint.root_hash
    services.stop()


def test_sqlite_refuses_more_than_one_worker(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditledger",
            "serve",
            "--workers",
            "2",
            "--database-url",
            f"sqlite:///{tmp_path / 'one.db'}",
        ],
        cwd=tmp_path,
        env={"AUDITLEDGER_SIGNING_KEY_FILE": str(tmp_path / "signing.key"), "PATH": ""},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1
    message = " ".join(done.stderr.decode().split())
    assert "--workers 2 needs PostgreSQL" in message
    assert "SQLite takes one writing process" in message
