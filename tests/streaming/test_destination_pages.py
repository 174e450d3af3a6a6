"""The Destinations pages over HTTP (no browser): administrators manage destinations with plain
forms; members and other organizations cannot see or reach them; secrets never come back."""

from __future__ import annotations

import html
import json
import re

import pytest
from prometheus_client import generate_latest

from auditledger.services import Services
from auditledger.streaming.model import State
from auditledger.tenancy.model import Role, User
from auditledger_client.core.event import Actor
from tests.support.helpers import OrgAccess, make_org
from tests.support.history import PASSWORD
from tests.support.pages import browser, csrf_token, signed_in
from tests.support.receivers import WebhookReceiver
from tests.support.streams import drain, record

HMAC = "hmac-key-that-never-comes-back-7f3a"
TOKEN = "bearer-token-that-never-comes-back-91c2"
LIST = "/orgs/acme/destinations"


@pytest.fixture
def people(stream_services: Services, acme: OrgAccess) -> dict[str, User]:
    """acme's administrator and member, who sign in with :data:`PASSWORD`."""
    tenancy = stream_services.tenancy
    found = {}
    for role in Role:
        user = tenancy.create_user(f"{role.value}@acme.example", f"Acme {role.value}", PASSWORD)
        tenancy.add_member(acme.org, user, role)
        found[role.value] = user
    return found


def _create_form(token: str, receiver_url: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "name": "siem",
        "transport": "webhook",
        "webhook.url": receiver_url,
        "webhook.format": "json",
        "webhook.secret.hmac_key": HMAC,
        "webhook.secret.token": "",
        "syslog.host": "",
        "syslog.port": "",
        "syslog.tls_verify": "on",
        "nats.url": "",
        "filter.category": "model",
        "filter.project": "",
        "start": "seq",
        "start_seq": "0",
        "include_source": "on",
    }
    form.update(changes)
    return form


def _row(page: str, destination_id: str) -> str:
    found = re.search(rf'<tr data-destination="{destination_id}">(.*?)</tr>', page, re.S)
    assert found, "no row for the destination"
    return found.group(1)


def _cell(row: str, name: str) -> str:
    found = re.search(rf'<td class="[^"]*\b{name}\b[^"]*">(.*?)</td>', row, re.S)
    assert found, f"no {name} cell"
    return re.sub(r"<[^>]+>", " ", found.group(1)).split()[0]


