"""What a purge records and how it finds it: exactly the expired sequence numbers, however late
events arrived, and on PostgreSQL without reading the events it removes (``store.runs``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.retention import purge as purge_module
from auditledger.retention.records import compress, purge_records
from auditledger.services import Services
from auditledger.store import partitions, runs
from auditledger.tenancy.model import Organization
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.event import Actor
from auditledger_client.core.validate import parse_event
from tests.support.helpers import sample_event

runner = CliRunner(env={"COLUMNS": "250"})

OPERATOR = Actor("user", "u-ada", "Ada Okafor")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # the cutoff is 2026-05-29
EXPIRED = [datetime(2026, 1, day, 9, 0, tzinfo=UTC) for day in (1, 2, 3)]
RETAINED = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def arrive(
    services: Services, org: Organization, times: Sequence[datetime], received: datetime
) -> list[int]:
    """Events that occurred at ``times``, arriving together at ``received``; their seqs."""
    drafts = [
        parse_event(sample_event(timestamp=when.isoformat()), received_at=received)
        for when in times
    ]
    return [r.seq for r in services.ingest.ingest_blocking(org, drafts, received)]


def late_history(services: Services, org: Organization) -> list[int]:
    """Three expired days whose events arrive out of order (some a day or months late), among
    events of a retained day; returns the expired events' seqs."""
    one, two, three = EXPIRED
    hour = timedelta(hours=1)
    expired = arrive(services, org, [one, one + hour, one + 2 * hour], one + 3 * hour)
    expired += arrive(services, org, [two, one + 5 * hour, two + hour], two + 2 * hour)
    expired += arrive(services, org, [one + 6 * hour, three, two + 3 * hour], three + hour)
    # Months later, within the retention at the time: a straggler between two retained events.
    retained = arrive(services, org, [RETAINED], RETAINED + hour)
    expired += arrive(services, org, [three + hour], RETAINED + 2 * hour)
    retained += arrive(services, org, [RETAINED + hour, RETAINED + 2 * hour], RETAINED + 3 * hour)
    assert not set(expired) & set(retained)
    return expired


def verify(services: Services, org: Organization) -> str:
    """``auditledger verify`` of the organization, signed now; its output, once it passed."""
    services.checkpoints.ensure_key()
    services.checkpoints.checkpoint(org.id, org.slug)
    result = runner.invoke(
        app,
        ["verify", "--org", org.slug, "--database-url", services.settings.database_url],
        env={"AUDITLEDGER_SIGNING_KEY_FILE": str(services.settings.signing_key_file)},
    )
    assert result.exit_code == 0, result.output
    return result.output


def present(services: Services, org: Organization) -> set[int]:
    """The seqs of the organization's stored events."""
    with services.db.read() as connection:
        rows = connection.execute(text("SELECT seq FROM events WHERE org_id = :o"), {"o": org.id})
        return {int(seq) for (seq,) in rows}


@pytest.fixture
def org(services: Services) -> Organization:
    return services.tenancy.create_org("acme", "Acme")


