"""The transactional outbox and its relay, on a platform database of each engine."""

from __future__ import annotations

import inspect
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx2 as httpx
import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, create_engine, insert, update

from auditledger.services import Services
from auditledger_client import CustomEvent, InvalidEvent, Outbox, Ref, Relay
from auditledger_client.backoff import Backoff
from auditledger_client.core.clock import FrozenClock
from auditledger_client.events import ModelArchive, ModelCreate, ModelRename
from tests.support.client import ADA, PROJECT, Stub, stored_ids, unreachable
from tests.support.helpers import OrgAccess

pytestmark = pytest.mark.timeout(120)


class Platform:
    """A tiny platform: a models table and the outbox, in one database."""

    def __init__(self, url: str, clock: FrozenClock) -> None:
        self.metadata = MetaData()
        self.models = Table(
            "models",
            self.metadata,
            Column("id", String(40), primary_key=True),
            Column("name", String(200), nullable=False),
        )
        self.outbox = Outbox.define(self.metadata, org="acme", clock=clock)
        self.engine: Engine = create_engine(url)
        self.metadata.create_all(self.engine)

    def create(self, model_id: str, name: str) -> uuid.UUID:
        with self.engine.begin() as conn:
            conn.execute(insert(self.models).values(id=model_id, name=name))
            return self.outbox.writer(conn).record(
                ModelCreate(model_name=name),
                subject=Ref(model_id, name),
                actor=ADA,
                project=PROJECT,
            )

    def rename(self, model_id: str, old: str, new: str, *, fail: bool = False) -> uuid.UUID:
        with self.engine.begin() as conn:
            conn.execute(update(self.models).where(self.models.c.id == model_id).values(name=new))
            event_id = self.outbox.writer(conn).record(
                ModelRename(old_name=old, new_name=new), subject=Ref(model_id, new), actor=ADA
            )
            if fail:
                raise RuntimeError("the change failed after the event was written")
            return event_id

    def name_of(self, model_id: str) -> str:
        with self.engine.connect() as conn:
            row = conn.execute(self.models.select().where(self.models.c.id == model_id)).one()
            return str(row.name)

    def pending(self) -> int:
        with self.engine.connect() as conn:
            return self.outbox.pending(conn)

    def relay(self, transport: httpx.BaseTransport, token: str, **kw: object) -> Relay:
        return Relay(
            self.engine,
            "http://auditledger.test",
            token,
            table=self.outbox.table,
            transport=transport,
            backoff=Backoff(base=0.01, cap=0.05),
            **kw,  # type: ignore[arg-type]
        )


@pytest.fixture
def platform(platform_db_url: str, frozen: FrozenClock) -> Iterator[Platform]:
    p = Platform(platform_db_url, frozen)
    yield p
    p.engine.dispose()


def test_a_rolled_back_change_sends_nothing(
    platform: Platform, service: httpx.BaseTransport, services: Services, acme: OrgAccess
) -> None:
    created = platform.create("mdl-1", "churn")
    with pytest.raises(RuntimeError):
        platform.rename("mdl-1", "churn", "churn-eu", fail=True)
    assert platform.name_of("mdl-1") == "churn"
    assert platform.pending() == 1
    relay = platform.relay(service, acme.ingest)
    stats = relay.run_once()
    assert (stats.created, stats.duplicates, stats.last_error) == (1, 0, None)
    assert stored_ids(services, acme) == [created]
    assert platform.pending() == 0


def test_the_outbox_writer_has_no_wait_to_refuse(platform: Platform) -> None:
    # The outbox commits with the caller's transaction; a `wait` it would only refuse at run
    # time is not offered at all.
    with platform.engine.begin() as conn:
        writer = platform.outbox.writer(conn)
        assert "wait" not in inspect.signature(writer.record).parameters
        with pytest.raises(TypeError):
            writer.record(  # type: ignore[call-arg]
                ModelCreate(model_name="x"), subject=Ref("mdl-9"), actor=ADA, wait=True
            )


def test_an_invalid_event_fails_the_change_it_describes(platform: Platform) -> None:
    platform.create("mdl-1", "churn")

    def change() -> None:
        with platform.engine.begin() as conn:
            conn.execute(update(platform.models).values(name="x"))
            platform.outbox.writer(conn).record(
                CustomEvent("model", "rename"), subject=Ref("mdl-1"), actor=ADA
            )

    with pytest.raises(InvalidEvent):
        change()
    assert platform.name_of("mdl-1") == "churn"
    assert platform.pending() == 1


