"""Regressions for what the hostile-input runs found (docs/reliability.md, "Hostile input and
access control"): each test failed before its fix."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from auditledger.core.errors import InvalidInput
from auditledger.retention.policy import MAX_DAYS
from auditledger.services import Services
from auditledger.tenancy.model import Role
from auditledger.web.app import create_app
from auditledger_client.core.event import Actor
from tests.support.helpers import OrgAccess, assert_internal_error, make_org, sample_event

# Most of these are about the HTTP layer, the same on both engines; the calendar edges reach SQL.
SQLITE = pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    return make_org(services)


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


@SQLITE
@pytest.mark.parametrize("days", [MAX_DAYS + 1, 739_945, 10**12])
def test_an_absurd_retention_is_refused_not_a_server_error(
    client: TestClient, acme: OrgAccess, services: Services, days: int
) -> None:
    # 739,945 days put the cutoff before year 1: OverflowError, a 500, and every later read of
    # the retention settings (and the purge) failed the same way.
    url = "/api/v1/orgs/acme/retention"
    response = client.put(url, json={"days": days}, headers=acme.headers(acme.admin))
    assert response.status_code == 422
    assert error_code(response) == "invalid_input"
    assert client.get(url, headers=acme.headers(acme.admin)).status_code == 200
    with pytest.raises(InvalidInput):  # the CLI goes through the same check
        services.retention.set_retention(acme.org, days, actor=Actor("system", "t", "test"))
    longest = client.put(url, json={"days": MAX_DAYS}, headers=acme.headers(acme.admin))
    assert longest.status_code == 200
    assert longest.json()["days"] == MAX_DAYS


@SQLITE
@pytest.mark.parametrize("path", ["retention", "legal-hold"])
def test_an_unreadable_body_is_a_malformed_request(
    client: TestClient, acme: OrgAccess, path: str
) -> None:
    # FastAPI's own 400 came out with the code "error"; it is the ingest API's 400.
    response = client.put(
        f"/api/v1/orgs/acme/{path}",
        content=b"\xff\xfe{",
        headers={**acme.headers(acme.admin), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert error_code(response) == "malformed_request"


@SQLITE
def test_every_organization_route_documents_its_errors(client: TestClient) -> None:
    # Export, retention and proof routes answered 401, 403 and 404 without documenting them,
    # and documented FastAPI's {"detail": ...} body for 422 where the API sends {"error": ...}.
    document = client.get("/api/openapi.json").json()
    error_body = {"$ref": "#/components/schemas/ErrorOut"}
    for path, operations in document["paths"].items():
        if not path.startswith("/api/v1/orgs/{org}"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("401", "403", "404"):
                assert status in responses, f"{method} {path} does not document {status}"
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == error_body, f"{method} {path} {status}"


@SQLITE
def test_files_are_documented_as_what_they_are(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    org = "/api/v1/orgs/{org}"
    content = {
        f"{org}/export.csv": {"text/csv"},
        f"{org}/export.jsonl": {"application/x-ndjson"},
        f"{org}/checkpoint": {"text/plain", "application/json"},
        "/metrics": {"text/plain"},
    }
    for path, media_types in content.items():
        assert set(paths[path]["get"]["responses"]["200"]["content"]) == media_types, path


@SQLITE
def test_an_unexpected_error_keeps_the_security_headers_and_request_id(
    services: Services,
) -> None:
    # The 500 response was built outside the middleware: no CSP, no nosniff, no X-Request-ID,
    # although its message points at "this request's id".
    app = create_app(services, manage_services=False)

    @app.get("/api/v1/explode")
    async def explode() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/explode", headers={"X-Request-ID": "req-42"})
    assert_internal_error(response, "req-42")


@SQLITE
def test_a_session_changes_nothing_through_the_api_without_its_csrf_token(
    client: TestClient, services: Services, acme: OrgAccess
) -> None:
    # A session cookie alone could change retention, place a legal hold or sign checkpoints:
    # SameSite=Lax stops other sites, not a sibling subdomain. The pages' forms carry a CSRF
    # token; now the API asks a session for it too. Reading needs no token.
    services.checkpoints.ensure_key()
    admin = services.tenancy.create_user("ada@acme.example", "Ada", "correct horse battery")
    services.tenancy.add_member(acme.org, admin, Role.ADMIN)
    session = services.tenancy.sign_in("ada@acme.example", "correct horse battery")
    client.cookies.set("auditledger_session", session.token)
    changes = [
        ("PUT", "/api/v1/orgs/acme/retention", {"days": None}),
        ("PUT", "/api/v1/orgs/acme/legal-hold", {"hold": True, "reason": "forged"}),
        ("POST", "/api/v1/orgs/acme/checkpoints", None),
    ]
    for method, url, body in changes:
        for token in (None, "", "wrong", session.csrf_token + "x"):
            headers = {"X-CSRF-Token": token} if token is not None else {}
            refused = client.request(method, url, json=body, headers=headers)
            assert refused.status_code == 403, (method, url, token)
            assert "X-CSRF-Token" in refused.json()["error"]["message"]
    assert services.tenancy.org("acme").legal_hold is False
    assert client.get("/api/v1/orgs/acme/retention").status_code == 200
    for method, url, body in changes:
        headers = {"X-CSRF-Token": session.csrf_token}
        assert client.request(method, url, json=body, headers=headers).status_code in (200, 201)


@SQLITE
@pytest.mark.parametrize("path", ["events", "models/mdl-1/events"])
def test_a_blank_limit_is_not_a_number(client: TestClient, acme: OrgAccess, path: str) -> None:
    # `limit=` was read as "no limit given" although the document says integer.
    response = client.get(f"/api/v1/orgs/acme/{path}?limit=", headers=acme.headers(acme.admin))
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["error"]["problems"]] == ["limit"]


@SQLITE
def test_the_document_says_which_routes_need_a_bearer_token(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            needs = path.startswith("/api/v1/orgs/")
            assert (operation.get("security") == [{"bearer": []}]) is needs, (method, path)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("to=9999-12-31", True),
        ("to=9999-12-31T23:59:59.999999-12:00", True),
        ("from=9999-12-31T23:59:59-12:00", False),
        ("from=0001-01-01T00:00:00%2B14:00", True),
        ("to=0001-01-01T00:00:00%2B14:00", False),
        ("to=0001-01-15", False),  # PostgreSQL's look-back windows reached before year 1
    ],
)
def test_a_bound_at_the_edge_of_the_calendar_is_not_a_server_error(
    client: TestClient, acme: OrgAccess, query: str, found: bool
) -> None:
    # to=9999-12-31 means "through the end of that day": one day later overflowed (a 500 on
    # the query API, the model events, both exports and the pages). Such a bound now lies at
    # the edge of what can be represented, past every event on its side. On PostgreSQL the
    # newest-first search also stepped back from an early `to` past year 1.
    client.post("/api/v1/orgs/acme/events", json=sample_event(), headers=acme.headers(acme.ingest))
    headers = acme.headers(acme.admin)
    # category=model: the reads' own records (audit_log.read, issue 16) are not counted here.
    query += "&category=model"
    listed = client.get(f"/api/v1/orgs/acme/events?{query}", headers=headers)
    assert listed.status_code == 200
    assert (listed.json()["count"] == 1) is found
    exported = client.get(f"/api/v1/orgs/acme/export.jsonl?{query}", headers=headers)
    assert exported.status_code == 200
    assert (len(exported.text.splitlines()) == 1) is found
