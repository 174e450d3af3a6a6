"""The client against the service in-process: events arrive once, in order; invalid events
fail at the call site; permanent rejections become dead letters; nothing is ever dropped."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
import pytest

from auditledger.services import Services
from auditledger_client import (
    AuditClient,
    ClientClosed,
    DeadLetter,
    EventRejected,
    FlushTimeout,
    InvalidEvent,
    NotAcknowledged,
    Ref,
    SpoolFull,
)
from auditledger_client.backoff import Backoff
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.errors import InvalidInput
from auditledger_client.events import (
    ModelArchive,
    ModelCreate,
    ModelRename,
    ModelVersionApprove,
    TaskRun,
)
from auditledger_client.typed import CustomEvent
from tests.support.client import ADA, CHURN, PROJECT, Stub, stored_ids, unreachable
from tests.support.helpers import OrgAccess

pytestmark = pytest.mark.timeout(60)


def make_client(
    transport: httpx.BaseTransport,
    access: OrgAccess,
    clock: FrozenClock,
    spool: Path | None,
    **options: object,
) -> AuditClient:
    return AuditClient(
        "http://auditledger.test",
        access.ingest,
        org="acme",
        spool_path=spool,
        transport=transport,
        clock=clock,
        backoff=Backoff(base=0.01, cap=0.05),
        **options,  # type: ignore[arg-type]
    )


def rename(client: AuditClient, n: int, **kw: object) -> uuid.UUID:
    kw.setdefault("source", "193.166.3.7")
    return client.record(
        ModelRename(old_name=f"name-{n}", new_name=f"name-{n + 1}"),
        subject=Ref("mdl-churn", f"name-{n + 1}"),
        actor=ADA,
        project=PROJECT,
        **kw,  # type: ignore[arg-type]
    ).id


def test_events_arrive_once_in_the_order_recorded(
    service: httpx.BaseTransport,
    services: Services,
    acme: OrgAccess,
    frozen: FrozenClock,
    tmp_path: Path,
) -> None:
    with make_client(service, acme, frozen, tmp_path / "spool.db", batch_size=7) as client:
        ids = [rename(client, n) for n in range(40)]
        client.flush(30)
        assert client.pending == 0
    assert stored_ids(services, acme) == ids
    event = services.log.events(acme.org.id, "acme", 0, 1)[0]
    assert event.properties == {"old_name": "name-0", "new_name": "name-1"}
    assert event.subject.name == "name-1"
    assert event.project is not None
    assert event.project.name == "churn-prediction"
    assert event.source is not None
    assert event.source.ip == "193.166.3.7"
    assert event.occurred_at == frozen.now()


def test_wait_returns_the_committed_receipt(
    service: httpx.BaseTransport, services: Services, acme: OrgAccess, frozen: FrozenClock
) -> None:
    with make_client(service, acme, frozen, None) as client:
        receipt = client.record(
            ModelVersionApprove(),
            subject=Ref("mv-7", "churn-model v7", parent=CHURN),
            actor=ADA,
            wait=True,
        )
        assert receipt.acknowledged
        assert receipt.status == "created"
        assert receipt.seq == 0
        assert receipt.hash
        assert receipt.organization == "acme"
        # Sending the same id again is stored once: the receipt says so.
        again = client.record(
            ModelVersionApprove(),
            subject=Ref("mv-7", "churn-model v7", parent=CHURN),
            actor=ADA,
            event_id=receipt.id,
            timestamp=frozen.now(),
            wait=True,
        )
        assert again.status == "duplicate"
        assert again.seq == 0
    assert stored_ids(services, acme) == [receipt.id]


def test_invalid_events_raise_at_the_call_site_and_are_not_spooled(
    service: httpx.BaseTransport, acme: OrgAccess, frozen: FrozenClock
) -> None:
    with make_client(service, acme, frozen, None) as client:
        with pytest.raises(InvalidEvent) as unknown:
            client.record(CustomEvent("model", "teleport"), subject=CHURN, actor=ADA)
        assert "allowed types" in unknown.value.problems[0].message
        with pytest.raises(InvalidEvent) as no_parent:
            client.record(ModelVersionApprove(), subject=Ref("mv-1"), actor=ADA)
        assert no_parent.value.problems[0].field == "subject.parent"
        with pytest.raises(InvalidEvent, match="not valid"):
            client.record(TaskRun(workload="sweep"), subject=Ref("t-1"), actor=ADA)  # type: ignore[arg-type]
        with pytest.raises(InvalidEvent):
            rename(client, 1, timestamp=frozen.now().replace(tzinfo=None))
        with pytest.raises(InvalidEvent):
            rename(client, 1, source="not-an-ip")
        assert client.pending == 0


def test_a_missing_property_is_an_invalid_event_naming_it_not_a_type_error() -> None:
    with pytest.raises(InvalidEvent) as missing:
        ModelRename(old_name="a")  # type: ignore[call-arg]
    assert [p.field for p in missing.value.problems] == ["properties.new_name"]
    assert "model.rename" in missing.value.problems[0].message


@pytest.mark.parametrize(
    "error",
    [
        InvalidEvent("x"),
        SpoolFull("x"),
        FlushTimeout("x", 1),
        NotAcknowledged(uuid.uuid4(), True, "x"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_error_the_client_raises_is_a_client_error(error: Exception) -> None:
    from auditledger_client import ClientError, EventTooLarge

    assert isinstance(error, ClientError)
    assert issubclass(EventTooLarge, ClientError)
    assert issubclass(InvalidEvent, InvalidInput)


def test_an_oversized_event_is_a_client_error(
    service: httpx.BaseTransport, acme: OrgAccess, frozen: FrozenClock
) -> None:
    from auditledger_client import ClientError, EventTooLarge

    with make_client(service, acme, frozen, None) as client:
        huge = ModelRename(old_name="a" * 70_000, new_name="b")
        with pytest.raises(EventTooLarge) as too_large:
            client.record(huge, subject=CHURN, actor=ADA)
        assert isinstance(too_large.value, ClientError)
        assert client.pending == 0


def test_a_permanent_rejection_becomes_a_dead_letter_and_the_rest_is_delivered(
    service: httpx.BaseTransport,
    services: Services,
    acme: OrgAccess,
    frozen: FrozenClock,
    tmp_path: Path,
) -> None:
    letters: list[DeadLetter] = []
    with make_client(
        service, acme, frozen, tmp_path / "s.db", on_dead_letter=letters.append, linger=60
    ) as client:
        good = rename(client, 0)
        # Valid locally, refused by the service: older than the organization's retention.
        expired = rename(client, 1, timestamp=frozen.now() - timedelta(days=200))
        last = rename(client, 2)
        client.flush(30)
        assert stored_ids(services, acme) == [good, last]
        (letter,) = client.dead_letters()
        assert letter.event_id == expired
        assert letter.status == 422
        assert letter.problems[0].field == "timestamp"
        assert "retention" in letter.problems[0].message
        assert letter.event["properties"]["old_name"] == "name-1"
        assert letters == [letter]
        # Waiting callers hear about it at once instead of timing out.
        with pytest.raises(EventRejected) as rejected:
            rename(client, 3, timestamp=frozen.now() - timedelta(days=200), wait=True)
        assert rejected.value.status == 422


def test_same_id_with_other_content_is_a_conflict_dead_letter(
    service: httpx.BaseTransport, acme: OrgAccess, frozen: FrozenClock
) -> None:
    with make_client(service, acme, frozen, None) as client:
        first = client.record(ModelArchive(), subject=CHURN, actor=ADA, wait=True)
        with pytest.raises(EventRejected) as conflict:
            client.record(
                ModelCreate(model_name="x"), subject=CHURN, actor=ADA, event_id=first.id, wait=True
            )
        assert conflict.value.status == 409
        assert [d.code for d in client.dead_letters()] == ["conflict"]


def test_unattributed_rejection_is_narrowed_down_one_event_at_a_time(
    service: httpx.BaseTransport,
    services: Services,
    acme: OrgAccess,
    frozen: FrozenClock,
) -> None:
    poisoned: set[str] = set()

    def answer(request: httpx.Request) -> httpx.Response | None:
        # A rejection that names no event (as a proxy or an older service might send).
        if any(eid in request.content.decode() for eid in poisoned):
            return httpx.Response(400, json={"error": {"code": "bad", "message": "refused"}})
        return None

    with make_client(Stub(answer, service), acme, frozen, None, linger=60) as client:
        ids = [rename(client, n, event_id=uuid.uuid4()) for n in range(3)]
        poisoned.add(str(ids[1]))
        client.flush(30)
        assert [d.event_id for d in client.dead_letters()] == [ids[1]]
    assert stored_ids(services, acme) == [ids[0], ids[2]]


def test_retry_after_is_honoured_and_nothing_is_lost(
    service: httpx.BaseTransport, services: Services, acme: OrgAccess, frozen: FrozenClock
) -> None:
    answers = iter([httpx.Response(503, headers={"Retry-After": "1"}), httpx.Response(429)])
    delays: list[tuple[float | None, float]] = []

    class Recording(Backoff):
        def delay(self, attempt: int, retry_after: float | None = None) -> float:
            chosen = super().delay(attempt, retry_after)
            delays.append((retry_after, chosen))
            return chosen

    stub = Stub(lambda _request: next(answers, None), service)
    with make_client(stub, acme, frozen, None) as client:
        client._core.sender.backoff = Recording(base=0.01, cap=0.05)
        receipt = rename(client, 0, wait=True)
    assert delays[0][0] == 1.0
    assert delays[0][1] >= 1.0
    assert delays[1][0] is None
    assert len(stub.requests) == 3
    assert stored_ids(services, acme) == [receipt]


def test_unreachable_service_keeps_events_and_a_full_spool_pushes_back(
    acme: OrgAccess, frozen: FrozenClock, tmp_path: Path
) -> None:
    stub = Stub(unreachable)
    client = make_client(stub, acme, frozen, tmp_path / "s.db", max_spool_events=3)
    ids = [rename(client, n) for n in range(3)]
    with pytest.raises(SpoolFull):
        rename(client, 3)
    with pytest.raises(FlushTimeout) as timeout:
        client.flush(0.3)
    assert timeout.value.pending == 3
    assert "ConnectError" in str(timeout.value)
    client.close(0.1)  # durable: the events stay in the file
    with pytest.raises(ClientClosed):
        rename(client, 4)
    reopened = make_client(Stub(unreachable), acme, frozen, tmp_path / "s.db")
    assert reopened.pending == 3
    reopened.close(0.1)
    assert ids


def test_memory_spool_says_when_close_loses_events(acme: OrgAccess, frozen: FrozenClock) -> None:
    client = make_client(Stub(unreachable), acme, frozen, None)
    rename(client, 0)
    with pytest.raises(FlushTimeout, match="lost"):
        client.close(0.2)


def test_wait_times_out_and_withdraws_the_event_when_the_service_is_away(
    service: httpx.BaseTransport, services: Services, acme: OrgAccess, frozen: FrozenClock
) -> None:
    down = True
    stub = Stub(lambda request: unreachable(request) if down else None, service)
    # A refused connection fails the wait at once, so a long ack_timeout costs nothing here and
    # gives the call after the outage time to commit on a loaded machine.
    with make_client(stub, acme, frozen, None, ack_timeout=10) as client:
        with pytest.raises(NotAcknowledged) as refused:
            rename(client, 0, wait=True)
        # Either it was withdrawn (never sent) or it was on the wire; both are reported.
        if refused.value.withdrawn:
            assert client.pending == 0
        down = False
        after = rename(client, 1, wait=True)
    stored = stored_ids(services, acme)
    assert stored[-1] == after
    if refused.value.withdrawn:
        assert stored == [after]


def test_revoked_credential_holds_events_instead_of_dropping_them(
    service: httpx.BaseTransport, services: Services, acme: OrgAccess, frozen: FrozenClock
) -> None:
    errors: list[str] = []
    client = make_client(service, acme, frozen, None, on_error=errors.append)
    try:
        client._core.deliverer._http.headers["Authorization"] = "Bearer wrong"
        rename(client, 0)
        with pytest.raises(FlushTimeout):
            client.flush(0.5)
        assert client.pending == 1
        assert client.dead_letters() == []
        assert errors
        assert errors[0].startswith("401")
        client._core.deliverer._http.headers["Authorization"] = f"Bearer {acme.ingest}"
        client.flush(30)
    finally:
        client.close(5)
    assert len(stored_ids(services, acme)) == 1


def test_an_event_needs_an_organization(acme: OrgAccess) -> None:
    with AuditClient(
        "http://auditledger.test", acme.ingest, spool_path=None, transport=Stub(unreachable)
    ) as client:
        with pytest.raises(InvalidEvent) as missing:
            client.record(ModelArchive(), subject=CHURN, actor=ADA)
        assert missing.value.problems[0].field == "org"
        queued = client.record(ModelArchive(), subject=CHURN, actor=ADA, org="acme")
        assert queued.status == "queued"
        # Taken back so that closing a memory spool has nothing to lose.
        client._core.spool.withdraw(client._core.spool.head(1, 10_000)[0].id)
