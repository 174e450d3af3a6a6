"""The query API over HTTP: exact results, the 500 cap, cursors, source visibility, isolation."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from auditledger.query.filters import parse_filters
from auditledger.services import Services
from auditledger_client.core.event import Event
from tests.support.history import Tenant
from tests.support.search import brute_force, random_filters

EVENTS = "/api/v1/orgs/{}/events"


@pytest.fixture
def database_url(history_database_url: str) -> str:
    """acme and globex, loaded."""
    return history_database_url


def get(client: TestClient, token: str, path: str, params: Any = None) -> Any:
    return client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


def keys_anywhere(value: Any) -> set[str]:
    """Every key of every object nested in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_anywhere(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_anywhere(v)}
    return set()


def seqs(body: dict[str, Any]) -> list[int]:
    return [e["seq"] for e in body["events"]]


@pytest.mark.slow
def test_filters_return_exactly_the_brute_force_result(
    client: TestClient, acme: Tenant, services: Services
) -> None:
    cases = random_filters(acme.events, random.Random(7))
    assert len(cases) > 20
    everything: list[Event] = []
    for params in cases:
        # Each read is recorded (audit_log.read) after it is answered: the next one sees it.
        # The log only grows, so only what was added since the last case is read.
        size = services.log.head(acme.org.id).tree_size
        everything += services.log.events(acme.org.id, acme.slug, len(everything), size)
        expected = brute_force(everything, parse_filters(params))
        response = get(client, acme.access.admin, EVENTS.format("acme"), params)
        assert response.status_code == 200, (params, response.text)
        body = response.json()
        assert seqs(body) == [e.seq for e in expected[:500]], params
        assert body["count"] == min(len(expected), 500)
        assert body["has_more"] == (len(expected) > 500)
        assert body["limit"] == 500
        assert (body["next_cursor"] is not None) == body["has_more"]
        assert (body["filters"] == "all events") == (not params)


def test_the_view_is_capped_at_500_and_a_cursor_walks_every_match(
    client: TestClient, acme: Tenant
) -> None:
    url = EVENTS.format("acme")
    first = get(client, acme.access.member, url).json()
    assert first["count"] == 500
    assert first["has_more"]
    assert seqs(first) == [e.seq for e in brute_force(acme.events, parse_filters([]))[:500]]
    walked = seqs(first)
    cursor = first["next_cursor"]
    while cursor:
        body = get(client, acme.access.member, url, {"cursor": cursor, "limit": 1000}).json()
        assert body["count"] <= 1000
        walked += seqs(body)
        cursor = body["next_cursor"]
    assert (
        walked == [e.seq for e in sorted(acme.events, key=lambda e: (e.occurred_at, e.seq))][::-1]
    )
    small = get(client, acme.access.member, url, {"limit": 7}).json()
    assert small["count"] == 7
    assert small["limit"] == 7
    assert small["has_more"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "501"}, "at most 500"),
        ({"limit": "0"}, "between 1 and 500"),
        ({"limit": "many"}, "not a whole number"),
        ({"cursor": "garbage!"}, "not a cursor"),
    ],
)
def test_paging_mistakes_are_422_naming_the_field(
    client: TestClient, acme: Tenant, params: dict[str, str], message: str
) -> None:
    response = get(client, acme.access.admin, EVENTS.format("acme"), params)
    assert response.status_code == 422
    (problem,) = response.json()["error"]["problems"]
    assert problem["field"] == next(iter(params))
    assert message in problem["message"]


def test_a_cursor_allows_pages_of_up_to_1000_but_no_more(client: TestClient, acme: Tenant) -> None:
    first = get(client, acme.access.admin, EVENTS.format("acme"), {"limit": 10}).json()
    params = {"cursor": first["next_cursor"], "limit": "1001"}
    response = get(client, acme.access.admin, EVENTS.format("acme"), params)
    assert response.status_code == 422
    assert "between 1 and 1000" in response.json()["error"]["problems"][0]["message"]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("colour=red", ["colour"]),
        ("from=yesterday", ["from"]),
        ("from=2026-11-20&to=2026-11-01", ["to"]),
        ("tz=Mars/Olympus", ["tz"]),
        ("category=spaceship", ["category"]),
        ("type=model.launch", ["type"]),
        ("project=prj-nope&actor=u-nobody", ["project", "actor"]),
        ("model=mdl-nope&model_version=v-nope", ["model", "model_version"]),
    ],
)
def test_bad_filters_are_422_naming_each_problem(
    client: TestClient, acme: Tenant, query: str, fields: list[str]
) -> None:
    response = get(client, acme.access.member, f"{EVENTS.format('acme')}?{query}")
    assert response.status_code == 422, response.text
    assert [p["field"] for p in response.json()["error"]["problems"]] == fields


