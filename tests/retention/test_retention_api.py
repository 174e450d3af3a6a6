"""Retention over HTTP and the CLI: members read, admins change, everything is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.services import Services
from auditledger_client.core.validate import parse_event
from tests.support.helpers import OrgAccess, make_org, sample_event


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    return make_org(services, "acme")


def test_members_read_admins_change(
    client: TestClient, acme: OrgAccess, services: Services
) -> None:
    state = client.get("/api/v1/orgs/acme/retention", headers=acme.headers(acme.member))
    assert state.status_code == 200
    assert state.json()["days"] == 180
    assert state.json()["cutoff"] == "2026-05-29T00:00:00.000000Z"
    denied = client.put(
        "/api/v1/orgs/acme/retention", json={"days": 365}, headers=acme.headers(acme.member)
    )
    assert denied.status_code == 403
    too_short = client.put(
        "/api/v1/orgs/acme/retention", json={"days": 7}, headers=acme.headers(acme.admin)
    )
    assert too_short.status_code == 422
    assert too_short.json()["error"]["problems"][0]["field"] == "days"
    changed = client.put(
        "/api/v1/orgs/acme/retention", json={"days": 365}, headers=acme.headers(acme.admin)
    )
    assert changed.json()["days"] == 365
    held = client.put(
        "/api/v1/orgs/acme/legal-hold",
        json={"hold": True, "reason": "case 7"},
        headers=acme.headers(acme.admin),
    )
    assert held.json()["legal_hold"] is True
    bad = client.put(
        "/api/v1/orgs/acme/legal-hold", json={"hold": "maybe"}, headers=acme.headers(acme.admin)
    )
    assert bad.status_code == 422
    recorded = services.log.events(acme.org.id, acme.org.slug, 0, 5)
    assert [e.type for e in recorded] == ["retention_change", "legal_hold_change"]
    assert all(e.actor.id.startswith("credential:") for e in recorded)
    other = make_org(services, "globex")
    assert (
        client.get("/api/v1/orgs/globex/retention", headers=acme.headers(acme.admin)).status_code
        == 404
    )
    assert other.org.slug == "globex"


@pytest.mark.slow
@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_cli_purge_and_retention(database_url: str, services: Services) -> None:
    org = services.tenancy.create_org("acme", "Acme")
    when = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    now = datetime.now(UTC)
    drafts = [parse_event(sample_event(timestamp=when.isoformat()), received_at=when)]
    services.ingest.ingest_blocking(org, drafts, when)
    recent = now - timedelta(days=1)
    services.ingest.ingest_blocking(
        org, [parse_event(sample_event(timestamp=recent.isoformat()), received_at=now)], now
    )
    runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that tables do not wrap
    db = ["--database-url", database_url]
    dry = runner.invoke(app, ["purge", "--dry-run", *db])
    assert dry.exit_code == 0, dry.output
    assert "acme" in dry.output
    assert services.log.head(org.id).tree_size == 2
    real = runner.invoke(app, ["purge", "--yes", *db])
    assert real.exit_code == 0, real.output
    assert "rows deleted" in real.output
    again = runner.invoke(app, ["purge", "--yes", *db])
    assert "nothing to purge" in again.output
    assert (
        runner.invoke(app, ["retention", "hold", "acme", "--reason", "audit", *db]).exit_code == 0
    )
    shown = runner.invoke(app, ["retention", "show", *db])
    assert "yes (audit)" in shown.output
    assert runner.invoke(app, ["retention", "set", "acme", "--days", "10", *db]).exit_code == 1
    assert runner.invoke(app, ["retention", "set", "acme", "--days", "400", *db]).exit_code == 0
