"""Reads through the query API by a credential are recorded, once per credential, route,
filter set and hour (issue 16, finding 2: reads were not recorded at all)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from auditledger.core.errors import Unavailable
from auditledger.services import Services
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.validate import parse_event
from tests.support.databases import NOW
from tests.support.helpers import OrgAccess, make_org, sample_event

SQLITE = pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    access = make_org(services)
    drafts = [parse_event(sample_event(), received_at=NOW) for _ in range(3)]
    services.ingest.ingest_blocking(access.org, drafts, NOW)
    return access


def reads(services: Services, access: OrgAccess) -> list[Any]:
    size = services.log.head(access.org.id).tree_size
    return [
        e
        for e in services.log.events(access.org.id, access.org.slug, 0, size)
        if (e.category, e.type) == ("audit_log", "read")
    ]


@SQLITE
def test_api_reads_are_recorded_coalesced_per_credential_filters_and_hour(
    client: TestClient, services: Services, acme: OrgAccess, clock: FrozenClock
) -> None:
    url = "/api/v1/orgs/acme/events"
    for _ in range(5):
        assert client.get(url, headers=acme.headers(acme.member)).status_code == 200
    (first,) = reads(services, acme)
    assert first.properties["route"] == "GET /events"
    assert first.properties["filters"] == "all events"
    assert first.actor.id.startswith("credential:")
    # Another filter set, another credential: a record each.
    client.get(url, params={"project": "prj-1"}, headers=acme.headers(acme.member))
    client.get(url, headers=acme.headers(acme.admin))
    event_id = first.event_id
    client.get(f"{url}/{event_id}", headers=acme.headers(acme.member))
    client.get("/api/v1/orgs/acme/models/model-1/events", headers=acme.headers(acme.member))
    assert len(reads(services, acme)) == 5
    # The next hour, the same read is recorded again.
    clock.advance(timedelta(hours=1))
    client.get(url, headers=acme.headers(acme.member))
    assert len(reads(services, acme)) == 6


@SQLITE
def test_a_read_whose_record_cannot_be_committed_returns_no_events(
    client: TestClient, services: Services, acme: OrgAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise Unavailable("the database is down", retry_after=2)

    monkeypatch.setattr(services.ingest, "ingest", refuse)
    response = client.get("/api/v1/orgs/acme/events", headers=acme.headers(acme.member))
    assert response.status_code == 503
    assert "events" not in response.json()
