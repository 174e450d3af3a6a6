"""What a caller who waits gets: a sender that notices at once that the service is back, a fast
answer when nobody is listening, a bounded pause for Retry-After, a close() that keeps its
bound. Each of these was hit by a platform engineer trying the client."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx2 as httpx
import pytest

from auditledger.services import Services
from auditledger_client import AuditClient, DuplicateEvent, NotAcknowledged, Ref
from auditledger_client.backoff import MAX_RETRY_AFTER, Backoff
from auditledger_client.core.clock import FrozenClock
from auditledger_client.events import ModelArchive
from auditledger_client.spool import Spool
from tests.support.client import ADA, Stub, stored_ids, unreachable
from tests.support.helpers import OrgAccess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


class LongPauses(Backoff):
    """Every retry pauses for the full 30 s cap, as after a long outage."""

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        return 30.0


def make_client(
    transport: httpx.BaseTransport, access: OrgAccess, clock: FrozenClock, **options: object
) -> AuditClient:
    options.setdefault("backoff", LongPauses())
    return AuditClient(
        "http://auditledger.test",
        access.ingest,
        org="acme",
        spool_path=options.pop("spool_path", None),  # type: ignore[arg-type]
        transport=transport,
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def archive(client: AuditClient, n: int, **kw: object) -> uuid.UUID:
    return client.record(
        ModelArchive(),
        subject=Ref(f"mdl-{n}"),
        actor=ADA,
        **kw,  # type: ignore[arg-type]
    ).id


def test_flush_after_an_outage_does_not_wait_out_the_backoff(
    service: httpx.BaseTransport, services: Services, acme: OrgAccess, frozen: FrozenClock
) -> None:
    down = threading.Event()
    down.set()
    stub = Stub(lambda r: unreachable(r) if down.is_set() else None, service)
    with make_client(stub, acme, frozen) as client:
        first = archive(client, 0)
        # The sender has failed and is now in its 30 s pause.
        wait_until(lambda: client.last_error is not None, "the sender to fail", 30)
        down.clear()
        # The service is back: a flush cuts the pause short instead of timing out.
        client.flush(10)
        assert client.last_error is None
    assert stored_ids(services, acme) == [first]


def test_wait_after_an_outage_is_answered_once_the_service_is_back(
    service: httpx.BaseTransport, services: Services, acme: OrgAccess, frozen: FrozenClock
) -> None:
    down = threading.Event()
    down.set()
    stub = Stub(lambda r: unreachable(r) if down.is_set() else None, service)
    with make_client(stub, acme, frozen, ack_timeout=10) as client:
        queued = archive(client, 0)
        wait_until(lambda: client.last_error is not None, "the sender to fail", 30)
        down.clear()
        receipt = client.record(ModelArchive(), subject=Ref("mdl-1"), actor=ADA, wait=True)
        assert receipt.status == "created"
    assert stored_ids(services, acme) == [queued, receipt.id]


def test_wait_on_a_refused_connection_fails_at_once_and_withdraws(
    acme: OrgAccess, frozen: FrozenClock
) -> None:
    with make_client(Stub(unreachable), acme, frozen, ack_timeout=30) as client:
        started = time.monotonic()
        with pytest.raises(NotAcknowledged) as refused:
            archive(client, 0, wait=True)
        # Not the full ack_timeout: nothing listens, so nothing will commit it in time.
        assert time.monotonic() - started < 15
        assert refused.value.withdrawn
        assert "ConnectError" in str(refused.value)
        assert client.pending == 0


def test_wait_gives_up_early_when_the_service_asks_for_a_longer_pause(
    acme: OrgAccess, frozen: FrozenClock
) -> None:
    busy = Stub(lambda _r: httpx.Response(503, headers={"Retry-After": "600"}))
    with make_client(busy, acme, frozen, ack_timeout=30, backoff=Backoff()) as client:
        started = time.monotonic()
        with pytest.raises(NotAcknowledged) as paused:
            archive(client, 0, wait=True)
        assert time.monotonic() - started < 15
        assert paused.value.withdrawn
        assert "503" in str(paused.value)


def test_retry_after_is_capped() -> None:
    assert MAX_RETRY_AFTER <= 60
    assert Backoff().delay(0, retry_after=600) == MAX_RETRY_AFTER
    assert Backoff().delay(0, retry_after=2) >= 2


def test_recording_an_event_id_still_in_the_spool_is_a_duplicate_event(
    acme: OrgAccess, frozen: FrozenClock, tmp_path: Path
) -> None:
    event_id = uuid.uuid4()
    client = make_client(Stub(unreachable), acme, frozen, spool_path=tmp_path / "s.db")
    try:
        archive(client, 0, event_id=event_id)
        with pytest.raises(DuplicateEvent) as duplicate:
            archive(client, 0, event_id=event_id)
        assert duplicate.value.event_id == event_id
        assert client.pending == 1
    finally:
        client.close(0.1)


class Hanging(httpx.BaseTransport):
    """A service that accepts the request and answers only when released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.entered.set()
        self.release.wait(30)
        raise httpx.ReadTimeout("no answer", request=request)


def test_close_returns_within_its_timeout_even_with_a_request_on_the_wire(
    acme: OrgAccess, frozen: FrozenClock, tmp_path: Path
) -> None:
    hanging = Hanging()
    spool = tmp_path / "s.db"
    client = make_client(hanging, acme, frozen, spool_path=spool)
    archive(client, 0)
    assert hanging.entered.wait(10)
    started = time.monotonic()
    client.close(1.0)
    # Far less than the 30 s the request hangs for, with room for a loaded machine.
    assert time.monotonic() - started < 10
    # The request's answer decides what the spool keeps; once it came, the file is released
    # and the event is still there for the next client.
    hanging.release.set()
    wait_until(lambda: client._core.sender.stopped, "the sender to stop", 30)
    reopened = Spool(spool)
    assert reopened.pending == 1
    reopened.close()
