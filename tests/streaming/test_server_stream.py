"""Streaming from real ``auditledger serve`` processes: ``kill -9`` mid-stream loses nothing,
and with two servers on one PostgreSQL the lease holder's death hands delivery over."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from auditledger.services import Services
from auditledger_client.core.event import Actor
from tests.support.helpers import OrgAccess
from tests.support.receivers import WebhookReceiver
from tests.support.servers import ServerProcess
from tests.support.streams import record
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
ADMIN = Actor("user", "auditledger-user:root", "Root")
SERVER_ENV = {
    "AUDITLEDGER_STREAM_ALLOWED_NETWORKS": "127.0.0.0/8",
    "AUDITLEDGER_STREAM_BATCH_EVENTS": "20",
    "AUDITLEDGER_STREAM_LEASE_SECONDS": "2",
    "AUDITLEDGER_CHECKPOINT_INTERVAL": "3600",
}


def _first_occurrences(seqs: list[int]) -> list[int]:
    seen: set[int] = set()
    return [s for s in seqs if not (s in seen or seen.add(s))]  # type: ignore[func-returns-value]


def _assert_in_order(receiver: WebhookReceiver, size: int) -> None:
    seqs = [r["seq"] for r in receiver.events()]
    # At least once: a batch sent before the crash may arrive again, but every event arrives,
    # and the first time each one arrives is in sequence order.
    assert _first_occurrences(seqs) == list(range(size))
    for batch in receiver.batches():
        inside = [r["seq"] for r in batch["events"]]
        assert inside == sorted(inside)


def _setup(services: Services, acme: OrgAccess, receiver: WebhookReceiver) -> None:
    services.destinations.create(
        acme.org,
        name="siem",
        transport="webhook",
        settings={"url": receiver.url},
        start_seq=0,
        actor=ADMIN,
    )


def _size(services: Services, acme: OrgAccess) -> int:
    return services.log.head(acme.org.id).tree_size


def test_kill_9_mid_stream_loses_nothing(
    database_url: str,
    stream_services: Services,
    acme: OrgAccess,
    receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    _setup(stream_services, acme, receiver)
    record(stream_services, acme.org, 300)
    server = ServerProcess(database_url, tmp_path, env=SERVER_ENV).start()
    try:
        wait_until(lambda: len(receiver.events()) >= 60, "the first batches")
        server.kill()
    finally:
        server.kill()
    assert len(receiver.events()) < 301  # it really died mid-stream
    record(stream_services, acme.org, 50)
    with ServerProcess(database_url, tmp_path, env=SERVER_ENV):
        size = _size(stream_services, acme)
        wait_until(
            lambda: set(range(size)) <= {r["seq"] for r in receiver.events()},
            "every event after the restart",
        )
    _assert_in_order(receiver, size)


@pytest.mark.parametrize("engine_kind", ["postgres"], indirect=True)
def test_two_servers_one_deliverer_and_a_dead_one_hands_over(
    database_url: str,
    stream_services: Services,
    acme: OrgAccess,
    receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    _setup(stream_services, acme, receiver)
    first = ServerProcess(database_url, tmp_path, env=SERVER_ENV).start()
    second = ServerProcess(database_url, tmp_path, env=SERVER_ENV).start()
    stop = threading.Event()

    def ingest() -> None:
        while not stop.is_set():
            record(stream_services, acme.org, 5)
            stop.wait(0.05)

    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        wait_until(lambda: len(receiver.events()) >= 40, "delivery to start")
        holder = stream_services.destinations.get(acme.org, "siem").lease_owner
        assert holder is not None
        pids = {first.process.pid: first, second.process.pid: second}  # type: ignore[union-attr]
        holder_pid = int(holder.split(":")[1])
        assert holder_pid in pids
        pids[holder_pid].kill()
        survivor = next(s for pid, s in pids.items() if pid != holder_pid)
        wait_until(
            lambda: (
                (stream_services.destinations.get(acme.org, "siem").lease_owner or "").split(":")[1]
                == str(survivor.process.pid)
            ),  # type: ignore[union-attr]
            "the survivor to take the lease over",
            seconds=30,
        )
        stop.set()
        writer.join()
        size = _size(stream_services, acme)
        wait_until(
            lambda: set(range(size)) <= {r["seq"] for r in receiver.events()},
            "every event through the survivor",
        )
    finally:
        stop.set()
        writer.join()
        first.stop()
        second.stop()
    _assert_in_order(receiver, size)
