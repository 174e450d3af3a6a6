"""A server whose database is behind its witness copy stops taking events (issue 15, attack 3).

The database is put back to an older state, as a restore from an old backup would leave it:
fewer leaves and events, an older head and no checkpoints past it. The witness copy outside
the database still holds the newest checkpoint the deployment signed.
"""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from auditledger.services import Services
from auditledger.store.schema import checkpoints, events, leaves, log_heads
from tests.support.helpers import OrgAccess, make_org, sample_event
from tests.support.integrity import ingest_many, tampering


def restore_old_copy(services: Services, org_id: int, size: int) -> None:
    with services.db.read() as connection:
        root = connection.execute(
            select(checkpoints.c.root_hash).where(
                checkpoints.c.org_id == org_id, checkpoints.c.tree_size == size
            )
        ).scalar_one()
    with tampering(services) as connection:
        for table in (events, leaves, checkpoints):
            column = table.c.tree_size if table is checkpoints else table.c.seq
            bound = size if table is not checkpoints else size + 1
            connection.execute(delete(table).where(table.c.org_id == org_id, column >= bound))
        connection.execute(
            update(log_heads)
            .where(log_heads.c.org_id == org_id)
            .values(tree_size=size, root_hash=root)
        )


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    services.checkpoints.ensure_key()
    access = make_org(services, "acme")
    ingest_many(services, access.org, 5)
    services.checkpoints.checkpoint(access.org.id, "acme")  # the backup is taken here
    ingest_many(services, access.org, 5)
    services.checkpoints.checkpoint(access.org.id, "acme")  # the witness copy: 10 events
    return access


def test_a_rolled_back_database_takes_no_events(
    services: Services, acme: OrgAccess, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert services.rollback.check() is None
    restore_old_copy(services, acme.org.id, 5)
    with caplog.at_level(logging.CRITICAL, logger="auditledger.integrity.rollback"):
        problem = services.rollback.check()
    assert problem is not None
    assert "acme: the database holds 5 events but this deployment signed 10" in problem
    assert any("refusing events" in r.getMessage() for r in caplog.records)

    sent = client.post(
        "/api/v1/orgs/acme/events", json=sample_event(), headers=acme.headers(acme.ingest)
    )
    assert sent.status_code == 503
    assert sent.headers["Retry-After"] == "60"
    message = sent.json()["error"]["message"]
    assert "signed 10" in message
    assert "docs/operations.md" in message
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "Restore the newest database backup" in ready.json()["reason"]
    assert "auditledger_log_rolled_back 1.0" in client.get("/metrics").text
    with services.db.read() as connection:
        size = connection.execute(
            select(log_heads.c.tree_size).where(log_heads.c.org_id == acme.org.id)
        ).scalar_one()
    assert size == 5  # nothing was appended on top of the old copy


def test_the_documented_recovery_resumes_ingestion(
    services: Services, acme: OrgAccess, client: TestClient
) -> None:
    restore_old_copy(services, acme.org.id, 5)
    assert services.rollback.check() is not None
    # docs/operations.md: when no newer backup exists, keep the witness copy as evidence and
    # move it aside; the next check accepts the database as it is.
    witness = services.settings.witness_dir / "acme.txt"
    witness.rename(witness.with_name("acme.txt.rolled-back"))
    assert services.rollback.check() is None
    sent = client.post(
        "/api/v1/orgs/acme/events", json=sample_event(), headers=acme.headers(acme.ingest)
    )
    assert sent.status_code == 201
    assert client.get("/readyz").status_code == 200
    assert "auditledger_log_rolled_back 0.0" in client.get("/metrics").text
