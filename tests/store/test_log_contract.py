"""The storage contract: the same behaviour from SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from auditledger.core.canonical import event_leaf_hash
from auditledger.core.errors import Conflict
from auditledger.core.merkle import EMPTY_ROOT, inclusion_proof, root_hash, verify_inclusion
from auditledger.services import Services
from auditledger.store import runs, search_index
from auditledger.store.log import AppendRequest
from auditledger.tenancy.model import Organization
from auditledger_client.core.event import Location, Source
from auditledger_client.core.validate import parse_event
from tests.support.databases import NOW
from tests.support.helpers import all_platform_types, sample_event


def request_for(services: Services, org: Organization, *events: dict[str, Any]) -> AppendRequest:
    drafts = [parse_event(e, received_at=NOW) for e in events]
    return services.ingest.prepare(org, drafts, NOW)


@pytest.fixture
def org(services: Services) -> Organization:
    return services.tenancy.create_org("acme", "Acme")


def test_new_log_is_empty(services: Services, org: Organization) -> None:
    head = services.log.head(org.id)
    assert (head.tree_size, head.root_hash) == (0, EMPTY_ROOT)


def test_sequence_numbers_are_dense_across_requests(services: Services, org: Organization) -> None:
    requests = [request_for(services, org, sample_event(), sample_event()) for _ in range(3)]
    results = services.log.append(requests)
    seqs = [r.seq for result in results for r in result]  # type: ignore[union-attr]
    assert seqs == list(range(6))
    assert services.log.head(org.id).tree_size == 6


def test_every_type_round_trips_exactly(services: Services, org: Organization) -> None:
    events = [sample_event(c, t) for c, t in all_platform_types()]
    (receipts,) = services.log.append([request_for(services, org, *events)])
    assert not isinstance(receipts, Conflict)
    stored = services.log.events(org.id, org.slug, 0, len(events))
    assert len(stored) == len(events)
    for sent, event, receipt in zip(events, stored, receipts, strict=True):
        assert str(event.event_id) == sent["id"]
        assert (event.category, event.type) == (sent["category"], sent["type"])
        assert event.properties == sent["properties"]
        assert event.subject.id == sent["subject"]["id"]
        assert event.actor.name == sent["actor"]["name"]
        assert event.project is not None
        assert event.project.name == "Project One"
        assert event.source == Source("193.166.3.7", Location("FI", "Finland", "Espoo"))
        assert event.occurred_at == NOW
        assert event.received_at == NOW
        assert event_leaf_hash(event) == receipt.leaf_hash


def test_unicode_and_hostile_text_round_trip(services: Services, org: Organization) -> None:
    hostile = "=cmd|'/C calc'!A0 \"quoted\", comma\nnewline ☃ 🚀 שלום \u202e'; DROP TABLE events;--"
    event = sample_event("model", "rename", properties={"old_name": hostile, "new_name": "ok"})
    event["subject"]["name"] = hostile
    event["actor"]["name"] = hostile
    event["project"]["name"] = "\u2028 line separator, \x7f delete, \\ backslash, \t tab"
    (receipts,) = services.log.append([request_for(services, org, event)])
    (stored,) = services.log.events(org.id, org.slug, 0, 1)
    assert stored.properties["old_name"] == hostile
    assert stored.subject.name == hostile
    # The fast encoder the append path uses agrees with the reference definition.
    assert not isinstance(receipts, Conflict)
    assert receipts[0].leaf_hash == event_leaf_hash(stored)


def test_timestamps_keep_microseconds_in_utc(services: Services, org: Organization) -> None:
    event = sample_event(timestamp="2026-11-25T13:59:58.000001+02:00")
    services.log.append([request_for(services, org, event)])
    (stored,) = services.log.events(org.id, org.slug, 0, 1)
    assert stored.occurred_at.isoformat() == "2026-11-25T11:59:58.000001+00:00"


def test_same_id_same_content_is_stored_once(services: Services, org: Organization) -> None:
    event = sample_event()
    (first,) = services.log.append([request_for(services, org, event)])
    (second,) = services.log.append([request_for(services, org, event)])
    assert not isinstance(first, Conflict)
    assert not isinstance(second, Conflict)
    assert second[0].duplicate
    assert not first[0].duplicate
    assert (second[0].seq, second[0].leaf_hash) == (first[0].seq, first[0].leaf_hash)
    assert services.log.head(org.id).tree_size == 1


def test_same_id_twice_in_one_group_commit_is_stored_once(
    services: Services, org: Organization
) -> None:
    event = sample_event()
    results = services.log.append(
        [request_for(services, org, event), request_for(services, org, event)]
    )
    assert [r[0].duplicate for r in results] == [False, True]  # type: ignore[index]
    assert services.log.head(org.id).tree_size == 1


def test_same_id_different_content_conflicts_and_stores_nothing(
    services: Services, org: Organization
) -> None:
    event = sample_event()
    services.log.append([request_for(services, org, event)])
    changed = dict(event, actor={"type": "user", "id": "u-2", "name": "Mallory"})
    other = sample_event()
    conflicting, fine = services.log.append(
        [request_for(services, org, other, changed), request_for(services, org, sample_event())]
    )
    assert isinstance(conflicting, Conflict)
    assert conflicting.problems[0].field == "events[1].id"
    assert not isinstance(fine, Conflict)
    # The conflicting request's other event was not stored; the neighbour's was.
    assert services.log.head(org.id).tree_size == 2
    assert services.log.event_by_id(org.id, org.slug, uuid.UUID(other["id"])) is None


def test_conflict_within_one_request(services: Services, org: Organization) -> None:
    event = sample_event()
    changed = dict(event, properties={"old_name": "x", "new_name": "y"})
    (result,) = services.log.append([request_for(services, org, event, changed)])
    assert isinstance(result, Conflict)
    assert services.log.head(org.id).tree_size == 0


def test_organizations_have_separate_sequences(services: Services, org: Organization) -> None:
    other = services.tenancy.create_org("globex", "Globex")
    results = services.log.append(
        [
            request_for(services, org, sample_event()),
            request_for(services, other, sample_event()),
            request_for(services, org, sample_event()),
        ]
    )
    assert [r[0].seq for r in results] == [0, 0, 1]  # type: ignore[index]


def test_same_event_id_in_two_organizations_is_two_events(
    services: Services, org: Organization
) -> None:
    other = services.tenancy.create_org("globex", "Globex")
    event = sample_event()
    services.log.append([request_for(services, org, event), request_for(services, other, event)])
    assert services.log.head(org.id).tree_size == 1
    assert services.log.head(other.id).tree_size == 1


def test_stored_nodes_give_the_root_and_valid_proofs(services: Services, org: Organization) -> None:
    for _ in range(5):
        services.log.append([request_for(services, org, *[sample_event() for _ in range(7)])])
    head = services.log.head(org.id)
    assert head.tree_size == 35

    def fetch(ids: Any) -> dict[tuple[int, int], bytes]:
        return services.log.nodes(org.id, ids)

    assert root_hash(35, fetch) == head.root_hash
    leaves = services.log.leaves(org.id, 0, 35)
    for leaf in leaves:
        proof = inclusion_proof(leaf.seq, 35, fetch)
        assert verify_inclusion(leaf.seq, 35, leaf.leaf_hash, proof, head.root_hash)


def test_late_events_get_the_next_sequence_number(services: Services, org: Organization) -> None:
    services.log.append([request_for(services, org, sample_event())])
    late = sample_event(timestamp=(NOW - timedelta(days=30)).isoformat())
    (result,) = services.log.append([request_for(services, org, late)])
    assert result[0].seq == 1  # type: ignore[index]
    (stored,) = services.log.events(org.id, org.slug, 1, 2)
    assert stored.occurred_at == NOW - timedelta(days=30)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET actor_name = 'Mallory'",
        "DELETE FROM events",
        "UPDATE leaves SET leaf_hash = leaf_hash",
        "DELETE FROM leaves",
    ],
)
def test_database_refuses_changes_to_the_log(
    services: Services, org: Organization, statement: str
) -> None:
    services.log.append([request_for(services, org, sample_event())])
    with pytest.raises(DBAPIError, match="append-only"), services.db.write() as connection:
        connection.execute(text(statement))
    assert services.log.head(org.id).tree_size == 1
    assert len(services.log.events(org.id, org.slug, 0, 1)) == 1


def test_migrating_again_changes_nothing(services: Services) -> None:
    services.db.migrate()
    assert services.db.is_migrated()


def test_migrated_schema_matches_the_declared_schema(services: Services) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from auditledger.store.schema import metadata

    with services.db.engines.writer.connect() as connection:
        context = MigrationContext.configure(connection)
        diff = compare_metadata(context, metadata)
        connection.rollback()
    # PostgreSQL lists each daily partition as a table the metadata does not declare.
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("events_p"))]
    # The search index is derived data outside the declared tables (store.search_index): FTS5's
    # virtual table and its shadow tables on SQLite, an expression index on PostgreSQL.
    diff = [d for d in diff if not _is_search_index(d)]
    # So is PostgreSQL's event_runs (store.runs), kept by a trigger for the purge's plan.
    diff = [d for d in diff if not _is_event_runs(d)]
    assert diff == []


def _is_event_runs(difference: Any) -> bool:
    kind, item = difference[0], difference[1]
    if kind == "remove_table":
        return bool(item.name == runs.TABLE)
    return bool(kind == "remove_index" and item.table.name == runs.TABLE)


def _is_search_index(difference: Any) -> bool:
    kind, item = difference[0], difference[1]
    if kind == "remove_table":
        return bool(item.name.startswith(search_index.TABLE))
    if kind == "remove_column":
        return bool(difference[2] == "events" and difference[3].name == search_index.COLUMN)
    return bool(kind == "remove_index" and item.name == search_index.INDEX)