def test_members_never_get_a_source_key(client: TestClient, acme: Tenant) -> None:
    model_id = next(e.subject.model_id for e in acme.events if e.subject.model_id)
    some_event = next(e for e in acme.events if e.source is not None)
    paths = [
        EVENTS.format("acme"),
        f"{EVENTS.format('acme')}/{some_event.event_id}",
        f"/api/v1/orgs/acme/models/{model_id}/events",
    ]
    for path in paths:
        member = get(client, acme.access.member, path).json()
        admin = get(client, acme.access.admin, path).json()
        assert "source" not in keys_anywhere(member), path
        assert "source" in keys_anywhere(admin), path
        # The same events, only without the key.
        # Each read's own record (audit_log.read) lands between the two reads and may push the
        # oldest event out of a capped view: compare the events both got.
        member_events = [e for e in member.get("events", [member]) if e["type"] != "read"]
        admin_by_id = {e["id"]: e for e in admin.get("events", [admin]) if e["type"] != "read"}
        shared = [e for e in member_events if e["id"] in admin_by_id]
        assert len(shared) >= len(member_events) - 2, path
        for event in shared:
            assert {k: v for k, v in admin_by_id[event["id"]].items() if k != "source"} == event
    detail = get(client, acme.access.admin, paths[1]).json()
    assert detail["source"]["ip"] == some_event.source.ip  # type: ignore[union-attr]


def test_another_organizations_events_never_appear(
    client: TestClient, acme: Tenant, globex: Tenant
) -> None:
    # Same ids in both logs (the demo generator): only the organization keeps them apart.
    shared_project = next(e.project.id for e in globex.events if e.project)
    for token, tenant in ((acme.access.admin, acme), (globex.access.member, globex)):
        for params in ({}, {"project": shared_project}):
            body = get(client, token, EVENTS.format(tenant.slug), params).json()
            assert {e["organization"] for e in body["events"]} == {tenant.slug}
            ids = {str(e.event_id) for e in tenant.events}
            assert {e["id"] for e in body["events"]} <= ids
    theirs = globex.events[0].event_id
    response = get(client, acme.access.admin, f"{EVENTS.format('acme')}/{theirs}")
    assert response.status_code == 404


def test_another_organization_is_the_same_404_as_a_missing_one(
    client: TestClient, acme: Tenant, globex: Tenant
) -> None:
    for path in ("/events", "/events/" + str(uuid.uuid4()), "/filters", "/models"):
        other = get(client, acme.access.admin, f"/api/v1/orgs/globex{path}")
        missing = get(client, acme.access.admin, f"/api/v1/orgs/initech{path}")
        assert other.status_code == missing.status_code == 404
        assert other.json()["error"]["message"].replace("globex", "X") == (
            missing.json()["error"]["message"].replace("initech", "X")
        )


def test_ingest_credentials_cannot_read(client: TestClient, acme: Tenant) -> None:
    response = get(client, acme.access.ingest, EVENTS.format("acme"))
    assert response.status_code == 403