def test_service_down_loses_nothing_and_order_is_kept(
    platform: Platform, service: httpx.BaseTransport, services: Services, acme: OrgAccess
) -> None:
    ids = [platform.create("mdl-1", "n0")]
    ids += [platform.rename("mdl-1", f"n{i}", f"n{i + 1}") for i in range(6)]
    down = platform.relay(Stub(unreachable), acme.ingest)
    stats = down.run_once()
    assert stats.sent == 0
    assert stats.last_error is not None
    assert "ConnectError" in stats.last_error
    assert platform.pending() == 7
    stats = platform.relay(service, acme.ingest, batch_size=3).run_once()
    assert stats.created == 7
    assert stored_ids(services, acme) == ids
    assert platform.pending() == 0


def test_a_refused_event_is_marked_rejected_and_the_rest_ships(
    platform: Platform,
    service: httpx.BaseTransport,
    services: Services,
    acme: OrgAccess,
    frozen: FrozenClock,
) -> None:
    first = platform.create("mdl-1", "n0")
    with platform.engine.begin() as conn:
        expired = platform.outbox.writer(conn).record(
            ModelArchive(),
            subject=Ref("mdl-1"),
            actor=ADA,
            timestamp=frozen.now() - timedelta(days=400),
        )
    last = platform.rename("mdl-1", "n0", "n1")
    stats = platform.relay(service, acme.ingest).run_once()
    assert (stats.created, stats.rejected) == (2, 1)
    assert stored_ids(services, acme) == [first, last]
    with platform.engine.connect() as conn:
        ((event_id, org, reason),) = platform.outbox.rejected(conn)
        assert platform.outbox.pending(conn) == 0
    assert event_id == expired
    assert org == "acme"
    assert "retention" in reason


def test_a_lost_answer_means_a_resend_that_is_stored_once(
    platform: Platform, service: httpx.BaseTransport, services: Services, acme: OrgAccess
) -> None:
    ids = [platform.create(f"mdl-{i}", f"m{i}") for i in range(3)]
    lost = [True]

    def answer(request: httpx.Request) -> httpx.Response | None:
        response = service.handle_request(request)  # the service commits...
        if lost[0]:
            lost[0] = False
            response.read()
            raise httpx.ReadError("connection reset", request=request)  # ...the answer is lost
        return response

    relay = platform.relay(Stub(answer), acme.ingest)
    assert relay.run_once().last_error is not None
    assert platform.pending() == 3
    stats = relay.run_once()
    assert (stats.created, stats.duplicates) == (0, 3)
    assert stored_ids(services, acme) == ids


def test_only_one_organizations_rows_when_asked(
    platform: Platform, service: httpx.BaseTransport, services: Services, acme: OrgAccess
) -> None:
    first = platform.create("mdl-1", "a")
    with platform.engine.begin() as conn:
        platform.outbox.writer(conn).record(
            ModelArchive(), subject=Ref("mdl-9"), actor=ADA, org="other"
        )
    stats = platform.relay(service, acme.ingest, org="acme").run_once()
    assert stats.created == 1
    assert stored_ids(services, acme) == [first]
    assert platform.pending() == 1


# PostgreSQL only: SQLite has no row locks, so the docs say one relay per SQLite database.
@pytest.mark.slow
@pytest.mark.parametrize(
    "engine_kind", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_several_relays_on_postgresql_claim_each_row_once(
    platform: Platform,
    service: httpx.BaseTransport,
    services: Services,
    acme: OrgAccess,
) -> None:
    ids = [platform.create(f"mdl-{i}", f"m{i}") for i in range(60)]
    relays = [platform.relay(service, acme.ingest, batch_size=5) for _ in range(3)]
    stop = threading.Event()
    threads = [threading.Thread(target=r.run, args=(stop, 0.01)) for r in relays]
    for thread in threads:
        thread.start()
    try:
        for _ in range(600):
            if platform.pending() == 0:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert platform.pending() == 0
    assert sum(r.stats.duplicates for r in relays) == 0  # no row was sent by two relays
    assert sum(r.stats.created for r in relays) == 60
    assert sorted(stored_ids(services, acme)) == sorted(ids)
