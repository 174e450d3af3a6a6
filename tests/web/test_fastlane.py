"""The fast lane (web/fastlane.py): its routes answer as they would through FastAPI's stack."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auditledger.ops.logging import ACCESS_LOGGER, configure_logging
from auditledger.services import Services
from auditledger.web.app import create_app
from tests.support.helpers import assert_internal_error, make_org, sample_event

SQLITE = pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)


@SQLITE
def test_an_unexpected_error_on_a_fast_route_answers_json_500_and_is_raised(
    services: Services,
) -> None:
    app = create_app(services, manage_services=False)

    async def explode(_request: Request) -> Response:
        raise RuntimeError("a bug")

    app.fast_routes.append(Route("/api/v1/explode", explode, methods=["POST"]))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/api/v1/explode", headers={"X-Request-ID": "req-9"})
    assert_internal_error(response, "req-9")
    # As through Starlette's ServerErrorMiddleware, the server sees the error too.
    with TestClient(app) as client, pytest.raises(RuntimeError, match="a bug"):
        client.post("/api/v1/explode")


@SQLITE
def test_other_methods_on_a_fast_path_go_through_the_whole_stack(services: Services) -> None:
    access = make_org(services, "acme")
    with TestClient(create_app(services, manage_services=False)) as client:
        response = client.delete("/api/v1/orgs/acme/events", headers=access.headers(access.ingest))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, OPTIONS, POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.fixture
def json_logging() -> Iterator[None]:
    root, access = logging.getLogger(), logging.getLogger(ACCESS_LOGGER)
    saved = (root.handlers[:], root.level, access.handlers[:], access.propagate)
    yield
    root.handlers[:], level, access.handlers[:], access.propagate = saved
    root.setLevel(level)


@SQLITE
def test_one_access_line_per_request(
    services: Services, json_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", "json")  # the handlers write to the captured stderr
    access = make_org(services, "acme")
    with TestClient(create_app(services, manage_services=False)) as client:
        created = client.post(
            "/api/v1/orgs/acme/events",
            json=sample_event(),
            headers={**access.headers(access.ingest), "X-Request-ID": "req-1"},
        )
        refused = client.post("/api/v1/orgs/acme/events", json=sample_event())
        page = client.get("/healthz", headers={"X-Request-ID": "req-3"})
    assert (created.status_code, refused.status_code, page.status_code) == (201, 401, 200)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    requests = [line for line in lines if line.get("event") == "request"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("POST", "/api/v1/orgs/acme/events", 201),
        ("POST", "/api/v1/orgs/acme/events", 401),
        ("GET", "/healthz", 200),
    ]
    assert [requests[0]["request_id"], requests[2]["request_id"]] == ["req-1", "req-3"]
    assert requests[1]["request_id"] == refused.headers["x-request-id"]
    for request in requests:
        assert request["level"] == "info"
        assert request["timestamp"].endswith("Z")
        assert request["ms"] >= 0
