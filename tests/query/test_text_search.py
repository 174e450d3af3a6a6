"""The search (``q``) on both engines: exactly what a brute-force reading of the same events
finds, an index that only narrows, and one that follows ingest, purges and rebuilds."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from auditledger.core.errors import InvalidInput
from auditledger.demo.generate import generate
from auditledger.query import search as search_module
from auditledger.query.filters import EventFilter, parse_filters
from auditledger.query.search import fixed_contents, iterate, page
from auditledger.retention.policy import start_of_day
from auditledger.services import Services
from auditledger.store import search_index
from auditledger.tenancy.model import Organization
from auditledger_client.core.event import Event
from auditledger_client.core.validate import parse_event
from tests.support.databases import NOW
from tests.support.helpers import sample_event, store

DAYS = 6


@pytest.fixture
def loaded(services: Services) -> tuple[Organization, list[Event]]:
    """An organization with six days of demo history."""
    org = services.tenancy.create_org("acme", "Acme")
    start = start_of_day(NOW) - timedelta(days=DAYS)
    for day in generate(start, DAYS, seed=3):
        drafts = [parse_event(e, received_at=NOW) for e in day]
        store(services, org, [d for d in drafts if d.occurred_at <= NOW])
    size = services.log.head(org.id).tree_size
    return org, services.log.events(org.id, org.slug, 0, size)


def _values(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in _values(v)]
    if isinstance(value, list):
        return [t for v in value for t in _values(v)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [] if value is None else [str(value)]


def event_words(e: Event) -> list[str]:
    """The event's searched words, from the decoded record (not from any stored text)."""
    texts = [
        e.subject.id,
        e.subject.name,
        e.subject.parent.name if e.subject.parent else None,
        e.project.name if e.project else None,
        e.actor.id,
        e.actor.name,
        *_values(e.properties),
    ]
    return [w for t in texts if t for w in re.findall(r"[^\W_]+", t.lower())]


def brute(everything: list[Event], *terms: str, prefix: bool = False) -> list[int]:
    def keep(e: Event) -> bool:
        found = event_words(e)
        return all(any(w.startswith(t) for w in found) if prefix else t in found for t in terms)

    newest = sorted(everything, key=lambda e: (e.occurred_at, e.seq), reverse=True)
    return [e.seq for e in newest if keep(e)]


def search(services: Services, org: Organization, q: str, *, admin: bool = True) -> list[int]:
    flt = parse_filters([("q", q)])
    with services.db.read() as connection:
        return [
            e.seq
            for e in iterate(
                connection, org.id, org.slug, flt, newest_first=True, include_source=admin
            )
        ]


