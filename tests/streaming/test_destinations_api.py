"""Destinations over HTTP and the CLI: admins only, secrets write-only, every change recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.services import Services
from tests.support.helpers import OrgAccess, make_org
from tests.support.streams import record

SECRET = "hmac-secret-that-must-never-come-back"


def _create(client: TestClient, acme: OrgAccess, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "siem",
        "transport": "webhook",
        "settings": {"url": "http://127.0.0.1:9/in"},
        "secrets": {"hmac_key": SECRET},
        "filters": {"category": "model"},
    }
    body.update(changes)
    response = client.post(
        "/api/v1/orgs/acme/destinations", json=body, headers=acme.headers(acme.admin)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_admins_manage_destinations_and_each_change_is_recorded(
    stream_client: TestClient, acme: OrgAccess, stream_services: Services
) -> None:
    record(stream_services, acme.org, 3)
    created = _create(stream_client, acme)
    assert created["secrets"] == ["hmac_key"]
    assert created["next_seq"] == 3  # "from now"
    assert created["filters_description"] == "category = Model"
    base = f"/api/v1/orgs/acme/destinations/{created['id']}"
    admin = acme.headers(acme.admin)
    changed = stream_client.patch(
        base, json={"filters": {"project": "prj-1"}, "secrets": {"token": "tok"}}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["secrets"] == ["hmac_key", "token"]
    assert stream_client.post(f"{base}/pause", headers=admin).json()["state"] == "paused"
    assert stream_client.post(f"{base}/resume", headers=admin).json()["state"] == "active"
    assert stream_client.post(f"{base}/retry", headers=admin).json()["state"] == "active"
    listing = stream_client.get("/api/v1/orgs/acme/destinations", headers=admin)
    by_name = stream_client.get("/api/v1/orgs/acme/destinations/siem", headers=admin)
    assert by_name.json()["id"] == created["id"]
    assert stream_client.delete(base, headers=admin).status_code == 204
    assert stream_client.get(base, headers=admin).status_code == 404
    everything = json.dumps([created, changed.json(), listing.json()])
    assert SECRET not in everything
    assert 'tok"' not in everything
    own = stream_services.log.events(acme.org.id, "acme", 3, 20)
    assert [e.type for e in own] == [
        "destination_create",
        "destination_change",
        "destination_pause",
        "destination_resume",
        "destination_resume",
        "destination_delete",
    ]
    assert own[1].properties["changed"] == ["filters", "secrets.token"]
    assert SECRET not in json.dumps([e.properties for e in own])
    assert all(e.category == "audit_log" for e in own)


def test_members_and_other_organizations_cannot_manage(
    stream_client: TestClient, acme: OrgAccess, stream_services: Services
) -> None:
    created = _create(stream_client, acme)
    member = acme.headers(acme.member)
    assert stream_client.get("/api/v1/orgs/acme/destinations", headers=member).status_code == 403
    denied = stream_client.post(
        "/api/v1/orgs/acme/destinations",
        json={"name": "x", "transport": "webhook", "settings": {"url": "http://127.0.0.1/"}},
        headers=member,
    )
    assert denied.status_code == 403
    base = f"/api/v1/orgs/acme/destinations/{created['id']}"
    assert stream_client.post(f"{base}/pause", headers=member).status_code == 403
    assert stream_client.delete(base, headers=member).status_code == 403
    other = make_org(stream_services, "globex")
    assert (
        stream_client.get(
            "/api/v1/orgs/acme/destinations", headers=other.headers(other.admin)
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"transport": "carrier-pigeon"}, "transport"),
        ({"settings": {"url": "ftp://127.0.0.1/"}}, "settings.url"),
        ({"settings": {"url": "http://user:pw@127.0.0.1/"}}, "settings.url"),
        ({"settings": {"url": "http://127.0.0.1/", "colour": "red"}}, "settings.colour"),
        ({"secrets": {"password": "x"}}, "secrets.password"),
        ({"filters": {"bogus": "x"}}, "bogus"),
        ({"filters": {"category": "nope"}}, "category"),
        ({"start_seq": 99}, "start_seq"),
        ({"settings": {"url": "http://10.1.2.3/in"}}, "settings.url"),
        ({"transport": "syslog", "settings": {"host": "127.0.0.1", "port": 0}}, "settings.port"),
    ],
)
def test_bad_destinations_are_refused_naming_the_field(
    stream_client: TestClient, acme: OrgAccess, changes: dict[str, object], field: str
) -> None:
    body: dict[str, object] = {
        "name": "siem",
        "transport": "webhook",
        "settings": {"url": "http://127.0.0.1:9/in"},
    }
    body.update(changes)
    response = stream_client.post(
        "/api/v1/orgs/acme/destinations", json=body, headers=acme.headers(acme.admin)
    )
    assert response.status_code == 422, response.text
    fields = [p["field"] for p in response.json()["error"]["problems"]]
    assert field in fields, fields


def test_loopback_is_refused_without_the_operators_permission(
    client: TestClient, services: Services
) -> None:
    # The default allow-list is "public addresses only": 127.0.0.1 is an internal service.
    acme = make_org(services, "acme")
    response = client.post(
        "/api/v1/orgs/acme/destinations",
        json={"name": "x", "transport": "webhook", "settings": {"url": "http://127.0.0.1/"}},
        headers=acme.headers(acme.admin),
    )
    assert response.status_code == 422
    assert response.json()["error"]["problems"][0]["field"] == "settings.url"
    assert "outside the networks" in response.json()["error"]["problems"][0]["message"]


@pytest.mark.slow
@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_cli_manages_destinations(
    database_url: str, stream_services: Services, tmp_path: Path
) -> None:
    stream_services.tenancy.create_org("acme", "Acme")
    runner = CliRunner(env={"COLUMNS": "250", "AUDITLEDGER_STREAM_ALLOWED_NETWORKS": "127.0.0.0/8"})
    db = ["--database-url", database_url]
    added = runner.invoke(
        app,
        [
            "destinations", "add", "acme", "siem", "--transport", "syslog",
            "--setting", "host=127.0.0.1", "--setting", "port=6514",
            "--filter", "project=prj-1", *db,
        ],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["destinations", "list", "acme", *db])
    assert listed.exit_code == 0, listed.output
    for shown in ("siem", "transport  syslog", "filters    project = prj-1", "lag        0 events"):
        assert shown in listed.output
    paused = runner.invoke(app, ["destinations", "pause", "acme", "siem", *db])
    assert paused.exit_code == 0, paused.output
    assert "state      paused" in runner.invoke(app, ["destinations", "list", "acme", *db]).output
    assert runner.invoke(app, ["destinations", "resume", "acme", "siem", *db]).exit_code == 0
    refused = runner.invoke(
        app,
        ["destinations", "add", "acme", "bad", "--transport", "webhook",
         "--setting", "url=http://10.0.0.1/", *db],
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "settings.url" in refused.output
    deleted = runner.invoke(app, ["destinations", "delete", "acme", "siem", *db])
    assert deleted.exit_code == 0, deleted.output
    assert "no destinations" in runner.invoke(app, ["destinations", "list", "acme", *db]).output