@pytest.mark.slow
def test_an_administrator_manages_a_destination_through_the_pages(
    stream_services: Services,
    acme: OrgAccess,
    people: dict[str, User],
    receiver: WebhookReceiver,
) -> None:
    record(stream_services, acme.org, 6, cat="model", typ="rename")
    record(stream_services, acme.org, 3, cat="dataset", typ="create")
    svc = stream_services.destinations
    with browser(stream_services) as client:
        signed_in(client, people["admin"].username)
        empty = client.get(LIST)
        assert empty.status_code == 200
        assert "No destinations yet." in empty.text
        assert 'href="/orgs/acme/destinations" aria-current="page">Destinations' in empty.text
        form = client.get(f"{LIST}/new")
        assert form.status_code == 200
        created = client.post(LIST, data=_create_form(csrf_token(form.text), receiver.url))
        assert created.status_code == 303, created.text
        assert created.headers["location"] == f"{LIST}?done=created"
        destination = svc.get(acme.org, "siem")
        assert destination.next_seq == 0
        assert destination.include_source
        assert destination.secrets == {"hmac_key": HMAC}
        assert destination.filters == (("category", "model"),)
        assert destination.settings == {"url": receiver.url}  # json is the default: not stored

        listing = client.get(created.headers["location"]).text
        row = _row(listing, str(destination.id))
        assert "Destination created." in listing
        assert _cell(row, "delivered") == "0"
        # 6 model events of 10 recorded (the destination_create event is audit_log).
        assert _cell(row, "lag-events") == "6"
        assert "active" in row

        drain(stream_services.make_deliverer())
        assert [r["seq"] for r in receiver.events()] == list(range(6))
        row = _row(client.get(LIST).text, str(destination.id))
        assert _cell(row, "delivered") == "6"
        assert _cell(row, "lag-events") == "0"

        # Edit: a new name and a new token; the empty HMAC field keeps the stored key.
        page = client.get(f"{LIST}/{destination.id}")
        assert page.status_code == 200
        assert "Set — leave empty to keep it" in page.text
        edit = {
            "csrf_token": csrf_token(page.text),
            "name": "siem-2",
            "webhook.url": receiver.url,
            "webhook.format": "json",
            "webhook.secret.hmac_key": "",
            "webhook.secret.token": TOKEN,
            "filter.category": "model, dataset",
            "include_source": "on",
        }
        saved = client.post(f"{LIST}/{destination.id}", data=edit)
        assert saved.status_code == 303, saved.text
        assert saved.headers["location"] == f"{LIST}?done=changed"
        changed = svc.get(acme.org, destination.id)
        assert changed.name == "siem-2"
        assert changed.secrets == {"hmac_key": HMAC, "token": TOKEN}
        assert changed.filters == (("category", "model"), ("category", "dataset"))
        again = client.post(f"{LIST}/{destination.id}", data=edit | {"webhook.secret.token": ""})
        assert again.headers["location"] == f"{LIST}?done=unchanged"

        token = csrf_token(client.get(LIST).text)
        paused = client.post(f"{LIST}/{destination.id}/pause", data={"csrf_token": token})
        assert paused.status_code == 303
        assert svc.get(acme.org, destination.id).state is State.PAUSED
        assert "Resume siem-2" in client.get(LIST).text
        client.post(f"{LIST}/{destination.id}/resume", data={"csrf_token": token})
        assert svc.get(acme.org, destination.id).state is State.ACTIVE

        # A dead letter is shown as such, with its error, and offers a retry.
        svc.repo.change(
            destination.id, state=State.DEAD.value, attempts=8, last_error="webhook answered 503"
        )
        row = _row(client.get(LIST).text, str(destination.id))
        assert "dead letter" in row
        assert "webhook answered 503" in row
        assert "Retry siem-2" in row
        retried = client.post(f"{LIST}/{destination.id}/retry", data={"csrf_token": token})
        assert retried.headers["location"] == f"{LIST}?done=retry"
        after = svc.get(acme.org, destination.id)
        assert (after.state, after.attempts, after.next_attempt_at) == (State.ACTIVE, 0, None)

        pages = [client.get(LIST).text, client.get(f"{LIST}/{destination.id}").text]
        unconfirmed = client.post(f"{LIST}/{destination.id}/delete", data={"csrf_token": token})
        assert unconfirmed.status_code == 422
        assert "confirm" in unconfirmed.text
        deleted = client.post(
            f"{LIST}/{destination.id}/delete", data={"csrf_token": token, "confirm": "on"}
        )
        assert deleted.headers["location"] == f"{LIST}?done=deleted"
        assert client.get(f"{LIST}/{destination.id}").status_code == 404
    for text in [*pages, listing, page.text]:
        assert HMAC not in text
        assert TOKEN not in text
    metrics = generate_latest(stream_services.metrics.registry).decode()
    assert HMAC not in metrics
    assert TOKEN not in metrics
    size = stream_services.log.head(acme.org.id).tree_size
    own = list(stream_services.log.events(acme.org.id, "acme", 0, size))
    recorded = [e.type for e in own if e.type.startswith("destination_")]
    assert recorded == [
        "destination_create",
        "destination_change",
        "destination_pause",
        "destination_resume",
        "destination_resume",
        "destination_delete",
    ]
    changes = next(e for e in own if e.type == "destination_change")
    assert changes.properties["changed"] == ["filters", "name", "secrets.token"]
    everything = json.dumps([e.properties for e in own])
    assert HMAC not in everything
    assert TOKEN not in everything


