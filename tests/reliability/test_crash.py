"""kill -9 during concurrent ingestion, several times: every acknowledged event survives,
exactly once, in a dense sequence; clients that retry create no duplicates."""

from __future__ import annotations

import random
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.support.durability import check_log, prepare
from tests.support.loadgen import Clients, Ledger
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow

CLIENTS = 32
KILLS = 3


def test_acknowledged_events_survive_repeated_kill_9(database_url: str, tmp_path: Path) -> None:
    services, access = prepare(database_url, tmp_path)
    ledger = Ledger()
    rng = random.Random(20261125)
    url_path = "/api/v1/orgs/acme/events"
    for _ in range(KILLS):
        server = ServerProcess(database_url, tmp_path).start()
        acked_before = len(ledger.acked)
        with Clients(server.url + url_path, access.ingest, CLIENTS, ledger):
            # Wait for real traffic, then kill at a random moment within the next second.
            deadline = time.monotonic() + 120
            while len(ledger.acked) < acked_before + 100 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.0))
            server.kill()
        assert len(ledger.acked) > acked_before
        stored = {str(i) for i in check_log(services, access)}
        lost = ledger.acked - stored
        assert not lost, f"{len(lost)} acknowledged events were lost"

    # Every client retries everything it ever sent, as a careful client does after a crash
    # (in batches here, which follow the same idempotency rules).
    with ServerProcess(database_url, tmp_path) as server, httpx.Client(timeout=30) as client:
        for offset in range(0, len(ledger.sent), 500):
            response = client.post(
                server.url + url_path + "/batch",
                json={"events": ledger.sent[offset : offset + 500]},
                headers=access.headers(access.ingest),
            )
            assert response.status_code == 201, response.text
    final = check_log(services, access)
    assert len(final) == len({e["id"] for e in ledger.sent})
    assert ledger.server_errors == 0
    print(
        f"crash: {KILLS} kills, {CLIENTS} clients, {len(ledger.sent)} sent, "
        f"{len(ledger.acked)} acknowledged, all found; after retrying everything "
        f"{len(final)} stored, 0 duplicates; statuses {dict(ledger.statuses)}"
    )
    services.stop()