def test_reading_needs_a_credential(client: TestClient, acme: Tenant) -> None:
    response = client.get(EVENTS.format("acme"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_one_event_by_id(client: TestClient, acme: Tenant) -> None:
    event = acme.events[100]
    body = get(client, acme.access.member, f"{EVENTS.format('acme')}/{event.event_id}").json()
    assert (body["id"], body["seq"], body["type"]) == (str(event.event_id), event.seq, event.type)
    missing = get(client, acme.access.member, f"{EVENTS.format('acme')}/{uuid.uuid4()}")
    assert missing.status_code == 404
    malformed = get(client, acme.access.member, f"{EVENTS.format('acme')}/not-a-uuid")
    assert malformed.status_code == 422
    assert malformed.json()["error"]["problems"][0]["field"] == "event_id"


def test_filter_choices_list_what_the_log_has_seen(client: TestClient, acme: Tenant) -> None:
    body = get(client, acme.access.member, "/api/v1/orgs/acme/filters").json()
    assert {p["id"] for p in body["projects"]} == {e.project.id for e in acme.events if e.project}
    assert {a["id"] for a in body["actors"]} == {e.actor.id for e in acme.events}
    assert {m["id"] for m in body["models"]} == {
        e.subject.model_id for e in acme.events if e.subject.model_id
    }
    assert {v["id"]: v["model"] for v in body["model_versions"]} == {
        e.subject.id: e.subject.model_id for e in acme.events if e.subject.type == "model_version"
    }
    assert "model.rename" in {t["key"] for t in body["types"]}
    assert "audit_log" in {c["key"] for c in body["categories"]}


def model_events(events: list[Event], model_id: str, version: str | None = None) -> list[int]:
    params = [("model", model_id)] + ([("model_version", version)] if version else [])
    return [e.seq for e in brute_force(events, parse_filters(params))]


def test_models_view_api(client: TestClient, acme: Tenant) -> None:
    models = get(client, acme.access.member, "/api/v1/orgs/acme/models").json()["models"]
    expected_models = {e.subject.model_id for e in acme.events if e.subject.model_id}
    assert {m["id"] for m in models} == expected_models
    busiest = max(models, key=lambda m: m["version_count"])
    model_id = busiest["id"]
    detail = get(client, acme.access.member, f"/api/v1/orgs/acme/models/{model_id}").json()
    versions = [v["id"] for v in detail["versions"]]
    assert len(versions) == busiest["version_count"] > 1
    assert set(versions) == {
        e.subject.id
        for e in acme.events
        if e.subject.type == "model_version" and e.subject.model_id == model_id
    }
    latest = max(
        (e for e in acme.events if e.subject.model_id == model_id),
        key=lambda e: (e.occurred_at, e.seq),
    )
    assert detail["project"]["id"] == latest.project.id  # type: ignore[union-attr]

    url = f"/api/v1/orgs/acme/models/{model_id}/events"
    everything = get(client, acme.access.member, url).json()
    assert seqs(everything) == model_events(acme.events, model_id)[:500]
    assert everything["filters"].startswith("model = ")
    one = get(client, acme.access.member, url, {"version": versions[0]}).json()
    assert seqs(one) == model_events(acme.events, model_id, versions[0])
    assert one["count"] > 0
    dated = get(client, acme.access.member, url, {"from": "2026-11-20", "to": "2026-11-22"}).json()
    expected = [
        e.seq
        for e in brute_force(
            acme.events,
            parse_filters([("model", model_id), ("from", "2026-11-20"), ("to", "2026-11-22")]),
        )
    ]
    assert seqs(dated) == expected


def test_models_view_refuses_what_does_not_belong(client: TestClient, acme: Tenant) -> None:
    models = get(client, acme.access.member, "/api/v1/orgs/acme/models").json()["models"]
    with_versions = [m for m in models if m["version_count"]]
    first, second = with_versions[0]["id"], with_versions[1]["id"]
    other_version = get(client, acme.access.member, f"/api/v1/orgs/acme/models/{second}").json()[
        "versions"
    ][0]["id"]
    url = f"/api/v1/orgs/acme/models/{first}/events"
    wrong = get(client, acme.access.member, url, {"version": other_version})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["problems"][0]["field"] == "version"
    extra = get(client, acme.access.member, url, {"actor": "u-ada"})
    assert extra.status_code == 422
    assert extra.json()["error"]["problems"][0]["field"] == "actor"
    for path in ("/models/mdl-nope", "/models/mdl-nope/events"):
        missing = get(client, acme.access.member, f"/api/v1/orgs/acme{path}")
        assert missing.status_code == 404
        assert "no model 'mdl-nope'" in missing.json()["error"]["message"]
