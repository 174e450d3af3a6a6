"""Overload: the ingestion queue is bounded; past capacity the service answers 503 with
Retry-After at once instead of growing memory or dropping events, and everything it accepted
is committed once the database is back."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.support.durability import check_log, prepare
from tests.support.helpers import sample_event
from tests.support.locks import finish, hold_write_lock, release
from tests.support.servers import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)]


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB."""
    fields = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


# The lock is held until every request the full queue cannot take has been refused, at most
# this long; the server's SQLite busy timeout is longer, so its commits wait instead of failing.
HOLD_AT_MOST_SECONDS = 100
BUSY_SECONDS = 150


async def flood(
    url: str, token: str, bodies: list[bytes], holder: subprocess.Popen[bytes], room: int
) -> list[tuple[int, Any]]:
    """Send every body at once; the database comes back once all but ``room`` are refused.

    Releasing at the first refusal would let requests that arrive late (a loaded machine sends
    slowly) into the drained queue, so how many were accepted would depend on timing. A server
    that queued more than ``room`` never refuses enough: the lock is then released after
    HOLD_AT_MOST_SECONDS, and the callers' bound on what was accepted fails.
    """
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=len(bodies))  # all in flight at once
    refused = 0
    async with httpx.AsyncClient(timeout=BUSY_SECONDS + 60, limits=limits) as client:

        async def one(body: bytes) -> tuple[int, Any]:
            nonlocal refused
            response = await client.post(url, content=body, headers=headers)
            if response.status_code == 503:
                refused += 1
                if refused >= len(bodies) - room:
                    release(holder)  # the queue is full and the rest refused
            return response.status_code, response.headers.get("retry-after")

        return list(await asyncio.gather(*(one(body) for body in bodies)))


def room(capacity: int, size: int) -> int:
    """How many batches of ``size`` a stalled server may accept: a full queue of ``capacity``
    events and the batch its writer is blocked on."""
    return capacity // size + 1


def run_overload(
    database_url: str, tmp_path: Path, capacity: int, batches: int, size: int
) -> tuple[list[tuple[int, Any]], float, float, Any, Any]:
    bodies = [
        json.dumps({"events": [sample_event() for _ in range(size)]}).encode()
        for _ in range(batches)
    ]
    services, access = prepare(database_url, tmp_path)
    services.db.dispose()
    env = {
        "AUDITLEDGER_INGEST_QUEUE_EVENTS": str(capacity),
        "AUDITLEDGER_SQLITE_BUSY_SECONDS": str(BUSY_SECONDS),
    }
    with ServerProcess(database_url, tmp_path, env=env) as server:
        assert server.process is not None
        idle, _ = rss_mb(server.process.pid)
        holder = hold_write_lock(database_url.removeprefix("sqlite:///"), HOLD_AT_MOST_SECONDS)
        try:
            url = server.url + "/api/v1/orgs/acme/events/batch"
            results = asyncio.run(flood(url, access.ingest, bodies, holder, room(capacity, size)))
        finally:
            finish(holder)
        _, peak = rss_mb(server.process.pid)
    return results, idle, peak, services, access


def test_past_capacity_requests_are_refused_not_queued(database_url: str, tmp_path: Path) -> None:
    results, _, _, services, access = run_overload(database_url, tmp_path, 1000, 60, 50)
    statuses = [status for status, _ in results]
    accepted = statuses.count(201)
    refused = [retry for status, retry in results if status == 503]
    assert set(statuses) <= {201, 503}
    assert refused, "nothing was refused although the queue was full"
    assert all(refused), "a 503 came without Retry-After"
    # What was accepted was committed once the lock went away; nothing else was.
    assert 0 < accepted <= room(1000, 50)
    assert len(check_log(services, access)) == accepted * 50
    services.stop()


def test_memory_stays_bounded_at_full_queue(database_url: str, tmp_path: Path) -> None:
    # The default capacity (20,000 events) filled and then flooded twice over.
    results, idle, peak, services, access = run_overload(database_url, tmp_path, 20_000, 400, 100)
    statuses = [status for status, _ in results]
    assert statuses.count(503) > 0
    accepted = statuses.count(201)
    assert len(check_log(services, access)) == accepted * 100
    growth = peak - idle
    print(f"memory: idle {idle:.0f} MB, peak {peak:.0f} MB with a full queue ({accepted} batches)")
    # About 20,000 queued events of ~1 KiB plus their parsed forms: well under 200 MB.
    assert growth < 200, f"the server grew by {growth:.0f} MB"
    services.stop()
