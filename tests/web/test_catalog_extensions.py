"""A deployment's catalog extension, end to end: events of its types are accepted, validated,
filtered, listed, documented in the OpenAPI document, and stay verifiable after the file
changes (the canonical record names its own category, type and properties)."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from auditledger.services import Services, build_services
from auditledger.settings import Settings
from auditledger.web.app import create_app
from auditledger_client.core.clock import FrozenClock
from tests.support.helpers import FixedLocator, make_org
from tests.support.integrity import verify

ROOT = Path(__file__).resolve().parents[2]
MLFLOW = ROOT / "plugins" / "mlflow" / "src" / "auditledger_mlflow" / "catalog.toml"


def event(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "category": "experiment",
        "type": "rename",
        "subject": {"id": "exp-1", "name": "churn-eu"},
        "properties": {"old_name": "churn", "new_name": "churn-eu"},
        "actor": {"id": "u-ada", "name": "Ada"},
    }
    body.update(changes)
    return body


def started(settings: Settings, clock: FrozenClock) -> Services:
    svc = build_services(settings, clock=clock, locator=FixedLocator())
    svc.db.migrate()
    svc.start()
    return svc


@pytest.fixture
def extended(settings: Settings, tmp_path: Path) -> Settings:
    path = tmp_path / "mlflow.toml"
    shutil.copyfile(MLFLOW, path)
    return replace(settings, catalog_extensions=path)


@pytest.mark.slow
def test_events_of_an_extension_type_are_accepted_validated_and_filtered(
    extended: Settings, clock: FrozenClock
) -> None:
    svc = started(extended, clock)
    try:
        access = make_org(svc, "acme")
        with TestClient(create_app(svc, manage_services=False)) as http:
            ingest = {"Authorization": f"Bearer {access.ingest}"}
            read = {"Authorization": f"Bearer {access.admin}"}
            created = http.post("/api/v1/orgs/acme/events", json=event(), headers=ingest)
            assert created.status_code == 201, created.text
            wrong = event(properties={"old_name": "churn", "new_name": 7})
            refused = http.post("/api/v1/orgs/acme/events", json=wrong, headers=ingest)
            assert refused.status_code == 422
            assert refused.json()["error"]["problems"][0]["field"] == "properties.new_name"
            unknown = http.post(
                "/api/v1/orgs/acme/events", json=event(type="teleport"), headers=ingest
            )
            assert unknown.status_code == 422
            assert "rename" in unknown.json()["error"]["problems"][0]["message"]
            found = http.get(
                "/api/v1/orgs/acme/events", params={"type": "experiment.rename"}, headers=read
            )
            assert found.status_code == 200, found.text
            assert [e["id"] for e in found.json()["events"]] == [created.json()["id"]]
            filters = http.get("/api/v1/orgs/acme/filters", headers=read).json()
            assert "experiment" in str(filters["categories"])
            schema = http.get("/api/openapi.json").json()["components"]["schemas"]["EventIn"]
            assert "experiment" in schema["discriminator"]["mapping"]
            assert "rename" in schema["x-auditledger-catalog"]["experiment"]
    finally:
        svc.stop()


def test_the_seed_catalog_alone_refuses_extension_types(
    services: Services, client: TestClient
) -> None:
    access = make_org(services, "acme")
    answer = client.post(
        "/api/v1/orgs/acme/events",
        json=event(),
        headers={"Authorization": f"Bearer {access.ingest}"},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["problems"][0]["field"] == "category"


@pytest.mark.slow
def test_events_keep_verifying_after_the_extension_file_changes(
    extended: Settings, clock: FrozenClock
) -> None:
    svc = started(extended, clock)
    try:
        access = make_org(svc, "acme")
        with TestClient(create_app(svc, manage_services=False)) as http:
            answer = http.post(
                "/api/v1/orgs/acme/events",
                json=event(),
                headers={"Authorization": f"Bearer {access.ingest}"},
            )
            assert answer.status_code == 201
    finally:
        svc.stop()
    assert extended.catalog_extensions is not None
    # The deployment drops the type and renames the category's label...
    extended.catalog_extensions.write_text(
        '[categories.experiment]\nlabel = "Exp"\ndescription = "x"\n'
        '[categories.experiment.types.create]\nlabel = "C"\ndescription = "c"\n',
        encoding="utf-8",
    )
    for settings in (extended, replace(extended, catalog_extensions=None)):
        again = started(settings, clock)
        try:
            org = again.tenancy.org("acme")
            report = verify(again, org)
            assert report.ok, report
            with TestClient(create_app(again, manage_services=False)) as http:
                read = {"Authorization": f"Bearer {access.admin}"}
                listed = http.get("/api/v1/orgs/acme/events", headers=read)
                assert listed.status_code == 200
                # Reads by credentials leave their own audit_log.read records beside it.
                (stored,) = [e for e in listed.json()["events"] if e["category"] != "audit_log"]
                assert (stored["category"], stored["type"]) == ("experiment", "rename")
                assert stored["properties"] == {"old_name": "churn", "new_name": "churn-eu"}
        finally:
            again.stop()


def test_serve_refuses_to_start_on_a_bad_extension_file(settings: Settings, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from auditledger.cli.main import app

    bad = tmp_path / "bad.toml"
    bad.write_text('[categories.model]\nlabel = "Mine"\n', encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["serve", "--database-url", settings.database_url, "--port", "1"],
        env={"AUDITLEDGER_CATALOG_EXTENSIONS": str(bad)},
    )
    assert result.exit_code == 1
    assert "categories.model.label" in result.output
    assert "cannot be redefined" in result.output