def test_late_arrivals_are_recorded_exactly(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    expired = late_history(services, org)
    clock.set(NOW)
    report = services.retention.purge()
    with services.db.read() as connection:
        (purge,) = purge_records(connection, org.id)
    # Exactly the expired seqs: none of the retained ones between them, none missing.
    assert purge.ranges == compress(sorted(expired))
    assert purge.count == report.total == len(expired)
    assert not present(services, org) & set(expired)
    assert len(present(services, org)) == 4  # the retained events and the purge's own
    assert f"{len(expired)} purged by retention (proven)" in verify(services, org)
    if services.db.is_postgres:
        (item,) = report.orgs
        assert (item.partitions_dropped, item.rows_deleted) == (3, 0)


@pytest.mark.slow
def test_a_deletion_cut_short_is_finished_and_recorded_once(
    services: Services, org: Organization, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A day that another organization keeps longer: on PostgreSQL too its rows go one by one.
    keeper = services.tenancy.create_org("keeper", "Keeper")
    services.retention.set_retention(keeper, 400, actor=OPERATOR)
    when = EXPIRED[0]
    seqs = arrive(services, org, [when] * 20, when)
    (kept,) = arrive(services, keeper, [when], when)
    monkeypatch.setattr(purge_module, "BATCH_ROWS", 3)
    chunks = purge_module._chunks

    def cut_short(ranges: list[tuple[int, int]], size: int) -> Iterator[tuple[int, int]]:
        given = chunks(ranges, size)
        yield next(given)
        yield next(given)
        raise RuntimeError("power cut")

    monkeypatch.setattr(purge_module, "_chunks", cut_short)
    clock.set(NOW)
    with pytest.raises(RuntimeError, match="power cut"):
        services.retention.purge()
    assert present(services, org) & set(seqs) == set(seqs[6:])
    monkeypatch.setattr(purge_module, "_chunks", chunks)
    clock.set(NOW + timedelta(hours=1))  # the same cutoff
    assert services.retention.purge().total == 14
    with services.db.read() as connection:
        first, second = purge_records(connection, org.id)
    assert (first.count, first.ranges) == (20, [(seqs[0], seqs[-1])])
    # The second purge records what the first left, not again what it had already removed.
    assert (second.count, second.ranges) == (14, [(seqs[6], seqs[-1])])
    assert not present(services, org) & set(seqs)
    assert kept in present(services, keeper)
    assert "20 purged by retention (proven)" in verify(services, org)
    verify(services, keeper)


# -- PostgreSQL: the plan from event_runs ---------------------------------------------------------


def stored_runs(services: Services) -> set[tuple[int, date, int, int]]:
    """``event_runs`` as it is."""
    with services.db.read() as connection:
        rows = connection.execute(text("SELECT org_id, day, first_seq, last_seq FROM event_runs"))
        return {(int(o), d, int(f), int(last)) for o, d, f, last in rows}


def runs_of_the_events(services: Services) -> set[tuple[int, date, int, int]]:
    """What ``event_runs`` must hold, worked out here from the events themselves."""
    by_day: dict[tuple[int, date], list[int]] = {}
    with services.db.read() as connection:
        rows = connection.execute(text("SELECT org_id, seq, occurred_at FROM events"))
        for org_id, seq, occurred in rows:
            by_day.setdefault((int(org_id), partitions.day_of(occurred)), []).append(int(seq))
    return {
        (org_id, day, first, last)
        for (org_id, day), seqs in by_day.items()
        for first, last in compress(sorted(seqs))
    }


@pytest.mark.postgres
@pytest.mark.parametrize("engine_kind", ["postgres"], indirect=True)
def test_the_runs_follow_every_insert_deletion_and_drop(
    services: Services, org: Organization, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    keeper = services.tenancy.create_org("keeper", "Keeper")
    services.retention.set_retention(keeper, 400, actor=OPERATOR)
    late_history(services, org)
    # The second expired day is shared with an organization that keeps it, so acme's rows of
    # that day go by deletion, in batches that split its runs; the other days are detached.
    two = EXPIRED[1]
    arrive(services, org, [two + timedelta(minutes=m) for m in range(10)], two + timedelta(hours=5))
    arrive(services, keeper, [two, two + timedelta(hours=1)], two + timedelta(hours=6))
    assert stored_runs(services) == runs_of_the_events(services)
    assert len(stored_runs(services)) > 8  # several runs a day: the case that matters
    monkeypatch.setattr(purge_module, "BATCH_ROWS", 4)
    clock.set(NOW)
    report = services.retention.purge()
    acme = next(item for item in report.orgs if item.org.slug == "acme")
    assert acme.partitions_dropped == 2
    assert acme.rows_deleted == 13
    assert stored_runs(services) == runs_of_the_events(services)
    assert {day for org_id, day, *_ in stored_runs(services) if org_id == org.id} >= {
        RETAINED.date()
    }


@pytest.mark.postgres
@pytest.mark.parametrize("engine_kind", ["postgres"], indirect=True)
def test_the_migration_works_the_runs_out_from_the_events_stored(
    services: Services, org: Organization
) -> None:
    late_history(services, org)
    kept = stored_runs(services)
    with services.db.write() as connection:
        runs.rebuild(connection)  # what migration 0012 fills the table with
    assert stored_runs(services) == kept == runs_of_the_events(services)


@contextmanager
def explained(services: Services) -> Iterator[list[tuple[str, list[str]]]]:
    """Every statement the services send, with the plan PostgreSQL had for it just before it
    ran (DDL, COPY and the like have none and are left out)."""
    seen: list[tuple[str, list[str]]] = []
    busy = False

    def explain(
        _conn: Any, cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        nonlocal busy
        words = statement.lstrip().split(None, 1)
        verb = words[0].upper() if words else ""
        if busy or many or verb not in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}:
            return
        busy = True
        try:
            with cursor.connection.cursor() as side:
                side.execute("EXPLAIN " + statement, parameters)
                seen.append((statement, [row[0] for row in side.fetchall()]))
        finally:
            busy = False

    engines = {services.db.engines.writer, services.db.engines.reader}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", explain)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", explain)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("engine_kind", ["postgres"], indirect=True)
def test_the_purge_reads_none_of_the_events_it_removes(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    expired = late_history(services, org)
    clock.set(NOW)
    with explained(services) as statements:
        report = services.retention.purge(reclaim=False)
    assert report.total == len(expired)
    assert report.orgs[0].partitions_dropped == len(EXPIRED)
    expired_partitions = [partitions.partition_name(when.date()) for when in EXPIRED]
    reading = [
        statement
        for statement, plan in statements
        if any(name in line for line in plan for name in expired_partitions)
    ]
    assert statements
    assert reading == []
