"""Retention: exactly the events past 180 days go, holds keep everything, the purge is recorded
and attested, and the Merkle log (roots, proofs, consistency) is untouched by it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from auditledger.core.errors import InvalidInput
from auditledger.core.merkle import (
    consistency_proof,
    inclusion_proof,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from auditledger.query.filters import EventFilter
from auditledger.query.search import iterate
from auditledger.retention import purge as purge_module
from auditledger.retention.records import compress, purge_records
from auditledger.services import Services
from auditledger.tenancy.model import Organization
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.event import Actor
from auditledger_client.core.validate import parse_event
from tests.support.helpers import sample_event

OPERATOR = Actor("user", "u-ada", "Ada Okafor")


def at(text_: str) -> datetime:
    return datetime.fromisoformat(text_).astimezone(UTC)


def record(services: Services, org: Organization, when: datetime, **overrides: Any) -> str:
    """Ingest one event as if it had arrived a second after it happened."""
    event = sample_event(timestamp=when.isoformat(), **overrides)
    received = when + timedelta(seconds=1)
    services.ingest.ingest_blocking(org, [parse_event(event, received_at=received)], received)
    return str(event["id"])


def remaining(services: Services, org: Organization) -> set[str]:
    """Ids of the platform's events still stored (auditledger's own records left out)."""
    with services.db.read() as connection:
        return {
            str(e.event_id)
            for e in iterate(connection, org.id, org.slug, EventFilter())
            if e.category != "audit_log"
        }


def fetcher(services: Services, org: Organization) -> Any:
    return lambda ids: services.log.nodes(org.id, ids)


@pytest.fixture
def org(services: Services) -> Organization:
    return services.tenancy.create_org("acme", "Acme")


@pytest.mark.parametrize(
    ("now", "boundary"),
    [
        # 12:00 UTC: the cutoff is midnight UTC 180 days before today.
        ("2026-11-25T12:00:00+00:00", "2026-05-29T00:00:00+00:00"),
        # Just after the EU's autumn daylight-saving change (2026-10-25 01:00 UTC).
        ("2026-10-25T01:30:00+00:00", "2026-04-28T00:00:00+00:00"),
        # Just after the spring change (2026-03-29 01:00 UTC).
        ("2026-03-29T02:30:00+00:00", "2025-09-30T00:00:00+00:00"),
    ],
)
def test_exactly_the_events_older_than_180_days_go(
    services: Services, org: Organization, clock: FrozenClock, now: str, boundary: str
) -> None:
    cutoff = at(boundary)
    ages = {
        "181 days": at(now) - timedelta(days=181),
        "last microsecond before": cutoff - timedelta(microseconds=1),
        "first microsecond kept": cutoff,
        # The same instants written with a daylight-saving offset must mean the same thing.
        "kept, local time": cutoff.astimezone(datetime.now(UTC).astimezone().tzinfo),
        "180 days": at(now) - timedelta(days=180),
        "179 days": at(now) - timedelta(days=179),
        "today": at(now) - timedelta(hours=1),
    }
    ids = {name: record(services, org, when) for name, when in ages.items()}
    clock.set(at(now))
    report = services.retention.purge()
    assert report.orgs[0].cutoff == cutoff
    left = remaining(services, org)
    gone = {name for name, event_id in ids.items() if event_id not in left}
    assert gone == {"181 days", "last microsecond before"}
    assert report.total == 2


def test_a_day_earlier_nothing_is_due(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    record(services, org, at("2026-05-28T10:00:00+00:00"))
    clock.set(at("2026-11-24T23:59:59+00:00"))  # 179 full days after that date
    assert services.retention.purge().total == 0
    clock.set(at("2026-11-25T00:00:00+00:00"))
    assert services.retention.purge().total == 1


def test_legal_hold_keeps_everything_until_released(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    old = record(services, org, at("2026-01-10T08:00:00+00:00"))
    services.retention.set_legal_hold(org, True, reason="case 42", actor=OPERATOR)
    clock.set(at("2026-11-25T12:00:00+00:00"))
    report = services.retention.purge()
    assert report.orgs[0].held
    assert old in remaining(services, org)
    held = services.tenancy.org("acme")
    services.retention.set_legal_hold(held, False, reason=None, actor=OPERATOR)
    services.retention.purge()
    assert old not in remaining(services, org)
    types = [
        e.type for e in services.log.events(org.id, org.slug, 0, 10) if e.category == "audit_log"
    ]
    assert types == ["legal_hold_change", "legal_hold_change", "purge"]


def test_purge_is_recorded_attested_and_idempotent(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    for day in range(5):
        record(services, org, at("2026-01-01T09:00:00+00:00") + timedelta(days=day))
    kept = record(services, org, at("2026-11-01T09:00:00+00:00"))
    clock.set(at("2026-11-25T12:00:00+00:00"))
    first = services.retention.purge()
    assert first.total == 5
    second = services.retention.purge()
    assert second.total == 0
    assert remaining(services, org) >= {kept}
    with services.db.read() as connection:
        (purge,) = purge_records(connection, org.id)
    assert purge.attested, purge.problem
    assert purge.ranges == [(0, 4)]
    assert purge.count == 5
    assert purge.cutoff == at("2026-05-29T00:00:00+00:00")
    head = services.log.head(org.id)
    (event,) = services.log.events(org.id, org.slug, head.tree_size - 1, head.tree_size)
    assert (event.category, event.type, event.actor.id) == ("audit_log", "purge", "retention")
    assert event.properties == {
        "count": 5,
        "cutoff": "2026-05-29T00:00:00.000000Z",
        "ranges": ["0-4"],
    }


@pytest.mark.slow
def test_the_merkle_log_survives_the_purge(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    for day in range(40):
        record(services, org, at("2026-04-20T09:00:00+00:00") + timedelta(days=day))
    before = services.log.head(org.id)
    old_size, old_root = before.tree_size, before.root_hash
    clock.set(at("2026-11-25T12:00:00+00:00"))
    report = services.retention.purge()
    assert 0 < report.total < 40
    after = services.log.head(org.id)
    fetch = fetcher(services, org)
    # Purging changes no leaf: the old root is still the root of the first old_size leaves.
    assert root_hash(old_size, fetch) == old_root
    assert root_hash(after.tree_size, fetch) == after.root_hash
    proof = consistency_proof(old_size, after.tree_size, fetch)
    assert verify_consistency(old_size, after.tree_size, old_root, after.root_hash, proof)
    # Every event still stored is provably in the log; every purged one is covered by a record.
    with services.db.read() as connection:
        records = purge_records(connection, org.id)
    stored = {e.seq: e for e in services.log.events(org.id, org.slug, 0, after.tree_size)}
    for leaf in services.log.leaves(org.id, 0, after.tree_size):
        if leaf.seq in stored:
            path = inclusion_proof(leaf.seq, after.tree_size, fetch)
            assert verify_inclusion(
                leaf.seq, after.tree_size, leaf.leaf_hash, path, after.root_hash
            )
        else:
            assert any(r.attested and r.covers(leaf.seq) for r in records), leaf.seq


def test_late_arrivals_make_ranges_with_holes(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    record(services, org, at("2026-01-01T09:00:00+00:00"))
    record(services, org, at("2026-11-01T09:00:00+00:00"))
    record(services, org, at("2026-01-02T09:00:00+00:00"))  # sent late, but within retention then
    clock.set(at("2026-11-25T12:00:00+00:00"))
    services.retention.purge()
    with services.db.read() as connection:
        (purge,) = purge_records(connection, org.id)
    assert purge.ranges == [(0, 0), (2, 2)]


def test_retention_changes_are_recorded_and_floored(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    with pytest.raises(InvalidInput, match="floor"):
        services.retention.set_retention(org, 30, actor=OPERATOR)
    updated = services.retention.set_retention(org, 365, actor=OPERATOR)
    assert services.retention.days(updated) == 365
    (event,) = services.log.events(org.id, org.slug, 0, 1)
    assert (event.type, event.properties) == (
        "retention_change",
        {"new_days": 365, "old_days": 180},
    )
    assert event.actor == OPERATOR
    record(services, org, at("2026-01-10T08:00:00+00:00"))
    clock.set(at("2026-11-25T12:00:00+00:00"))
    assert services.retention.purge().total == 0  # 319 days old, kept for 365


def test_a_crash_between_record_and_removal_is_finished_later(
    services: Services, org: Organization, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = record(services, org, at("2026-01-01T09:00:00+00:00"))
    clock.set(at("2026-11-25T12:00:00+00:00"))

    def crash(self: Any, plans: Any) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(purge_module.RetentionService, "_remove", crash)
    with pytest.raises(RuntimeError):
        services.retention.purge()
    assert old in remaining(services, org)  # recorded, not yet removed: harmless
    monkeypatch.undo()
    services.retention.purge()
    assert old not in remaining(services, org)
    with services.db.read() as connection:
        records = purge_records(connection, org.id)
    assert len(records) == 2
    assert all(r.attested for r in records)


def test_rows_go_in_bounded_batches(
    services: Services, org: Organization, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(purge_module, "BATCH_ROWS", 7)
    when = at("2026-01-01T09:00:00+00:00")
    events = [
        parse_event(sample_event(timestamp=when.isoformat()), received_at=when) for _ in range(50)
    ]
    services.ingest.ingest_blocking(org, events, when)
    clock.set(at("2026-11-25T12:00:00+00:00"))
    report = services.retention.purge()
    assert report.total == 50
    assert remaining(services, org) == set()


def test_concurrent_purges_remove_each_event_once(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    when = at("2026-01-01T09:00:00+00:00")
    events = [
        parse_event(sample_event(timestamp=when.isoformat()), received_at=when) for _ in range(300)
    ]
    services.ingest.ingest_blocking(org, events, when)
    clock.set(at("2026-11-25T12:00:00+00:00"))
    barrier = threading.Barrier(3)
    reports = []

    def run() -> None:
        barrier.wait()
        reports.append(services.retention.purge())

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.total for r in reports if not r.skipped) == 300
    assert remaining(services, org) == set()
    with services.db.read() as connection:
        assert sum(r.count for r in purge_records(connection, org.id)) == 300


def test_dry_run_changes_nothing(services: Services, org: Organization, clock: FrozenClock) -> None:
    old = record(services, org, at("2026-01-01T09:00:00+00:00"))
    clock.set(at("2026-11-25T12:00:00+00:00"))
    size = services.log.head(org.id).tree_size
    assert services.retention.purge(dry_run=True).total == 1
    assert old in remaining(services, org)
    assert services.log.head(org.id).tree_size == size


def test_compress_ranges() -> None:
    assert compress([]) == []
    assert compress([1, 2, 3, 7, 9, 10]) == [(1, 3), (7, 7), (9, 10)]


@pytest.mark.postgres
@pytest.mark.parametrize("engine_kind", ["postgres"], indirect=True)
def test_postgres_drops_expired_days_whole(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    keeper = services.tenancy.create_org("keeper", "Keeper")
    services.retention.set_retention(keeper, 400, actor=OPERATOR)
    start = at("2026-01-01T09:00:00+00:00")
    for day in range(6):
        when = start + timedelta(days=day)
        events = [
            parse_event(sample_event(timestamp=when.isoformat()), received_at=when)
            for _ in range(20)
        ]
        services.ingest.ingest_blocking(org, events, when)
    # The keeper organization shares one of those days, and keeps its events longer.
    shared_day = start + timedelta(days=5)
    kept = record(services, keeper, shared_day)
    clock.set(at("2026-11-25T12:00:00+00:00"))
    report = services.retention.purge()
    acme_report = next(r for r in report.orgs if r.org.slug == "acme")
    assert acme_report.count == 120
    assert acme_report.partitions_dropped == 5
    assert acme_report.rows_deleted == 20  # the shared day went row by row
    assert remaining(services, org) == set()
    assert kept in remaining(services, keeper)
    with services.db.read() as connection:
        tables = connection.execute(
            text(
                "SELECT relname FROM pg_class "
                "WHERE relkind = 'r' AND relname LIKE 'events_p2026010%'"
            )
        )
        assert {row[0] for row in tables} == {"events_p20260106"}
        # The detached days' tables are dropped too, not only set aside.
        aside = connection.execute(
            text("SELECT count(*) FROM pg_class WHERE relname LIKE 'purged_events_p%'")
        ).scalar_one()
        assert aside == 0


@pytest.mark.postgres
@pytest.mark.parametrize("engine_kind", ["postgres"], indirect=True)
def test_detached_days_are_out_of_the_log_until_reclaimed(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    old = record(services, org, at("2026-01-01T09:00:00+00:00"))
    clock.set(at("2026-11-25T12:00:00+00:00"))
    report = services.retention.purge(reclaim=False)  # as if it stopped before the drop
    assert report.orgs[0].partitions_dropped >= 1
    assert old not in remaining(services, org)
    with services.db.read() as connection:
        aside = connection.execute(
            text("SELECT relname FROM pg_class WHERE relname LIKE 'purged_events_p%'")
        ).scalars()
        assert "purged_events_p20260101" in set(aside)
    assert services.retention.reclaim() >= 1
    assert services.retention.reclaim() == 0
    with services.db.read() as connection:
        left = connection.execute(
            text("SELECT count(*) FROM pg_class WHERE relname LIKE 'purged_events_p%'")
        ).scalar_one()
        assert left == 0
