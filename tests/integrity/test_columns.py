"""The columns beside the hashed record are checked by ``verify`` (core.columns).

Each attack below was possible before: the edit changed what a query, page, export or the
idempotency check answers while ``auditledger verify`` still passed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, text

from auditledger.core.canonical import TimestampText
from auditledger.core.checkpoint import Checkpoint, sign_checkpoint
from auditledger.core.columns import digests_of, expected_model_id
from auditledger.core.signed_time import signed_time_text
from auditledger.ingest.digest import request_digest
from auditledger.integrity.source import SqlLogSource
from auditledger.services import Services
from auditledger.store.schema import checkpoints
from auditledger_client.core.validate import parse_event
from tests.support.helpers import OrgAccess, make_org, sample_event
from tests.support.integrity import ingest, tampering, verify

API = "/api/v1/orgs/acme"


@pytest.fixture
def access(services: Services) -> OrgAccess:
    services.checkpoints.ensure_key()
    return make_org(services)


def model_event(model: str = "mdl-churn") -> dict[str, object]:
    return sample_event(subject={"id": model, "name": "churn"})


def kinds(services: Services, access: OrgAccess) -> dict[str, list[int]]:
    report = verify(services, access.org)
    return {f.kind: (f.seqs.seqs() if f.seqs else []) for f in report.findings}


def test_an_edited_model_id_hides_nothing_from_verify(
    services: Services, access: OrgAccess, client: TestClient
) -> None:
    ingest(services, access.org, [sample_event(), model_event(), sample_event()])
    admin = access.headers(access.admin)
    assert (
        client.get(f"{API}/events", params={"model": "mdl-churn"}, headers=admin).json()["count"]
        == 1
    )
    with tampering(services) as connection:
        connection.execute(
            text("UPDATE events SET model_id = 'mdl-other' WHERE org_id = :o AND seq = 1"),
            {"o": access.org.id},
        )
    # The attack: the event is gone from the model's view (and its exports and bundles)...
    listed = client.get(f"{API}/events", params={"model": "mdl-churn"}, headers=admin)
    assert listed.status_code == 200
    assert listed.json()["count"] == 0
    # ...and verify says where.
    assert kinds(services, access) == {"derived_column": [1]}


def test_an_edited_leaf_event_id_is_named(
    services: Services, access: OrgAccess, client: TestClient
) -> None:
    event = sample_event()
    ingest(services, access.org, [sample_event(), event])
    with tampering(services) as connection:
        connection.execute(
            text("UPDATE leaves SET event_id = :e WHERE org_id = :o AND seq = 1"),
            {
                "e": uuid.uuid4().hex if not services.db.is_postgres else uuid.uuid4(),
                "o": access.org.id,
            },
        )
    # The attack: the event is no longer found by its id, and a retry would store it again.
    headers = access.headers(access.admin)
    assert client.get(f"{API}/events/{event['id']}", headers=headers).status_code == 404
    assert kinds(services, access) == {"leaf_event_id": [1]}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("request_digest", b"\x00" * 32),
        ("occurred_at", None),  # one second later, in the engine's storage form
    ],
)
def test_an_edited_leaf_column_is_named(
    services: Services, access: OrgAccess, column: str, value: bytes | None
) -> None:
    ingest(services, access.org, [sample_event() for _ in range(3)])
    with tampering(services) as connection:
        if value is None:
            connection.execute(
                text(
                    "UPDATE leaves SET occurred_at = occurred_at + "
                    + ("interval '1 second'" if services.db.is_postgres else "1000000")
                    + " WHERE org_id = :o AND seq = 2"
                ),
                {"o": access.org.id},
            )
        else:
            connection.execute(
                text(f"UPDATE leaves SET {column} = :v WHERE org_id = :o AND seq = 2"),
                {"v": value, "o": access.org.id},
            )
    expected = {"request_digest": "leaf_digest", "occurred_at": "leaf_occurred_at"}[column]
    assert kinds(services, access) == {expected: [2]}


@pytest.mark.parametrize(
    ("column", "value"),
    [("project_name", "'forged'"), ("parent_name", "'forged'"), ("source_location", "'{}'")],
)
def test_a_value_the_record_leaves_out_must_be_empty(
    services: Services, access: OrgAccess, column: str, value: str
) -> None:
    bare = sample_event()
    del bare["project"], bare["source"]
    ingest(services, access.org, [sample_event(), bare])
    with tampering(services) as connection:
        connection.execute(
            text(f"UPDATE events SET {column} = {value} WHERE org_id = :o AND seq = 1"),
            {"o": access.org.id},
        )
    found = kinds(services, access)
    assert found["derived_column"] == [1]
    # (a parent name also enters the idempotency digest, which then differs too)
    assert set(found) <= {"derived_column", "leaf_digest"}
    assert all(seqs == [1] for seqs in found.values())


def test_a_dashed_event_id_is_not_the_stored_form(services: Services, access: OrgAccess) -> None:
    if services.db.is_postgres:
        pytest.skip("PostgreSQL stores a uuid, which has one form")
    ingest(services, access.org, [sample_event(), sample_event()])
    with tampering(services) as connection:
        stored = connection.execute(
            text("SELECT event_id FROM events WHERE org_id = :o AND seq = 1"), {"o": access.org.id}
        ).scalar_one()
        dashed = str(uuid.UUID(hex=stored))
        for table in ("events", "leaves"):
            connection.execute(
                text(f"UPDATE {table} SET event_id = :e WHERE org_id = :o AND seq = 1"),
                {"e": dashed, "o": access.org.id},
            )
    # Lookups compare the stored form, so the id is as good as gone: verify says so.
    assert kinds(services, access) == {"unreadable": [1]}


def test_an_edited_directory_name_names_the_latest_event(
    services: Services, access: OrgAccess
) -> None:
    renamed = sample_event(project={"id": "prj-1", "name": "Renamed"})
    ingest(services, access.org, [sample_event(), renamed, sample_event(project={"id": "prj-2"})])
    with tampering(services) as connection:
        connection.execute(
            text(
                "UPDATE directory SET name = 'Forged' "
                "WHERE org_id = :o AND kind = 'project' AND ref_id = 'prj-1'"
            ),
            {"o": access.org.id},
        )
    assert kinds(services, access) == {"directory": [1]}


def test_a_deleted_or_invented_directory_entry_is_found(
    services: Services, access: OrgAccess
) -> None:
    ingest(services, access.org, [sample_event(), model_event()])
    with tampering(services) as connection:
        connection.execute(
            text("UPDATE directory SET ref_id = 'mdl-fake' WHERE org_id = :o AND ref_id = :m"),
            {"o": access.org.id, "m": "mdl-churn"},
        )
    found = kinds(services, access)
    assert found.keys() == {"directory", "directory_orphan"}
    assert found["directory"] == [1]
    assert "mdl-fake" in str(verify(services, access.org).findings[-1].describe())


def test_directory_of_an_untouched_log_verifies_however_names_arrive(
    services: Services, access: OrgAccess
) -> None:
    # Names missing from later events keep the earlier name; out-of-order times in one commit.
    late = sample_event(timestamp="2026-11-25T11:59:00+00:00")
    early = sample_event(timestamp="2026-11-25T10:00:00+00:00", project={"id": "prj-1"})
    nameless = sample_event(subject={"id": "model-1"}, project={"id": "prj-1"})
    ingest(services, access.org, [late, early])
    ingest(services, access.org, [nameless])
    assert verify(services, access.org).ok


def test_an_edited_checkpoint_key_name_or_time_is_named(
    services: Services, access: OrgAccess
) -> None:
    ingest(services, access.org, [sample_event() for _ in range(4)])
    services.checkpoints.checkpoint(access.org.id, access.org.slug)
    ingest(services, access.org, [sample_event() for _ in range(2)])
    services.checkpoints.checkpoint(access.org.id, access.org.slug)
    assert verify(services, access.org).ok
    with tampering(services) as connection:
        connection.execute(
            checkpoints.update()
            .where(checkpoints.c.org_id == access.org.id, checkpoints.c.tree_size == 4)
            .values(key_name="someone-else")
        )
        connection.execute(
            checkpoints.update()
            .where(checkpoints.c.org_id == access.org.id, checkpoints.c.tree_size == 6)
            .values(created_at=services.clock.now() - timedelta(days=3))
        )
    report = verify(services, access.org)
    assert {f.kind for f in report.findings} == {"checkpoint_row"}
    assert sorted(report.checkpoints("checkpoint_row")) == [4, 6]
    assert "key_name" in report.findings[0].describe()
    assert "created_at" in report.findings[1].describe()


def test_checkpoints_without_a_signed_time_still_verify(
    services: Services, access: OrgAccess
) -> None:
    # Checkpoints signed before the time line existed: what their row says cannot be checked,
    # and they are not failed for it.
    ingest(services, access.org, [sample_event() for _ in range(3)])
    head = services.log.head(access.org.id)
    key = services.checkpoints.signing_key()
    note = sign_checkpoint(
        Checkpoint(services.checkpoints.origin(access.org.slug), head.tree_size, head.root_hash),
        key,
    )
    assert signed_time_text(note) is None
    with services.db.write() as connection:
        connection.execute(
            insert(checkpoints).values(
                org_id=access.org.id,
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                note=note,
                key_name=key.name,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
    assert verify(services, access.org).ok


def test_new_checkpoints_state_their_signing_time(services: Services, access: OrgAccess) -> None:
    ingest(services, access.org, [sample_event()])
    stored, _ = services.checkpoints.checkpoint(access.org.id, access.org.slug)
    assert signed_time_text(stored.note) == "2026-11-25T12:00:00.000000Z"


@pytest.mark.parametrize("supplied", [True, False])
@pytest.mark.parametrize(
    "event",
    [
        sample_event(),
        sample_event("model_version", "create"),
        sample_event(
            actor={"type": "user", "id": "u-\u00e9", "name": 'Z\u00f6\u00eb "q" \\ \u2028'}
        ),
        {k: v for k, v in sample_event().items() if k not in ("project", "source")},
        sample_event(project={"id": "prj-9"}, subject={"id": "model-9"}),
    ],
)
def test_the_digest_from_a_stored_row_is_the_ingest_digest(
    services: Services, access: OrgAccess, event: dict[str, object], supplied: bool
) -> None:
    sent = dict(event, id=str(uuid.uuid4()))
    if supplied:
        sent["timestamp"] = "2026-11-25T11:00:00.123456+02:00"
    draft = parse_event(sent, received_at=services.clock.now())
    ingest(services, access.org, [sent])
    with services.db.read() as connection:
        row = SqlLogSource(connection, access.org.id, services.db).event_rows(0, 1)[0]
    with_time, without_time = digests_of(row, TimestampText())
    assert request_digest(draft) == (with_time if supplied else without_time)


def test_model_id_rule_is_the_subjects() -> None:
    from auditledger_client.core.event import Ref, Subject

    for subject in (
        Subject("model", "m-1"),
        Subject("model_version", "v-1", parent_type="model", parent=Ref("m-1")),
        Subject("dataset_version", "d-1", parent_type="dataset", parent=Ref("ds-1")),
        Subject("pipeline", "p-1"),
    ):
        parent_id = subject.parent.id if subject.parent else None
        assert (
            expected_model_id(subject.type, subject.id, subject.parent_type, parent_id)
            == subject.model_id
        )
