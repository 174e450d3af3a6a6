"""Append-only guards on the trust tables (issue 15, finding 5), and verify noticing a lost one.

Each attack is what someone with ordinary write access to the database would try; the triggers
must refuse it on both engines, while the owning code paths (registering and retiring a key,
appending events) keep working.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from auditledger.integrity.guards import guard_problems
from auditledger.services import Services
from auditledger.store.schema import log_heads, signing_keys
from tests.support.helpers import make_org
from tests.support.integrity import ingest_many


@pytest.fixture
def key_id(services: Services) -> str:
    key, _ = services.checkpoints.ensure_key()
    return key.verifier.key_id_hex


def refused(services: Services, statement: object) -> None:
    with pytest.raises(DBAPIError), services.db.write() as connection:
        connection.execute(statement)  # type: ignore[call-overload]


def test_a_signing_key_cannot_be_swapped_or_removed(services: Services, key_id: str) -> None:
    where = signing_keys.c.key_id == key_id
    refused(services, update(signing_keys).where(where).values(public_key=b"\x01" * 32))
    refused(services, update(signing_keys).where(where).values(name="attacker.example"))
    refused(services, delete(signing_keys).where(where))


def test_a_signing_key_can_only_be_retired_once(services: Services, key_id: str) -> None:
    now = services.clock.now()
    where = signing_keys.c.key_id == key_id
    with services.db.write() as connection:  # the owning path: retiring
        connection.execute(update(signing_keys).where(where).values(retired_at=now))
    # Un-retiring (to sign again with a key its owner retired) or moving the date: refused.
    refused(services, update(signing_keys).where(where).values(retired_at=None))
    refused(
        services,
        update(signing_keys).where(where).values(retired_at=now + timedelta(days=1)),
    )


def test_a_log_head_only_moves_forward_by_appending(services: Services) -> None:
    org = make_org(services).org
    ingest_many(services, org, 5)
    where = log_heads.c.org_id == org.id
    with services.db.read() as connection:
        root = connection.execute(select(log_heads.c.root_hash).where(where)).scalar_one()
    refused(services, update(log_heads).where(where).values(tree_size=3))  # rolled back
    refused(services, update(log_heads).where(where).values(root_hash=b"\x00" * 32))
    # Growing past the stored leaves (to claim events that were never appended).
    refused(services, update(log_heads).where(where).values(tree_size=9, root_hash=root))
    refused(services, delete(log_heads).where(where))
    ingest_many(services, org, 2)  # the append path itself still works
    with services.db.read() as connection:
        assert connection.execute(select(log_heads.c.tree_size).where(where)).scalar_one() == 7


def test_verify_reports_a_dropped_or_disabled_guard(services: Services) -> None:
    with services.db.read() as connection:
        assert guard_problems(connection, services.db.is_postgres) == []
    with services.db.write() as connection:
        if services.db.is_postgres:
            connection.exec_driver_sql(
                "ALTER TABLE signing_keys DISABLE TRIGGER signing_keys_retire_only"
            )
            connection.exec_driver_sql("DROP TRIGGER log_heads_append_only ON log_heads")
        else:
            connection.exec_driver_sql("DROP TRIGGER signing_keys_retire_only")
            connection.exec_driver_sql("DROP TRIGGER log_heads_append_only_update")
    with services.db.read() as connection:
        problems = guard_problems(connection, services.db.is_postgres)
    if services.db.is_postgres:
        assert problems == [
            "append-only guard signing_keys_retire_only on signing_keys is disabled",
            "append-only guard log_heads_append_only on log_heads is missing",
        ]
    else:
        assert problems == [
            "append-only guard signing_keys_retire_only on signing_keys is missing",
            "append-only guard log_heads_append_only_update on log_heads is missing",
        ]
