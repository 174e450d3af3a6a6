"""The search (``q``) over HTTP: the events API, the model events API and the CSV export agree,
mistakes are 422 naming ``q``, and members can neither search by nor learn a source."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from auditledger_client.core.event import Event
from tests.support.history import Tenant

EVENTS = "/api/v1/orgs/{}/events"


@pytest.fixture
def database_url(history_database_url: str) -> str:
    """acme and globex, loaded."""
    return history_database_url


def get(client: TestClient, token: str, path: str, params: Any = None) -> Any:
    return client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


def words_of(e: Event) -> set[str]:
    parent = e.subject.parent.name if e.subject.parent else None
    texts = [e.subject.id, e.subject.name, parent, e.project.name if e.project else None]
    texts += [e.actor.id, e.actor.name, *(str(v) for v in e.properties.values())]
    return {w for t in texts if t for w in re.findall(r"[^\W_]+", t.lower())}


def newest(events: list[Event], keep: Any) -> list[int]:
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.seq), reverse=True)
    return [e.seq for e in ordered if keep(e)]


def test_the_api_finds_what_the_events_hold(client: TestClient, acme: Tenant) -> None:
    word = "churn"
    expected = newest(acme.events, lambda e: word in words_of(e))
    assert expected
    response = get(client, acme.access.admin, EVENTS.format("acme"), {"q": word, "limit": 500})
    assert response.status_code == 200, response.text
    body = response.json()
    # The API's own read records (audit_log.read) hold no such word: the answer is exact.
    assert [e["seq"] for e in body["events"]] == expected[:500]
    assert "search 'churn'" in body["filters"]


def test_search_and_filters_combine(client: TestClient, acme: Tenant) -> None:
    actor = next(e.actor for e in acme.events if e.actor.type == "user")
    expected = newest(
        acme.events,
        lambda e: e.actor.id == actor.id and e.category == "model",
    )
    response = get(
        client,
        acme.access.admin,
        EVENTS.format("acme"),
        [("q", f'actor:"{actor.name}"'), ("category", "model")],
    )
    assert response.status_code == 200, response.text
    assert [e["seq"] for e in response.json()["events"]] == expected[:500]


def test_the_model_view_takes_the_search(client: TestClient, acme: Tenant) -> None:
    model_id = next(e.subject.model_id for e in acme.events if e.subject.model_id)
    response = get(
        client,
        acme.access.admin,
        f"/api/v1/orgs/acme/models/{model_id}/events",
        {"q": "type:model_version.tag_change"},
    )
    assert response.status_code == 200, response.text
    expected = newest(
        acme.events,
        lambda e: (
            e.subject.model_id == model_id
            and (e.category, e.type) == ("model_version", "tag_change")
        ),
    )
    assert [e["seq"] for e in response.json()["events"]] == expected[:500]


def test_the_export_holds_exactly_the_search(client: TestClient, acme: Tenant) -> None:
    word = "churn"
    response = get(client, acme.access.admin, "/api/v1/orgs/acme/export.csv", {"q": word})
    assert response.status_code == 200, response.text
    assert "search" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    expected = sorted(newest(acme.events, lambda e: word in words_of(e)))
    assert [int(r["Sequence Number"]) for r in rows] == expected


@pytest.mark.parametrize(
    ("q", "fragment"),
    [
        ('"open', "not closed"),
        ("colour:red", "not a qualifier"),
        ("type:nope", "unknown event type"),
        ("before:soon", "not a date"),
        ("x" * 1001, "at most 1000"),
    ],
)
def test_a_search_mistake_is_422_naming_q(
    client: TestClient, acme: Tenant, q: str, fragment: str
) -> None:
    for path in (EVENTS.format("acme"), "/api/v1/orgs/acme/export.csv"):
        response = get(client, acme.access.admin, path, {"q": q})
        assert response.status_code == 422, (path, response.text)
        problems = response.json()["error"]["problems"]
        assert [p["field"] for p in problems] == ["q"]
        assert fragment in problems[0]["message"]


def test_members_may_not_search_by_source(client: TestClient, acme: Tenant) -> None:
    address = next(e.source.ip for e in acme.events if e.source)
    for path in (EVENTS.format("acme"), "/api/v1/orgs/acme/export.csv"):
        refused = get(client, acme.access.member, path, {"q": f"ip:{address}"})
        assert refused.status_code == 422, refused.text
        assert "administrators" in refused.json()["error"]["problems"][0]["message"]
        assert address not in refused.text
    allowed = get(client, acme.access.admin, EVENTS.format("acme"), {"q": f"ip:{address}"})
    assert allowed.status_code == 200
    expected = newest(acme.events, lambda e: e.source is not None and e.source.ip == address)
    assert [e["seq"] for e in allowed.json()["events"]] == expected[:500]
    # A member's free text never reaches sources: every hit holds the numbers elsewhere.
    member = get(client, acme.access.member, EVENTS.format("acme"), {"q": f'"{address}"'})
    assert member.status_code == 200
    numbers = set(address.split("."))
    by_seq = {e.seq: e for e in acme.events}
    history = [f for f in member.json()["events"] if f["category"] != "audit_log"]
    for found in history:
        assert numbers <= words_of(by_seq[found["seq"]])


def test_an_administrators_source_filters_never_reach_members_through_the_log(
    client: TestClient, acme: Tenant
) -> None:
    """Reads and exports are recorded in the log's own events, with their filters in words;
    members read those events, so an address an administrator filtered or searched by is
    written there as "(hidden)"."""
    address = next(e.source.ip for e in acme.events if e.source)
    admin = acme.access.admin
    reads = [
        (EVENTS.format("acme"), {"ip": address}),
        (EVENTS.format("acme"), {"q": f"churn ip:{address}"}),
        (EVENTS.format("acme"), {"q": f'ip:"{address}" churn'}),
        ("/api/v1/orgs/acme/export.csv", {"ip": address}),
        ("/api/v1/orgs/acme/export.csv", {"q": f"ip:{address}"}),
    ]
    for path, params in reads:
        assert get(client, admin, path, params).status_code == 200, (path, params)
    own = get(client, acme.access.member, EVENTS.format("acme"), {"category": "audit_log"})
    assert own.status_code == 200, own.text
    recorded = [e["properties"]["filters"] for e in own.json()["events"]]
    assert any("ip = (hidden)" in text for text in recorded), recorded
    assert any("ip:(hidden)" in text for text in recorded), recorded
    assert address not in own.text
