"""The ingestion API over HTTP: statuses, messages, and that nothing rejected is stored."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from auditledger.services import Services
from auditledger.tenancy.model import CredentialKind
from tests.support.helpers import OrgAccess, all_platform_types, make_org, sample_event


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    return make_org(services, "acme")


def post(
    client: TestClient,
    access: OrgAccess,
    body: Any,
    *,
    token: str | None = None,
    path: str = "events",
    org: str | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(access.headers(token or access.ingest))
    all_headers.update(headers or {})
    content = raw if raw is not None else json.dumps(body).encode()
    return client.post(
        f"/api/v1/orgs/{org or access.org.slug}/{path}", content=content, headers=all_headers
    )


def stored(services: Services, access: OrgAccess) -> int:
    return services.log.head(access.org.id).tree_size


@pytest.mark.parametrize(("category", "type_"), all_platform_types())
def test_every_type_is_recorded(
    client: TestClient, acme: OrgAccess, services: Services, category: str, type_: str
) -> None:
    event = sample_event(category, type_)
    response = post(client, acme, event)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["id"] == event["id"]
    assert receipt["status"] == "created"
    assert receipt["organization"] == "acme"
    assert len(bytes.fromhex(receipt["hash"])) == 32


def test_receipt_and_replay(client: TestClient, acme: OrgAccess, services: Services) -> None:
    event = sample_event()
    first = post(client, acme, event)
    again = post(client, acme, event)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == dict(first.json(), status="duplicate")
    assert stored(services, acme) == 1


def test_changed_content_with_same_id_is_409(
    client: TestClient, acme: OrgAccess, services: Services
) -> None:
    event = sample_event()
    post(client, acme, event)
    response = post(client, acme, dict(event, properties={"old_name": "a", "new_name": "b"}))
    assert response.status_code == 409
    assert "different content" in response.json()["error"]["problems"][0]["message"]
    assert stored(services, acme) == 1


def test_server_assigns_an_id_when_none_is_sent(client: TestClient, acme: OrgAccess) -> None:
    event = sample_event()
    del event["id"]
    first, second = post(client, acme, event), post(client, acme, event)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    uuid.UUID(first.json()["id"])


def test_batch_is_atomic(client: TestClient, acme: OrgAccess, services: Services) -> None:
    good = [sample_event() for _ in range(3)]
    bad = sample_event("model", "rename", properties={"old_name": "x"})
    response = post(client, acme, {"events": [*good, bad]}, path="events/batch")
    assert response.status_code == 422
    assert response.json()["error"]["problems"][0]["field"] == "events[3].properties.new_name"
    assert stored(services, acme) == 0
    response = post(client, acme, {"events": good}, path="events/batch")
    assert response.status_code == 201
    assert [r["seq"] for r in response.json()["receipts"]] == [0, 1, 2]


def test_batch_with_a_conflict_stores_nothing(
    client: TestClient, acme: OrgAccess, services: Services
) -> None:
    event = sample_event()
    post(client, acme, event)
    changed = dict(event, subject={"id": "other"})
    response = post(client, acme, {"events": [sample_event(), changed]}, path="events/batch")
    assert response.status_code == 409
    assert stored(services, acme) == 1


@pytest.mark.parametrize(
    ("raw", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"category": "model", "category": "user"}', 400, "duplicate key"),
        (b'{"x": NaN}', 400, "NaN"),
        (b'{"x": "\xff"}', 400, "UTF-8"),
        (b"", 400, "empty"),
        (b"[]", 422, "JSON object"),
    ],
)
def test_unreadable_bodies(
    client: TestClient, acme: OrgAccess, services: Services, raw: bytes, status: int, needle: str
) -> None:
    response = post(client, acme, None, raw=raw)
    assert response.status_code == status
    assert needle in response.text
    assert stored(services, acme) == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"category": "nope"}, "category"),
        ({"type": "nope"}, "type"),
        ({"timestamp": "2026-11-25T10:00:00"}, "timestamp"),
        ({"timestamp": "2027-01-01T00:00:00Z"}, "timestamp"),
        ({"source": {"ip": "300.1.1.1"}}, "source.ip"),
        ({"properties": {"old_name": 1, "new_name": "x"}}, "properties.old_name"),
    ],
)
def test_invalid_events_are_422_and_not_stored(
    client: TestClient, acme: OrgAccess, services: Services, overrides: dict[str, Any], field: str
) -> None:
    response = post(client, acme, sample_event(**overrides))
    assert response.status_code == 422
    assert field in [p["field"] for p in response.json()["error"]["problems"]]
    assert stored(services, acme) == 0


def test_event_over_64_kib_is_413(client: TestClient, acme: OrgAccess, services: Services) -> None:
    event = sample_event("model", "rename", properties={"old_name": "x" * 66_000, "new_name": "y"})
    response = post(client, acme, event)
    assert response.status_code == 413
    assert "64 KiB" in response.json()["error"]["message"]
    assert stored(services, acme) == 0


def test_request_over_10_mib_is_413(
    client: TestClient, acme: OrgAccess, services: Services
) -> None:
    response = post(
        client, acme, None, raw=b"[" + b" " * (10 * 1024 * 1024) + b"]", path="events/batch"
    )
    assert response.status_code == 413
    assert stored(services, acme) == 0


def test_wrong_content_type_is_refused(client: TestClient, acme: OrgAccess) -> None:
    response = post(client, acme, sample_event(), headers={"Content-Type": "text/plain"})
    assert response.status_code == 400


def test_past_retention_is_refused(client: TestClient, acme: OrgAccess, services: Services) -> None:
    response = post(client, acme, sample_event(timestamp="2026-05-01T00:00:00Z"))
    assert response.status_code == 422
    assert "retention" in response.json()["error"]["problems"][0]["message"]
    assert stored(services, acme) == 0


class TestAccess:
    def test_missing_credential_is_401(self, client: TestClient, acme: OrgAccess) -> None:
        response = client.post("/api/v1/orgs/acme/events", json=sample_event())
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")

    @pytest.mark.parametrize(
        "token", ["garbage", "al_ingest_nope_nope", "al_ingest_aaaaaaaaaaaa_bbbbbbbbbbbbbbbb"]
    )
    def test_bad_credential_is_401(self, client: TestClient, acme: OrgAccess, token: str) -> None:
        assert post(client, acme, sample_event(), token=token).status_code == 401

    def test_tampered_secret_is_401(self, client: TestClient, acme: OrgAccess) -> None:
        token = acme.ingest[:-1] + ("a" if acme.ingest[-1] != "a" else "b")
        assert post(client, acme, sample_event(), token=token).status_code == 401

    def test_revoked_credential_is_401(
        self, client: TestClient, acme: OrgAccess, services: Services
    ) -> None:
        public_id = acme.ingest.split("_")[2]
        services.tenancy.revoke_credential(public_id)
        response = post(client, acme, sample_event())
        assert response.status_code == 401
        assert "revoked" in response.json()["error"]["message"]

    def test_read_credential_cannot_ingest(
        self, client: TestClient, acme: OrgAccess, services: Services
    ) -> None:
        response = post(client, acme, sample_event(), token=acme.admin)
        assert response.status_code == 403
        assert stored(services, acme) == 0

    def test_other_organizations_are_404(
        self, client: TestClient, acme: OrgAccess, services: Services
    ) -> None:
        globex = make_org(services, "globex")
        response = post(client, acme, sample_event(), org="globex")
        assert response.status_code == 404
        missing = post(client, acme, sample_event(), org="no-such-org")
        assert response.json()["error"]["message"].replace("globex", "X") == missing.json()[
            "error"
        ]["message"].replace("no-such-org", "X")
        assert stored(services, globex) == 0

    def test_platform_wide_credential_writes_everywhere(
        self, client: TestClient, acme: OrgAccess, services: Services
    ) -> None:
        globex = make_org(services, "globex")
        platform = services.tenancy.issue_credential(CredentialKind.INGEST, "platform", org=None)
        for access in (acme, globex):
            assert post(client, access, sample_event(), token=platform.token).status_code == 201

    @pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
    def test_events_cannot_be_changed_or_deleted(
        self, client: TestClient, acme: OrgAccess, method: str
    ) -> None:
        response = client.request(
            method, "/api/v1/orgs/acme/events", headers=acme.headers(acme.ingest)
        )
        assert response.status_code == 405


def test_operations_endpoints(client: TestClient, acme: OrgAccess) -> None:
    post(client, acme, sample_event())
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["schema_current"] is True
    metrics = client.get("/metrics").text
    assert "auditledger_events_accepted_total 1.0" in metrics
    assert "auditledger_commit_seconds_bucket" in metrics
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_openapi_document_describes_the_event(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "EventIn" in spec["components"]["schemas"]
    body = spec["paths"]["/api/v1/orgs/{org}/events"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("EventIn")
