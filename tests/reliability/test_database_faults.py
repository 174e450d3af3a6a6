"""Database faults: PostgreSQL restarted mid-ingestion, SQLite locked by another process, a
failing disk. Requests fail cleanly (503 with Retry-After, never an acknowledgement without a
commit), the service recovers by itself, and nothing acknowledged is lost."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from auditledger.services import Services
from tests.support import pgcluster
from tests.support.durability import check_log, prepare
from tests.support.helpers import make_org, sample_event
from tests.support.loadgen import Clients, Ledger
from tests.support.locks import finish, hold_write_lock
from tests.support.servers import ServerProcess

REQUIRE_PG = os.environ.get("AUDITLEDGER_REQUIRE_POSTGRES") == "1"


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_restart_during_ingestion(tmp_path: Path) -> None:
    reason = pgcluster.available()
    if reason:
        if REQUIRE_PG:
            pytest.fail(reason)
        pytest.skip(reason)
    with pgcluster.private_postgres(tmp_path) as pg:
        services, access = prepare(pg.url, tmp_path)
        services.db.dispose()
        ledger = Ledger()
        url = "/api/v1/orgs/acme/events"
        with ServerProcess(pg.url, tmp_path) as server:
            with Clients(server.url + url, access.ingest, 16, ledger):
                deadline = time.monotonic() + 120
                while len(ledger.acked) < 200 and time.monotonic() < deadline:
                    time.sleep(0.02)
                acked_before_restart = len(ledger.acked)
                pg.stop()  # a real, fast shutdown: every connection drops
                time.sleep(1.0)  # requests meanwhile must fail cleanly
                pg.start()
                # The service reconnects by itself: acknowledgements resume.
                deadline = time.monotonic() + 120
                while (
                    len(ledger.acked) < acked_before_restart + 200 and time.monotonic() < deadline
                ):
                    time.sleep(0.05)
            assert len(ledger.acked) >= acked_before_restart + 200, ledger.statuses
            assert ledger.statuses[503] > 0, "nothing failed while the database was down"
            assert ledger.retry_after_missing == 0
            assert ledger.server_errors == 0, ledger.statuses
            ready = httpx.get(server.url + "/readyz", timeout=60)
            assert ready.status_code == 200
        stored = {str(i) for i in check_log(services, access)}
        assert ledger.acked <= stored
        print(
            f"postgres restart: {len(ledger.sent)} sent, {len(ledger.acked)} acknowledged, "
            f"{len(stored)} stored, statuses {dict(ledger.statuses)}"
        )
        services.stop()


@pytest.mark.slow
@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_sqlite_locked_by_another_process(database_url: str, tmp_path: Path) -> None:
    services, access = prepare(database_url, tmp_path)
    services.db.dispose()
    path = database_url.removeprefix("sqlite:///")
    headers = access.headers(access.ingest)
    env = {"AUDITLEDGER_SQLITE_BUSY_SECONDS": "1"}
    with ServerProcess(database_url, tmp_path, env=env) as server:
        # Another process takes the database's write lock and keeps it until the answer came
        # (a fixed hold would end before a slow request on a loaded machine arrived).
        holder = hold_write_lock(path)
        try:
            response = httpx.post(
                server.url + "/api/v1/orgs/acme/events",
                json=sample_event(),
                headers=headers,
                timeout=30,
            )
            assert response.status_code == 503
            assert response.headers["retry-after"]
            assert "nothing was stored" in response.json()["error"]["message"]
        finally:
            finish(holder)
        again = httpx.post(
            server.url + "/api/v1/orgs/acme/events",
            json=sample_event(),
            headers=headers,
            timeout=30,
        )
        assert again.status_code == 201
    assert len(check_log(services, access)) == 1
    services.stop()


def test_disk_failure_fails_closed(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    access = make_org(services, "acme")
    real = services.log.append
    broken = threading.Event()
    broken.set()

    def failing_disk(requests: Any) -> Any:
        if broken.is_set():
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("disk I/O error"))
        return real(requests)

    monkeypatch.setattr(services.log, "append", failing_disk)
    headers = access.headers(access.ingest)
    response = client.post("/api/v1/orgs/acme/events", json=sample_event(), headers=headers)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    batch = client.post(
        "/api/v1/orgs/acme/events/batch",
        json={"events": [sample_event(), sample_event()]},
        headers=headers,
    )
    assert batch.status_code == 503
    assert services.log.head(access.org.id).tree_size == 0
    metrics = client.get("/metrics").text
    assert "auditledger_commit_failures_total 2.0" in metrics
    broken.clear()  # the disk recovers; so does the service, without a restart
    assert (
        client.post("/api/v1/orgs/acme/events", json=sample_event(), headers=headers).status_code
        == 201
    )