def test_words_find_what_a_brute_force_reading_finds(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, everything = loaded
    # A subject name, an actor's name, a property value, a project name, a word nowhere.
    for word in ("churn", "grace", "production", "fraud", "zebracorn"):
        expected = brute(everything, word)
        assert search(services, org, word) == expected, word
    assert brute(everything, "churn")
    assert not brute(everything, "zebracorn")


def test_several_words_all_match_and_prefixes(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, everything = loaded
    assert search(services, org, "churn grace") == brute(everything, "churn", "grace")
    expected = brute(everything, "chur", prefix=True)
    assert expected
    assert search(services, org, "chur*") == expected
    assert search(services, org, "chur") == brute(everything, "chur") == []


def test_a_phrase_needs_its_words_in_order(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, everything = loaded
    forward = search(services, org, '"churn model"')
    assert forward
    assert set(forward) <= set(brute(everything, "churn", "model"))
    assert search(services, org, "churn-model") == forward
    # Words apart are not the phrase: a phrase finds fewer events than its words do.
    for first, second in (("grace", "churn"), ("production", "churn")):
        apart = search(services, org, f"{first} {second}")
        assert apart == brute(everything, first, second)
        assert set(search(services, org, f'"{first} {second}"')) < set(apart)


def test_page_and_filters_combine_with_the_search(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, everything = loaded
    by_type = [e for e in everything if (e.category, e.type) == ("model", "rename")]
    assert by_type
    expected = [s for s in brute(everything, "churn") if s in {e.seq for e in by_type}]
    flt = parse_filters([("q", "churn type:model.rename")])
    with services.db.read() as connection:
        found = page(connection, org.id, org.slug, flt, limit=500)
    assert [e.seq for e in found.events] == expected
    # A form filter and a qualifier of the same kind both apply.
    both = parse_filters([("q", "type:model.rename"), ("type", "model.create")])
    with services.db.read() as connection:
        assert page(connection, org.id, org.slug, both).events == []


def test_actor_project_and_model_by_name_or_id(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, everything = loaded
    actor = next(e.actor for e in everything if e.actor.type == "user")
    expected = [s for s in brute(everything) if _by(everything, s).actor.id == actor.id]
    assert search(services, org, f"actor:{actor.id}") == expected
    assert search(services, org, f'actor:"{actor.name.upper()}"') == expected
    project = next(e.project for e in everything if e.project and e.project.name)
    assert project is not None
    by_project = [
        s for s in brute(everything) if (p := _by(everything, s).project) and p.id == project.id
    ]
    assert search(services, org, f'project:"{project.name}"') == by_project
    assert search(services, org, "model:no-such-model") == []


def _by(everything: list[Event], seq: int) -> Event:
    return next(e for e in everything if e.seq == seq)


@pytest.mark.slow
def test_before_and_after_are_strict_day_bounds(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, everything = loaded
    day = (NOW - timedelta(days=5)).date()
    found = search(services, org, f"after:{day.isoformat()}")
    assert found == [s for s in brute(everything) if _by(everything, s).occurred_at.date() > day]
    found = search(services, org, f"before:{day.isoformat()}")
    assert found == [s for s in brute(everything) if _by(everything, s).occurred_at.date() < day]


@pytest.mark.slow
def test_ip_is_for_administrators_only(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, everything = loaded
    address = next(e.source.ip for e in everything if e.source)
    assert search(services, org, f"ip:{address}") == [
        s for s in brute(everything) if (src := _by(everything, s).source) and src.ip == address
    ]
    with pytest.raises(InvalidInput) as caught:
        search(services, org, f"ip:{address}", admin=False)
    assert [p.field for p in caught.value.problems] == ["q"]
    assert "administrators" in caught.value.problems[0].message
    # Free text never reads sources: a member's search for an address finds only events whose
    # other text holds its numbers, never one by its source.
    from_text = set(search(services, org, address, admin=False))
    assert from_text <= set(brute(everything, *address.split(".")))


@pytest.mark.slow
def test_a_tampered_index_cannot_add_an_event(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, everything = loaded
    victim = everything[0]
    assert "zebracorn" not in event_words(victim)
    with services.db.write() as connection:
        if services.db.is_postgres:
            # The index is a generated column only the database writes; the nearest forgery
            # is a function that says every row holds the word (new rows would believe it).
            connection.exec_driver_sql("DROP INDEX ix_events_search")
            connection.exec_driver_sql(
                search_index.POSTGRES_DDL[0]
                .replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
                .replace(
                    "RETURN to_tsvector('simple',", "RETURN to_tsvector('simple', 'zebracorn ' ||"
                )
            )
        else:
            connection.execute(
                text("INSERT INTO events_search (rowid, body) VALUES (:k, 'zebracorn')"),
                {"k": org.id * search_index.ORG_SHIFT + victim.seq},
            )
    assert search(services, org, "zebracorn") == []
    with services.db.read() as connection:
        flt = parse_filters([("q", "zebracorn")])
        assert page(connection, org.id, org.slug, flt).events == []
        # An export's recorded row count checks the same: what it will deliver, no more.
        assert fixed_contents(connection, org.id, flt)[1] == 0
        churn = parse_filters([("q", "churn")])
        assert fixed_contents(connection, org.id, churn)[1] == len(brute(everything, "churn"))


def test_rebuild_restores_a_lost_index(
    services: Services, loaded: tuple[Organization, list[Event]]
) -> None:
    org, everything = loaded
    expected = brute(everything, "churn")
    if not services.db.is_postgres:
        with services.db.write() as connection:
            connection.exec_driver_sql(
                "INSERT INTO events_search (events_search) VALUES ('delete-all')"
            )
        assert search(services, org, "churn") == []
    assert search_index.rebuild(services.db) == len(everything)
    assert search(services, org, "churn") == expected


def test_new_events_are_found_at_once(services: Services) -> None:
    org = services.tenancy.create_org("beta", "Beta")
    draft = parse_event(
        sample_event(subject={"id": "model-z", "name": "Quarterly Zebracorn review"}),
        received_at=NOW,
    )
    services.ingest.ingest_blocking(org, [draft], NOW)
    assert search(services, org, "zebracorn") == [0]
    assert search(services, org, '"quarterly zebracorn"') == [0]


@pytest.mark.slow
def test_the_newest_matches_when_sequence_and_time_disagree(services: Services) -> None:
    """An event recorded early with a late occurrence time is still the newest match, and an
    event as late that does not match takes no place on the page (on SQLite the index gives
    hits newest by sequence, so these are the rows it has to look for after its first hits)."""
    org = services.tenancy.create_org("beta", "Beta")

    def at(when: Any, subject: str) -> Any:
        wire = sample_event(subject={"id": "model-z", "name": subject}, timestamp=when.isoformat())
        return parse_event(wire, received_at=NOW)

    start = NOW - timedelta(hours=3)
    drafts = [at(NOW, "zebracorn early"), at(NOW - timedelta(minutes=1), "unrelated")]
    drafts += [at(start + timedelta(seconds=i), "zebracorn") for i in range(2100)]
    store(services, org, drafts)
    flt = parse_filters([("q", "zebracorn")])
    with services.db.read() as connection:
        found = page(connection, org.id, org.slug, flt, limit=5)
    assert [e.seq for e in found.events] == [0, 2101, 2100, 2099, 2098]
    assert found.has_more


def test_search_is_refused_with_its_problem_named() -> None:
    for q, fragment in (
        ('"open', "not closed"),
        ("colour:red", "not a qualifier"),
        ("type:", "needs a value"),
        ("type:model.nope", "unknown event type"),
        ("after:yesterday", "not a date"),
        ("-churn", "excluding"),
    ):
        with pytest.raises(InvalidInput) as caught:
            parse_filters([("q", q)])
        assert [p.field for p in caught.value.problems] == ["q"], q
        assert fragment in caught.value.problems[0].message, q


def test_an_empty_search_is_no_filter() -> None:
    assert parse_filters([("q", "   ")]) == EventFilter()


@pytest.mark.parametrize("bound", [1, 3, 5000])
def test_a_search_over_every_partition_finds_the_same_at_any_hit_count(
    services: Services,
    loaded: tuple[Organization, list[Event]],
    monkeypatch: pytest.MonkeyPatch,
    bound: int,
) -> None:
    """On PostgreSQL a search no window narrowed is counted up to a bound and read with a
    generic plan below it, planned as usual above it: either way the same newest matches."""
    org, everything = loaded
    monkeypatch.setattr(search_module, "_FEW_HITS", bound)
    # Words found in none of the last day's events reach every partition.
    newest_day = max(e.occurred_at for e in everything) - timedelta(days=1)
    recent = {w for e in everything if e.occurred_at >= newest_day for w in event_words(e)}
    older = sorted({w for e in everything for w in event_words(e)} - recent)
    assert older
    with services.db.read() as connection:
        for word in [*older[:3], "zebracorn"]:
            flt = parse_filters([("q", word)])
            found = page(connection, org.id, org.slug, flt, limit=2, include_source=True)
            expected = brute(everything, word)
            assert [e.seq for e in found.events] == expected[:2], word
            assert found.has_more == (len(expected) > 2), word


def _pages(
    services: Services, org: Organization, q: str, limit: int, pages: int = 1000
) -> list[int]:
    """The matches of ``q``, newest first, read page after page of ``limit`` (at most
    ``pages`` of them)."""
    flt = parse_filters([("q", q)])
    found: list[int] = []
    cursor = None
    with services.db.read() as connection:
        for _ in range(pages):
            got = page(connection, org.id, org.slug, flt, limit=limit, after=cursor)
            found += [e.seq for e in got.events]
            if got.next_cursor is None:
                break
            cursor = got.next_cursor
    return found


@pytest.mark.slow
@pytest.mark.parametrize("small", [False, True], ids=["as configured", "small buckets"])
def test_the_newest_matches_when_streams_interleave(
    services: Services, monkeypatch: pytest.MonkeyPatch, small: bool
) -> None:
    """Events recorded stream after stream, each stream spanning the same three days (across
    a month's end) in time order, as several sources' backlogs loaded one after another:
    sequence order is far from time order, as on the benchmark's busiest day. Every page of
    words common and rare, a phrase, a prefix and a word with a qualifier is what a
    brute-force reading finds. On SQLite a common word's hits are then read by time bucket;
    with few hits to a bucket, here, months are read by days and days by hours. On
    PostgreSQL, with a low bound for "few" hits, the older days are read in windows of days,
    the last one open-ended."""
    if small:
        monkeypatch.setattr(search_module, "FIRST_HITS", 16)
        monkeypatch.setattr(search_module, "BUCKET_HITS", 4)
        monkeypatch.setattr(search_module, "_FEW_HITS", 8)
        monkeypatch.setattr(search_module, "_WIDEST_WINDOW_DAYS", 2)
    org = services.tenancy.create_org("beta", "Beta")
    rng = random.Random(5)
    names = ["zebracorn alpha"] * 5 + ["zebracorn beta"] * 2 + ["alpha", "quiet", "zebracornish"]
    start = datetime(2026, 10, 30, 6, tzinfo=UTC)  # three days across a month's end
    drafts = []
    for stream in range(6):
        seconds = sorted(rng.randrange(3 * 86400) for _ in range(500))
        for second in seconds:
            wire = sample_event(
                typ=rng.choice(["rename", "archive"]),
                subject={"id": f"model-{stream}", "name": rng.choice(names)},
                timestamp=(start + timedelta(seconds=second)).isoformat(),
            )
            drafts.append(parse_event(wire, received_at=NOW))
    store(services, org, drafts)
    size = services.log.head(org.id).tree_size
    everything = services.log.events(org.id, org.slug, 0, size)
    newest = sorted(everything, key=lambda e: (e.occurred_at, e.seq), reverse=True)

    def expected(keep: Any) -> list[int]:
        return [e.seq for e in newest if keep(e)]

    def named(e: Event) -> str:
        return e.subject.name or ""

    cases = {
        "zebracorn": expected(lambda e: "zebracorn" in named(e).split()),
        "beta": expected(lambda e: "beta" in named(e).split()),
        '"zebracorn beta"': expected(lambda e: named(e) == "zebracorn beta"),
        "zebra*": expected(lambda e: named(e).startswith("zebra")),
        "alpha type:model.archive": expected(
            lambda e: "alpha" in named(e).split() and e.type == "archive"
        ),
    }
    for q, matching in cases.items():
        assert len(matching) > 100, q
        assert _pages(services, org, q, 7, pages=8) == matching[:56], q
        assert _pages(services, org, q, 150) == matching, q


@pytest.mark.parametrize("widest", [4, 64], ids=["open-ended last window", "windows only"])
def test_a_word_with_a_few_hits_a_day_is_read_day_window_after_window(
    services: Services, monkeypatch: pytest.MonkeyPatch, widest: int
) -> None:
    """A word too common to read whole yet with fewer hits a day than a page (a model's name
    over months): on PostgreSQL the older days are read in windows of 1, 2, 4, ... days,
    newest first. Every page is what a brute-force reading finds, late arrivals included."""
    monkeypatch.setattr(search_module, "_FEW_HITS", 4)
    monkeypatch.setattr(search_module, "_WIDEST_WINDOW_DAYS", widest)
    org = services.tenancy.create_org("gamma", "Gamma")
    rng = random.Random(11)
    drafts = []
    for day in range(40):
        for _ in range(rng.randrange(0, 5)):
            at = NOW - timedelta(days=day, seconds=rng.randrange(86400))
            name = rng.choice(["graph model", "other model", "graph"])
            wire = sample_event(subject={"id": "model-g", "name": name}, timestamp=at.isoformat())
            drafts.append(parse_event(wire, received_at=NOW))
    rng.shuffle(drafts)  # arrival order is not time order
    store(services, org, drafts)
    size = services.log.head(org.id).tree_size
    everything = services.log.events(org.id, org.slug, 0, size)
    newest = sorted(everything, key=lambda e: (e.occurred_at, e.seq), reverse=True)
    matching = [e.seq for e in newest if "graph" in (e.subject.name or "").split()]
    assert len(matching) > 30
    for limit in (3, 10, 25):
        assert _pages(services, org, "graph", limit) == matching, limit


def test_the_index_time_buckets_are_not_searched(services: Services) -> None:
    """SQLite's index holds each event's month, day and hour as words of a column of their
    own; a search finds such a word only in an event's own text (page and export alike)."""
    org = services.tenancy.create_org("beta", "Beta")
    when = NOW - timedelta(hours=2)
    day, hour = when.strftime("d%Y%m%d"), when.strftime("h%Y%m%d%H")

    def at(name: str) -> Any:
        wire = sample_event(subject={"id": "model-z", "name": name}, timestamp=when.isoformat())
        return parse_event(wire, received_at=NOW)

    store(services, org, [at("plain"), at(f"holds {day}")])
    for q, expected in ((day, [1]), (hour, []), ("d2026*", [1]), ("h2026*", [])):
        assert search(services, org, q) == expected, q
        with services.db.read() as connection:
            found = page(connection, org.id, org.slug, parse_filters([("q", q)]))
        assert [e.seq for e in found.events] == expected, q
    if not services.db.is_postgres:
        # The index itself answers from the events' text only (the histogram counts its
        # hits, and a day's word would otherwise be a hit for each of its events).
        with services.db.read() as connection:
            assert search_index.newest_hits(connection, org.id, [((day,), False)], 10) == [1]
            assert search_index.newest_hits(connection, org.id, [(("h2026",), True)], 10) == []
