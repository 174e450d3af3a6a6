"""The view query returns exactly what a brute-force filter of the same data returns."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from auditledger.core.errors import InvalidInput
from auditledger.demo.generate import generate
from auditledger.query.filters import EventFilter, parse_filters
from auditledger.query.search import Cursor, check_known_values, iterate, page
from auditledger.retention.policy import start_of_day
from auditledger.services import Services
from auditledger.tenancy.model import Organization
from auditledger_client.core.event import Event
from auditledger_client.core.validate import parse_event
from tests.support.databases import NOW
from tests.support.helpers import sample_event, store
from tests.support.search import brute_force, random_filters

DAYS = 30


@pytest.fixture
def loaded(services: Services) -> tuple[Organization, list[Event]]:
    """An organization with a month of demo history (about 1,500 events)."""
    org = services.tenancy.create_org("acme", "Acme")
    start = start_of_day(NOW) - timedelta(days=DAYS)
    for day in generate(start, DAYS, seed=11):
        drafts = [parse_event(e, received_at=NOW) for e in day]
        store(services, org, [d for d in drafts if d.occurred_at <= NOW])
    # A few much older events, so a newest-first page must look past the last month.
    for days_ago in (45, 90, 150):
        when = NOW - timedelta(days=days_ago)
        drafts = [
            parse_event(sample_event(timestamp=when.isoformat()), received_at=when)
            for _ in range(3)
        ]
        services.ingest.ingest_blocking(org, drafts, when)
    size = services.log.head(org.id).tree_size
    return org, services.log.events(org.id, org.slug, 0, size)


@pytest.mark.slow
def test_filters_match_brute_force(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, everything = loaded
    assert len(everything) > 1000
    rng = random.Random(5)
    with services.db.read() as connection:
        # prj-1 has only the old events: a newest-first page must look past the last month.
        for params in [*random_filters(everything, rng), [("project", "prj-1")]]:
            flt = parse_filters(params)
            expected = brute_force(everything, flt)
            result = page(connection, org.id, org.slug, flt, limit=500, include_source=True)
            assert [e.seq for e in result.events] == [e.seq for e in expected[:500]], params
            assert result.has_more == (len(expected) > 500)
            walked = list(
                iterate(
                    connection,
                    org.id,
                    org.slug,
                    flt,
                    newest_first=True,
                    include_source=True,
                    page_size=97,
                )
            )
            assert [e.seq for e in walked] == [e.seq for e in expected], params
            oldest_first = list(iterate(connection, org.id, org.slug, flt, page_size=113))
            assert [e.seq for e in oldest_first] == [e.seq for e in reversed(expected)]


@pytest.mark.slow
def test_cap_and_cursor_pagination(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, everything = loaded
    flt = EventFilter()
    seen: list[int] = []
    cursor: Cursor | None = None
    with services.db.read() as connection:
        first = page(connection, org.id, org.slug, flt)
        assert len(first.events) == 500
        assert first.has_more
        while True:
            result = page(connection, org.id, org.slug, flt, limit=400, after=cursor)
            seen.extend(e.seq for e in result.events)
            if result.next_cursor is None:
                break
            cursor = Cursor.decode(result.next_cursor.encode())
    assert seen == [e.seq for e in brute_force(everything, flt)]


@pytest.mark.slow
def test_sources_are_not_read_for_members(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, _ = loaded
    with services.db.read() as connection:
        hidden = page(connection, org.id, org.slug, EventFilter(), include_source=False)
        shown = page(connection, org.id, org.slug, EventFilter(), include_source=True)
    assert all(e.source is None for e in hidden.events)
    assert any(e.source is not None for e in shown.events)


def test_iteration_reads_one_snapshot(services: Services) -> None:
    org = services.tenancy.create_org("acme", "Acme")
    services.ingest.ingest_blocking(
        org, [parse_event(sample_event(), received_at=NOW) for _ in range(50)], NOW
    )
    with services.db.read() as connection:
        walker = iterate(connection, org.id, org.slug, EventFilter(), page_size=10)
        first = [next(walker) for _ in range(5)]
        # Events committed while the export runs are not part of it.
        services.ingest.ingest_blocking(
            org, [parse_event(sample_event(), received_at=NOW) for _ in range(30)], NOW
        )
        rest = list(walker)
    assert len(first) + len(rest) == 50


@pytest.mark.slow
def test_unknown_values_are_named(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, _ = loaded
    with services.db.read() as connection, pytest.raises(InvalidInput) as caught:
        check_known_values(
            connection, org.id, parse_filters([("project", "nope"), ("model", "mdl-fraud-xgb")])
        )
    assert [p.field for p in caught.value.problems] == ["project"]


def test_bad_cursor_is_422() -> None:
    with pytest.raises(InvalidInput):
        Cursor.decode("not-a-cursor")
