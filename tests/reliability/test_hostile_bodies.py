"""Ingest bodies that crashed the service (issue 16, finding 1): each is a 4xx with a message
naming what is wrong, never a 5xx; and the last-resort handler still answers JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from auditledger.services import Services
from auditledger.web.app import create_app
from tests.support.helpers import OrgAccess, make_org, sample_event

SQLITE = pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
EVENTS = "/api/v1/orgs/acme/events"


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    return make_org(services)


def post_raw(client: TestClient, acme: OrgAccess, body: str | bytes) -> Any:
    return client.post(
        EVENTS,
        content=body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body,
        headers={**acme.headers(acme.ingest), "Content-Type": "application/json"},
    )


def problems(response: Any) -> list[dict[str, str]]:
    return list(response.json()["error"].get("problems", []))


@SQLITE
@pytest.mark.parametrize("where", ["properties", "top", "nested"])
@pytest.mark.parametrize("number", ["1" * 4301, "-" + "9" * 5000, "1" * 200, "1" * 400 + ".5"])
def test_a_huge_number_anywhere_is_a_422(
    client: TestClient, acme: OrgAccess, where: str, number: str
) -> None:
    # json.loads raised a bare ValueError beyond 4,300 digits: a 500.
    event = json.dumps(sample_event())
    if where == "properties":
        body = event.replace('"properties": {', f'"properties": {{"count": {number}, ', 1)
    elif where == "top":
        body = event[:-1] + f', "extra": {number}}}'
    else:
        body = event[:-1] + f', "extra": [[{{"deep": {number}}}]]}}'
    response = post_raw(client, acme, body)
    assert response.status_code == 422, response.text
    assert "number" in response.json()["error"]["problems"][0]["message"]


@SQLITE
@pytest.mark.parametrize(
    "timestamp",
    [
        "0001-01-01T00:00:00+01:00",  # the offset pushes it before year 1: OverflowError
        "9999-12-31T23:30:00-01:00",  # ... and after year 9999
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "9999-06-01T00:00:00Z",
    ],
)
def test_a_timestamp_outside_the_window_is_a_422(
    client: TestClient, acme: OrgAccess, timestamp: str
) -> None:
    response = client.post(
        EVENTS, json=sample_event(timestamp=timestamp), headers=acme.headers(acme.ingest)
    )
    assert response.status_code == 422, response.text
    (problem,) = problems(response)
    assert problem["field"] == "timestamp"
    assert "1970-01-01" in problem["message"]


@SQLITE
@pytest.mark.parametrize("fraction", ["1234567", "123456789", "0000000"])
def test_sub_microsecond_timestamps_are_refused_not_truncated(
    client: TestClient, acme: OrgAccess, fraction: str
) -> None:
    # 2026-11-25T11:00:00.123456789Z was stored as ...123456, silently.
    stamp = f"2026-11-25T11:00:00.{fraction}Z"
    response = client.post(
        EVENTS, json=sample_event(timestamp=stamp), headers=acme.headers(acme.ingest)
    )
    assert response.status_code == 422, response.text
    (problem,) = problems(response)
    assert problem["field"] == "timestamp"
    assert "6 fractional digits" in problem["message"]
    exact = client.post(
        EVENTS,
        json=sample_event(timestamp="2026-11-25T11:00:00.123456Z"),
        headers=acme.headers(acme.ingest),
    )
    assert exact.status_code == 201, exact.text


@SQLITE
@pytest.mark.parametrize(
    "template",
    [
        '{"category": "model", "type": "rename", "properties": {"\\udfff": 1}}',
        '{"\\ud800": 1, "category": "model"}',
        '{"subject": {"id": "\\udfff"}}',
        '{"actor": {"id": "a", "name": "\\ud800x", "\\udc00": 2}}',
    ],
)
def test_a_lone_surrogate_in_a_key_or_value_is_a_422_with_an_escaped_message(
    client: TestClient, acme: OrgAccess, template: str
) -> None:
    # The 422 message quoted the key with ensure_ascii=False; encoding it raised
    # UnicodeEncodeError while the response was rendered, so the caller got a 500.
    base = sample_event()
    patch = json.loads(template)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    body = json.dumps(base)  # ensure_ascii: the surrogate travels as \udfff, valid JSON text
    response = post_raw(client, acme, body)
    assert response.status_code == 422, response.text
    text = response.content.decode("utf-8")  # the answer itself is valid UTF-8
    assert "\\udfff" in text or "\\ud800" in text or "surrogate" in text


@SQLITE
def test_a_surrogate_key_in_a_batch_is_a_422(client: TestClient, acme: OrgAccess) -> None:
    event = sample_event()
    event["properties"] = {**event["properties"], "\udfff": 1}
    response = client.post(
        f"{EVENTS}/batch",
        content=json.dumps({"events": [event]}).encode(),
        headers={**acme.headers(acme.ingest), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert problems(response)[0]["field"] == 'events[0].properties["\\udfff"]'


@SQLITE
def test_the_last_resort_answers_json_even_when_the_error_handler_fails(
    services: Services,
) -> None:
    # An error page that cannot be rendered (here: a handler that itself raises) used to end
    # in uvicorn's plain-text 500; the outermost middleware answers the documented JSON.
    app = create_app(services, manage_services=False)

    @app.get("/api/v1/explode")
    async def explode() -> None:
        raise RuntimeError("a bug")

    async def broken_handler(_request: Any, _exc: Exception) -> None:
        raise UnicodeEncodeError("utf-8", "\udfff", 0, 1, "surrogates not allowed")

    app.add_exception_handler(Exception, broken_handler)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/explode", headers={"X-Request-ID": "req-7"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "internal_error"
    assert response.headers["x-request-id"] == "req-7"


@SQLITE
@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("subject", "subject.id"),
        ("project", "project.id"),
        ("parent", "subject.parent.id"),
    ],
)
def test_a_slash_in_a_resource_id_is_refused(
    client: TestClient, acme: OrgAccess, field: str, path: str
) -> None:
    # mdl/a was stored, but /models/mdl/a and its audit-log tab answered 404.
    if field == "parent":
        event = sample_event("model_version", "create")
        event["subject"]["parent"]["id"] = "mdl/a"
    else:
        event = sample_event()
        event[field]["id"] = "mdl/a"
    response = client.post(EVENTS, json=event, headers=acme.headers(acme.ingest))
    assert response.status_code == 422, response.text
    (problem,) = problems(response)
    assert problem["field"] == path
    assert "'/'" in problem["message"]
    event = sample_event(subject={"id": "mdl:a.b_c-d", "name": "x"})
    assert client.post(EVENTS, json=event, headers=acme.headers(acme.ingest)).status_code == 201