@pytest.mark.slow
def test_members_other_organizations_and_forged_forms_cannot_reach_destinations(
    stream_services: Services,
    acme: OrgAccess,
    people: dict[str, User],
    receiver: WebhookReceiver,
) -> None:
    destination = stream_services.destinations.create(
        acme.org,
        name="siem",
        transport="webhook",
        settings={"url": receiver.url},
        secrets={"hmac_key": HMAC},
        actor=Actor("user", "auditledger-user:test", "Test"),
    )
    one = f"{LIST}/{destination.id}"
    globex = make_org(stream_services, "globex")
    neighbour = stream_services.tenancy.create_user("admin@globex.example", "G admin", PASSWORD)
    stream_services.tenancy.add_member(globex.org, neighbour, Role.ADMIN)
    with browser(stream_services) as anonymous:
        assert anonymous.get(LIST).status_code == 303  # to the sign-in page
        assert anonymous.post(f"{one}/pause", data={"csrf_token": "x"}).status_code == 303
    with browser(stream_services) as member:
        signed_in(member, people["member"].username)
        audit_log = member.get("/orgs/acme/audit-log").text
        assert "/destinations" not in audit_log  # no tab
        token = csrf_token(audit_log)
        for path in (LIST, f"{LIST}/new", one):
            assert member.get(path).status_code == 403, path
        for path in (LIST, one, f"{one}/pause", f"{one}/delete"):
            refused = member.post(path, data={"csrf_token": token, "confirm": "on", "name": "x"})
            assert refused.status_code == 403, path
            assert HMAC not in refused.text
    with browser(stream_services) as other:
        signed_in(other, neighbour.username)
        token = csrf_token(other.get("/orgs/globex/audit-log").text)
        assert other.get(LIST).status_code == 404
        assert other.get(one).status_code == 404
        assert other.post(f"{one}/pause", data={"csrf_token": token}).status_code == 404
        # Its own organization cannot name acme's destination either.
        assert other.get(f"/orgs/globex/destinations/{destination.id}").status_code == 404
    with browser(stream_services) as admin:
        signed_in(admin, people["admin"].username)
        forged = admin.post(f"{one}/pause", data={"csrf_token": "not-the-token"})
        assert forged.status_code == 403
        missing = admin.post(f"{one}/delete", data={"confirm": "on"})
        assert missing.status_code == 403
        assert admin.post(f"{one}/explode", data={"csrf_token": "x"}).status_code == 404
    after = stream_services.destinations.get(acme.org, destination.id)
    assert after.state is State.ACTIVE
    assert after.name == "siem"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"webhook.url": "ftp://127.0.0.1/"}, "webhook.url", "http:// or https://"),
        ({"webhook.url": "http://10.1.2.3/in"}, "webhook.url", "outside the networks"),
        ({"transport": "pigeon"}, "transport", "must be one of"),
        ({"name": ""}, "name", "printable characters"),
        ({"filter.category": "nope"}, "filter.category", "category"),
        ({"start_seq": "x"}, "start_seq", "sequence number"),
        ({"start_seq": "999"}, "start_seq", "between 0 and"),
        (
            {"transport": "syslog", "syslog.host": "127.0.0.1", "syslog.port": "abc"},
            "syslog.port",
            "integer from 1 to 65535",
        ),
        (
            {
                "transport": "syslog",
                "syslog.host": "127.0.0.1",
                "syslog.port": "6514",
                "syslog.tls": "on",
                "syslog.tls_ca": "not a certificate",
            },
            "syslog.tls_ca",
            "not PEM certificates",
        ),
    ],
)
def test_a_refused_form_comes_back_filled_in_naming_the_field(
    stream_services: Services,
    acme: OrgAccess,
    people: dict[str, User],
    receiver: WebhookReceiver,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    with browser(stream_services) as client:
        signed_in(client, people["admin"].username)
        token = csrf_token(client.get(f"{LIST}/new").text)
        form = _create_form(token, receiver.url, **changes)
        refused = client.post(LIST, data=form)
    assert refused.status_code == 422, refused.text
    text = html.unescape(refused.text)
    assert message in text
    field_id = "d-" + field.replace(".", "-").replace("_", "-")
    assert re.search(rf'id="{field_id}[^"]*"[^>]*aria-invalid="true"', refused.text), field_id
    assert f'value="{html.escape(form["webhook.url"])}"' in refused.text  # kept as typed
    assert HMAC not in refused.text  # a secret is never sent back, even to its author
    assert stream_services.destinations.list(acme.org) == []


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_saving_the_edit_page_unchanged_keeps_filters_it_does_not_show(
    stream_services: Services,
    acme: OrgAccess,
    people: dict[str, User],
    receiver: WebhookReceiver,
) -> None:
    """A destination made through the API with an IP filter (which the page does not offer)
    and its filters in another order than the form's: saving its page unchanged changes
    nothing and records no change."""
    svc = stream_services.destinations
    made = svc.create(
        acme.org,
        name="api-made",
        transport="webhook",
        settings={"url": receiver.url},
        filters=[("type", "model.rename"), ("ip", "193.166.3.7"), ("category", "model")],
        include_source=True,
        actor=Actor("user", "auditledger-user:root", "Root"),
    )
    with browser(stream_services) as client:
        signed_in(client, people["admin"].username)
        page = client.get(f"{LIST}/{made.id}")
        assert page.status_code == 200
        edit = {
            "csrf_token": csrf_token(page.text),
            "name": "api-made",
            "webhook.url": receiver.url,
            "webhook.format": "json",
            "filter.category": "model",
            "filter.type": "model.rename",
            "include_source": "on",
        }
        saved = client.post(f"{LIST}/{made.id}", data=edit)
        assert saved.status_code == 303, saved.text
        assert saved.headers["location"] == f"{LIST}?done=unchanged"
    kept = svc.get(acme.org, "api-made")
    assert sorted(kept.filters) == sorted(made.filters)
    size = stream_services.log.head(acme.org.id).tree_size
    own = stream_services.log.events(acme.org.id, "acme", 0, size)
    assert "destination_change" not in [e.type for e in own]
