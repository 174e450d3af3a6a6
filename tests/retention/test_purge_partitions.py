"""PostgreSQL: days' partitions sit in their month's table, and a purge detaches a month that
expired whole in one step; days from before months existed (flat under ``events``) still go."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from auditledger.services import Services
from auditledger.store import partitions
from auditledger.tenancy.model import Organization
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.event import Actor
from auditledger_client.core.validate import parse_event
from tests.support.helpers import sample_event

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("engine_kind", ["postgres"], indirect=True),
]

OPERATOR = Actor("user", "u-ada", "Ada Okafor")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # the cutoff is 2026-05-29


def on(services: Services, org: Organization, *days: date) -> None:
    """Two events on each of ``days``, arriving that day."""
    for day in days:
        when = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
        drafts = [
            parse_event(
                sample_event(timestamp=(when + timedelta(minutes=m)).isoformat()), received_at=when
            )
            for m in range(2)
        ]
        services.ingest.ingest_blocking(org, drafts, when + timedelta(hours=1))


def tables(services: Services, pattern: str) -> set[str]:
    with services.db.read() as connection:
        rows = connection.execute(
            text("SELECT relname FROM pg_class WHERE relname LIKE :p AND relkind IN ('r', 'p')"),
            {"p": pattern},
        )
        return {name for (name,) in rows}


@contextmanager
def detaches(services: Services) -> Iterator[list[str]]:
    """The tables every ``DETACH PARTITION`` the services send takes out, in order."""
    seen: list[str] = []

    def grab(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        for part in statement.split(";"):
            words = part.split()
            if words[-3:-1] == ["DETACH", "PARTITION"]:
                seen.append(words[-1])

    engine = services.db.engines.writer
    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", grab)


@pytest.fixture
def org(services: Services) -> Organization:
    return services.tenancy.create_org("acme", "Acme")


def test_a_month_that_expired_whole_goes_in_one_detach(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    keeper = services.tenancy.create_org("keeper", "Keeper")
    services.retention.set_retention(keeper, 400, actor=OPERATOR)
    january = [date(2026, 1, d) for d in (1, 5, 20)]
    february = [date(2026, 2, d) for d in (2, 3)]
    on(services, org, *january, *february)
    on(services, keeper, february[1])  # kept longer: that day stays, so February does too
    with services.db.read() as connection:
        present = partitions.layout(connection)
    assert present.flat == set()
    assert present.months[date(2026, 1, 1)] == january
    clock.set(NOW)
    with detaches(services) as detached:
        report = services.retention.purge()
    acme = next(item for item in report.orgs if item.org.slug == "acme")
    assert acme.count == 10
    assert (acme.partitions_dropped, acme.rows_deleted) == (4, 2)
    # January whole, in one step; of February only the day no one keeps, from its month.
    assert detached == ["events_p202601", "events_p20260202"]
    assert tables(services, "events_p202601%") == set()
    assert tables(services, "events_p202602%") == {"events_p202602", "events_p20260203"}
    assert tables(services, "purged_%") == set()  # and dropped, months with their days


def test_days_from_before_months_existed_are_purged_from_where_they_are(
    services: Services, org: Organization, clock: FrozenClock
) -> None:
    # A partition as migrations before 0012 made them: directly under events.
    with services.db.write() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE events_p20260110 PARTITION OF events "
            "FOR VALUES FROM ('2026-01-10 00:00+00') TO ('2026-01-11 00:00+00')"
        )
    services.db.forget_partitions()
    on(services, org, date(2026, 1, 10), date(2026, 1, 11), date(2026, 3, 1))
    with services.db.read() as connection:
        present = partitions.layout(connection)
    # Its month keeps that layout (a month's table would overlap it); other months do not.
    assert present.flat == {date(2026, 1, 10), date(2026, 1, 11)}
    assert set(present.months) == {date(2026, 3, 1)}
    clock.set(NOW)
    with detaches(services) as detached:
        assert services.retention.purge().total == 6
    assert detached == ["events_p202603", "events_p20260110", "events_p20260111"]
    assert tables(services, "events_p202601%") == tables(services, "events_p202603%") == set()
    assert tables(services, "purged_%") == set()
