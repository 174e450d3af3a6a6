"""The smaller findings of issue 16 (finding 6), one test each: invisible characters shown,
the checkpoint metric, the Allow header. (Ids with "/" and sub-microsecond timestamps are in
test_hostile_bodies.py.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from auditledger.services import Services
from auditledger.tenancy.model import Role
from auditledger.web.app import create_app
from auditledger.web.pages.visible import visible
from auditledger_client.core.validate import parse_event
from tests.support.databases import NOW
from tests.support.helpers import OrgAccess, make_org, sample_event

SQLITE = pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
PASSWORD = "violet kettle harbour"


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    return make_org(services)


@SQLITE
def test_bidi_and_control_characters_are_shown_not_obeyed(
    services: Services, acme: OrgAccess
) -> None:
    # admin\u202egnp.exe was printed verbatim and rendered reversed, as "adminexe.png".
    event = sample_event(subject={"id": "mdl-1", "name": "admin\u202egnp.exe"})
    event["actor"]["name"] = "eve\u200f\x07"
    services.ingest.ingest_blocking(acme.org, [parse_event(event, received_at=NOW)], NOW)
    user = services.tenancy.create_user("ada@acme.example", "Ada", PASSWORD)
    services.tenancy.add_member(acme.org, user, Role.ADMIN)
    session = services.tenancy.sign_in("ada@acme.example", PASSWORD)
    with TestClient(create_app(services, manage_services=False)) as client:
        client.cookies.set("auditledger_session", session.token)
        page = client.get("/orgs/acme", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "\u202e" not in page.text
    assert "\u200f" not in page.text
    assert "admin⟨U+202E⟩gnp.exe" in page.text
    assert "eve⟨U+200F⟩⟨U+0007⟩" in page.text
    assert "<bdi>admin⟨U+202E⟩gnp.exe" in page.text


def test_visible_leaves_ordinary_text_alone() -> None:
    for text in ("plain", "שלום עולם", "emoji 🚀", "tab\tand\nline"):
        assert visible(text) == text
    assert visible(3) == 3


@SQLITE
def test_the_checkpoint_metric_counts_signed_checkpoints(
    services: Services, acme: OrgAccess
) -> None:
    # auditledger_checkpoints_signed_total stayed 0 while checkpoints were signed.
    services.checkpoints.ensure_key()
    services.ingest.ingest_blocking(acme.org, [parse_event(sample_event(), received_at=NOW)], NOW)
    services.checkpoints.checkpoint(acme.org.id, acme.org.slug)
    services.checkpoints.checkpoint(acme.org.id, acme.org.slug)  # unchanged: not re-signed
    with TestClient(create_app(services, manage_services=False)) as client:
        metrics = client.get("/metrics").text
    assert "auditledger_checkpoints_signed_total 1.0" in metrics


@SQLITE
@pytest.mark.parametrize("method", ["OPTIONS", "DELETE", "PUT"])
def test_the_allow_header_names_every_method_of_the_path(
    client: TestClient, acme: OrgAccess, method: str
) -> None:
    # OPTIONS on /events answered 405 with "Allow: POST" although GET works too.
    response = client.request(method, "/api/v1/orgs/acme/events", headers=acme.headers(acme.admin))
    assert response.status_code == (204 if method == "OPTIONS" else 405)
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "POST", "OPTIONS"} <= allowed
    assert method == "OPTIONS" or method not in allowed
