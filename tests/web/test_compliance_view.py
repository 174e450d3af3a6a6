"""The audit log as a compliance officer reads it (issue 17): one actor per person, current
names with earlier ones kept, natural version order, readable summaries and values, error
pages that keep the header, and an export named after what it holds."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from auditledger.events.render import describe_properties
from auditledger.query.filters import parse_filters
from auditledger.services import Services
from auditledger_client.core.event import Actor, Event, Ref, Subject
from tests.support import databases as base
from tests.support.history import Tenant, make_tenant
from tests.support.pages import browser, csrf_token, signed_in


@pytest.fixture
def acme(services: Services) -> Tenant:
    """A small organization (two days of history) with an admin and a member."""
    return make_tenant(services, "acme", days=2, seed=7, scale=0.3)


def send(services: Services, tenant: Tenant, events: list[dict[str, Any]]) -> None:
    """Ingest wire-format events through the API, as the platform would."""
    with browser(services) as client:
        for event in events:
            response = client.post(
                f"/api/v1/orgs/{tenant.slug}/events",
                json=event,
                headers=tenant.access.headers(tenant.access.ingest),
            )
            assert response.status_code == 201, response.text


def model_event(
    type_: str,
    subject: dict[str, Any],
    at: datetime,
    properties: dict[str, Any] | None = None,
    category: str = "model",
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "timestamp": at.isoformat(),
        "category": category,
        "type": type_,
        "subject": subject,
        "properties": properties or {},
        "project": {"id": "prj-ledger", "name": "ledger"},
        "actor": {"type": "user", "id": "u-ada", "name": "Ada Okafor"},
    }


def options(page: str, select_id: str) -> list[tuple[str, str]]:
    """(value, label) of each option of one select, in page order."""
    found = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert found, f"no select {select_id}"
    return [
        (html.unescape(v), html.unescape(label))
        for v, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', found[1])
        if v
    ]


@pytest.mark.slow
def test_one_person_is_one_actor_in_sign_ins_exports_and_filters(
    services: Services, acme: Tenant
) -> None:
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        page = client.get("/orgs/acme/audit-log")
        assert client.get("/api/v1/orgs/acme/export.csv").status_code == 200
        client.post("/sign-out", data={"csrf_token": csrf_token(page.text)})
    size = services.log.head(acme.org.id).tree_size
    own = [
        e for e in services.log.events(acme.org.id, acme.slug, 0, size) if e.category == "audit_log"
    ]
    assert [e.type for e in own] == ["sign_in", "export", "sign_out"]
    assert {e.actor.id for e in own} == {acme.admin.actor_id}
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        actors = options(client.get("/orgs/acme/audit-log").text, "f-actor")
    names = [label for _, label in actors]
    assert names.count(acme.admin.display_name) == 1
    assert len(names) == len(set(names))


@pytest.mark.slow
def test_a_renamed_model_is_listed_headed_and_filtered_by_its_current_name(
    services: Services, acme: Tenant
) -> None:
    t0 = base.NOW - timedelta(hours=3)
    model = {"id": "mdl-ledger", "name": "before-ledger"}
    version = {
        "id": "mdl-ledger-v1",
        "name": "before-ledger v1",
        "parent": {"id": "mdl-ledger", "name": "before-ledger"},
    }
    send(
        services,
        acme,
        [
            model_event("create", model, t0, {"model_name": "before-ledger"}),
            model_event("create", version, t0 + timedelta(minutes=1), category="model_version"),
            model_event(
                "rename",
                model,
                t0 + timedelta(minutes=2),
                {"old_name": "before-ledger", "new_name": "middle-ledger"},
            ),
            model_event(
                "rename",
                {**model, "name": "middle-ledger"},
                t0 + timedelta(minutes=3),
                {"old_name": "middle-ledger", "new_name": "after-ledger"},
            ),
        ],
    )
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        listing = client.get("/orgs/acme/models").text
        page = client.get("/orgs/acme/models/mdl-ledger").text
        view = client.get("/orgs/acme/audit-log", params={"model": "mdl-ledger"}).text
        api = client.get("/api/v1/orgs/acme/models/mdl-ledger").json()
    assert "after-ledger" in listing
    assert "before-ledger" not in listing
    assert "<h1>after-ledger</h1>" in page
    assert re.search(r"Earlier names</dt><dd>.*before-ledger.*middle-ledger", page)
    assert ("mdl-ledger", "after-ledger") in options(view, "f-model")
    assert "model = after-ledger" in view
    assert api["name"] == "after-ledger"
    assert api["earlier_names"] == ["before-ledger", "middle-ledger"]
    # Inside each event the name stays what it was when the event happened.
    assert "before-ledger v1" in view
    assert "before-ledger -&gt; middle-ledger" in view


@pytest.mark.slow
def test_a_models_current_name_in_the_address_leads_to_its_page_by_id(
    services: Services, acme: Tenant
) -> None:
    t0 = base.NOW - timedelta(hours=3)
    renamed = {"id": "mdl-ledger", "name": "before-ledger"}
    send(
        services,
        acme,
        [
            model_event("create", renamed, t0, {"model_name": "before-ledger"}),
            model_event(
                "rename",
                renamed,
                t0 + timedelta(minutes=1),
                {"old_name": "before-ledger", "new_name": "after-ledger"},
            ),
            # Two models that share a name: the name leads to neither.
            model_event("create", {"id": "mdl-a", "name": "twin"}, t0, {"model_name": "twin"}),
            model_event("create", {"id": "mdl-b", "name": "twin"}, t0, {"model_name": "twin"}),
        ],
    )
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        by_name = client.get(
            "/orgs/acme/models/after-ledger", params={"from": "2020-01-01"}, follow_redirects=False
        )
        former = client.get("/orgs/acme/models/before-ledger", follow_redirects=False)
        twin = client.get("/orgs/acme/models/twin", follow_redirects=False)
        unknown = client.get("/orgs/acme/models/no-such-model", follow_redirects=False)
    assert by_name.status_code == 307
    assert by_name.headers["location"] == "/orgs/acme/models/mdl-ledger?from=2020-01-01"
    # An earlier name may belong to another model by now: only the current name leads.
    assert former.status_code == 404
    assert twin.status_code == 404
    assert unknown.status_code == 404


@pytest.mark.slow
def test_model_versions_are_ordered_by_number(services: Services, acme: Tenant) -> None:
    t0 = base.NOW - timedelta(hours=2)
    parent = {"id": "mdl-counting", "name": "counting"}
    order = [3, 10, 1, 9, 2, 11, 8]
    send(
        services,
        acme,
        [
            model_event(
                "create",
                {"id": f"mdl-counting-v{n}", "name": f"counting v{n}", "parent": parent},
                t0 + timedelta(minutes=i),
                category="model_version",
            )
            for i, n in enumerate(order)
        ],
    )
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        page = client.get("/orgs/acme/models/mdl-counting").text
        view = client.get("/orgs/acme/audit-log", params={"model": "mdl-counting"}).text
    expected = [f"counting v{n}" for n in sorted(order)]
    assert [label for _, label in options(page, "f-version")] == expected
    assert [label for _, label in options(view, "f-version")] == expected


def test_the_filter_summary_names_categories_types_and_actors_as_people_read_them(
    services: Services, acme: Tenant
) -> None:
    actor = acme.events[0].actor
    params = {"category": "model", "type": "model.rename", "actor": actor.id}
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        page = client.get("/orgs/acme/audit-log", params=params).text
    summary = re.search(r"class=\"filter-description\">(.*?)</span>", page, re.S)
    text = html.unescape(summary[1]) if summary else html.unescape(page)
    assert "category = Model" in text
    assert "type = Model: Rename" in text
    assert f"actor = {actor.name}" in text
    assert "model.rename" not in text
    assert "category = model" not in text


def test_an_export_is_named_after_its_model_or_project(services: Services, acme: Tenant) -> None:
    model_id = next(e.subject.model_id for e in acme.events if e.subject.model_id)
    project_id = next(e.project.id for e in acme.events if e.project)
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        by_model = client.get("/api/v1/orgs/acme/export.csv", params={"model": model_id})
        by_project = client.get(
            "/api/v1/orgs/acme/export.csv", params={"project": project_id, "from": "2026-11-01"}
        )
        everything = client.get("/api/v1/orgs/acme/export.csv")
    assert f"auditledger-acme-model-{model_id}-all.csv" in by_model.headers["content-disposition"]
    assert (
        f"auditledger-acme-project-{project_id}-2026-11-01-to-now.csv"
        in by_project.headers["content-disposition"]
    )
    assert "auditledger-acme-all.csv" in everything.headers["content-disposition"]


def test_a_signed_in_persons_404_page_keeps_the_header(services: Services, acme: Tenant) -> None:
    with browser(services) as client:
        signed_in(client, acme.member.username)
        missing_model = client.get("/orgs/acme/models/mdl-nope")
        missing_page = client.get("/no/such/page")
        other_org = client.get("/orgs/globex/audit-log")
    for response in (missing_model, missing_page, other_org):
        assert response.status_code == 404
        assert acme.member.display_name in response.text
        assert 'action="/sign-out"' in response.text
    assert 'href="/orgs/acme/models"' in missing_model.text  # the organization's tabs
    assert "/orgs/globex/models" not in other_org.text
    with browser(services) as anonymous:
        assert 'action="/sign-out"' not in anonymous.get("/no/such/page").text


def _own(type_: str, properties: dict[str, Any]) -> Event:
    return Event(
        org="acme",
        seq=0,
        event_id=uuid.uuid4(),
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
        received_at=datetime(2026, 11, 1, tzinfo=UTC),
        category="audit_log",
        type=type_,
        subject=Subject("audit_log", "acme", "acme"),
        properties=properties,
        project=Ref("p", "p"),
        actor=Actor("system", "retention", "auditledger retention"),
        source=None,
    )


def test_property_values_read_as_words_and_dates() -> None:
    purge = describe_properties(
        _own("purge", {"count": 3, "cutoff": "2026-06-04T00:00:00.000000Z", "days": 180})
    )
    refused = describe_properties(
        _own("sign_in_failure", {"reason": "bad_credentials", "username": "x"})
    )
    assert "Cutoff: 2026-06-04 00:00 UTC" in purge
    assert "T00:00:00" not in purge
    assert "Reason: Wrong username or password" in refused
    assert "bad_credentials" not in refused
    with_seconds = describe_properties(_own("purge", {"cutoff": "2026-06-04T10:11:12.000000Z"}))
    assert "2026-06-04 10:11:12 UTC" in with_seconds


def test_the_filter_description_is_built_from_the_parsed_filter() -> None:
    flt = parse_filters([("category", "audit_log"), ("type", "sign_in")])
    assert flt.describe() == "category = Audit log, type = Audit log: Sign in"


def test_every_row_links_to_its_event_page_with_record_and_proof(
    services: Services, acme: Tenant
) -> None:
    services.checkpoints.ensure_key()
    services.checkpoints.checkpoint(acme.org.id, acme.slug)
    event = next(e for e in reversed(acme.events) if e.source is not None)
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        listing = client.get("/orgs/acme/audit-log").text
        page = client.get(f"/orgs/acme/events/{event.event_id}")
        proof = client.get(
            "/api/v1/orgs/acme/proofs/inclusion", params={"event_id": str(event.event_id)}
        ).json()
    assert f'href="/orgs/acme/events/{event.event_id}"' in listing
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert f'data-leaf-hash="{proof["leaf_hash"]}"' in text
    assert f'data-proof="{" ".join(proof["proof"])}"' in text
    assert f'data-tree-size="{proof["tree_size"]}"' in text
    assert event.source is not None
    assert event.source.ip in text  # administrators see the source and the canonical bytes
    assert '"v":1' in text
    assert "auditledger verify-bundle" in text  # what to do without JavaScript
    assert '<script src="/static/verify-event.js' in page.text


@pytest.mark.slow
def test_a_member_s_event_page_holds_no_source(services: Services, acme: Tenant) -> None:
    services.checkpoints.ensure_key()
    services.checkpoints.checkpoint(acme.org.id, acme.slug)
    with_source = [e for e in acme.events if e.source is not None][-20:]
    with browser(services) as client:
        signed_in(client, acme.member.username)
        pages = [client.get(f"/orgs/acme/events/{e.event_id}") for e in with_source]
    for event, page in zip(with_source, pages, strict=True):
        assert page.status_code == 200
        assert event.source is not None
        assert event.source.ip not in page.text
        assert 'data-canonical=""' in page.text
        assert "Source" not in re.sub(r"<[^>]+>", " ", page.text).split("Integrity")[0]


@pytest.mark.slow
def test_an_event_page_for_an_unknown_or_foreign_event_is_a_404(
    services: Services, acme: Tenant
) -> None:
    with browser(services) as client:
        signed_in(client, acme.member.username)
        unknown = client.get(f"/orgs/acme/events/{uuid.uuid4()}")
        garbage = client.get("/orgs/acme/events/not-a-uuid")
        foreign = client.get(f"/orgs/globex/events/{acme.events[0].event_id}")
    assert unknown.status_code == garbage.status_code == foreign.status_code == 404


@pytest.mark.slow
def test_an_event_newer_than_the_latest_checkpoint_says_so(
    services: Services, acme: Tenant
) -> None:
    # No checkpoint was signed in this test: nothing proves the event yet.
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        page = client.get(f"/orgs/acme/events/{acme.events[-1].event_id}").text
    assert "not yet covered by a signed checkpoint" in page
    assert "data-tree-size" not in page


def _row_ids(page: str) -> list[str]:
    return re.findall(r'<tr data-event="([0-9a-f-]{36})">', page)


def _newest(events: list[Event], keep: Any) -> list[str]:
    chosen = [e for e in events if keep(e)]
    chosen.sort(key=lambda e: (e.occurred_at, e.seq), reverse=True)
    return [str(e.event_id) for e in chosen[:500]]


@pytest.mark.slow
def test_several_values_per_filter_in_the_form(services: Services, acme: Tenant) -> None:
    actors = sorted({e.actor.id for e in acme.events})[:2]
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        one = client.get("/orgs/acme/audit-log", params={"actor": actors[0]}).text
        two = client.get("/orgs/acme/audit-log", params=[("actor", a) for a in actors]).text
    # After one value, the form offers another ("or"); after two, a third.
    assert list(re.findall(r'<select id="(f-actor[^"]*)"', one)) == ["f-actor", "f-actor-2"]
    assert re.findall(r'<select id="(f-actor[^"]*)"', two) == ["f-actor", "f-actor-2", "f-actor-3"]
    assert '<label for="f-actor-2">Or actor</label>' in one
    assert _row_ids(two) == _newest(acme.events, lambda e: e.actor.id in actors)
    for actor in actors:
        assert re.search(rf'<option value="{re.escape(actor)}" selected>', two)


@pytest.mark.slow
def test_date_presets_link_to_the_same_filter_over_the_last_days(
    services: Services, acme: Tenant
) -> None:
    project = next(e.project.id for e in acme.events if e.project)
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        page = client.get("/orgs/acme/audit-log", params={"project": project}).text
        links = {
            label: html.unescape(href)
            for href, label in re.findall(
                r'<a class="button preset" href="([^"]+)"[^>]*>([^<]+)<', page
            )
        }
        assert set(links) == {"24 h", "7 d", "30 d", "90 d"}
        week = client.get(links["7 d"]).text
        day = client.get(links["24 h"]).text
    assert f"project={project}" in links["7 d"]
    start = (base.NOW.date() - timedelta(days=6)).isoformat()  # today and the 6 days before
    assert f"from={start}" in links["7 d"]
    assert "from=" + (base.NOW - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ") in links[
        "24 h"
    ].replace("%3A", ":")
    since = datetime.combine(date.fromisoformat(start), datetime.min.time(), tzinfo=UTC)
    assert _row_ids(week) == _newest(
        acme.events,
        lambda e: e.project is not None and e.project.id == project and e.occurred_at >= since,
    )
    cutoff = base.NOW - timedelta(hours=24)
    assert _row_ids(day) == _newest(
        acme.events,
        lambda e: e.project is not None and e.project.id == project and e.occurred_at >= cutoff,
    )
    assert 'aria-current="true">7 d<' in week


@pytest.mark.slow
def test_administrators_filter_by_source_address_and_members_cannot(
    services: Services, acme: Tenant
) -> None:
    ip = next(e.source.ip for e in acme.events if e.source)
    prefix = ip.rsplit(".", 1)[0] + ".*"
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        exact = client.get("/orgs/acme/audit-log", params={"ip": ip}).text
        wide = client.get("/orgs/acme/audit-log", params={"ip": prefix})
        bad = client.get("/orgs/acme/audit-log", params={"ip": "not-an-ip"})
        assert 'id="f-ip"' in exact
    assert _row_ids(exact) == _newest(acme.events, lambda e: e.source and e.source.ip == ip)
    assert _row_ids(wide.text) == _newest(
        acme.events, lambda e: e.source and e.source.ip.startswith(prefix[:-1])
    )
    assert bad.status_code == 422
    assert "<strong>ip</strong>" in bad.text
    with browser(services) as client:
        signed_in(client, acme.member.username)
        form = client.get("/orgs/acme/audit-log").text
        page = client.get("/orgs/acme/audit-log", params={"ip": ip})
        api = client.get("/api/v1/orgs/acme/events", params={"ip": ip})
        export = client.get("/api/v1/orgs/acme/export.csv", params={"ip": ip})
    assert 'id="f-ip"' not in form
    for response in (page, api, export):
        assert response.status_code == 422
        assert ip not in response.text
    assert api.json()["error"]["problems"][0]["field"] == "ip"
    # A read credential of a member cannot either.
    with browser(services) as script:
        refused = script.get(
            "/api/v1/orgs/acme/events",
            params={"ip": prefix},
            headers=acme.access.headers(acme.access.member),
        )
        allowed = script.get(
            "/api/v1/orgs/acme/events",
            params={"ip": prefix},
            headers=acme.access.headers(acme.access.admin),
        )
    assert refused.status_code == 422
    assert allowed.status_code == 200
    assert {e["source"]["ip"][: len(prefix) - 1] for e in allowed.json()["events"]} == {prefix[:-1]}


def _bars(page: str) -> list[tuple[str, str]]:
    """(href, label) of each histogram bar."""
    return [
        (html.unescape(href), html.unescape(label))
        for href, label in re.findall(r'<a href="([^"]+)" aria-label="([^"]+)"><title>', page)
    ]


@pytest.mark.parametrize("zone", ["UTC", "America/St_Johns"])
def test_the_histogram_counts_matching_events_per_local_day(
    services: Services, acme: Tenant, zone: str
) -> None:
    category = "model_version"
    start, end = "2026-11-18", "2026-11-25"
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        page = client.get(
            "/orgs/acme/audit-log",
            params={"category": category, "from": start, "to": end, "tz": zone},
        ).text
        bars = _bars(page)
        narrowed = client.get(bars[-1][0]).text
    tz = ZoneInfo(zone)
    days = [date.fromisoformat(start) + timedelta(days=i) for i in range(8)]
    expected = [
        sum(
            1
            for e in acme.events
            if e.category == category and e.occurred_at.astimezone(tz).date() == d
        )
        for d in days
    ]
    assert [label.split(":")[0] for _, label in bars] == [d.isoformat() for d in days]
    assert [
        int(label.rsplit(": ", 1)[1].split(" ")[0].replace(",", "")) for _, label in bars
    ] == expected
    assert sum(expected) > 0
    # A bar narrows the range to its day, keeping the other filters.
    href = bars[-1][0]
    assert f"from={days[-1].isoformat()}" in href
    assert f"to={days[-1].isoformat()}" in href
    assert f"category={category}" in href
    assert len(_row_ids(narrowed)) == expected[-1]


def test_a_short_range_is_shown_per_hour_and_the_model_tab_has_it_too(
    services: Services, acme: Tenant
) -> None:
    model_id = next(e.subject.model_id for e in reversed(acme.events) if e.subject.model_id)
    day = base.NOW.date().isoformat()
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        # Platform events only: signing in adds auditledger's own.
        params = {"from": day, "to": day, "category": "user"}
        hourly = _bars(client.get("/orgs/acme/audit-log", params=params).text)
        model_page = client.get(f"/orgs/acme/models/{model_id}").text
    assert len(hourly) == base.NOW.hour + 1  # midnight up to now, not into the future
    assert all(label[11:16].endswith(":00") for _, label in hourly)
    counted = sum(int(label.rsplit(": ", 1)[1].split(" ")[0]) for _, label in hourly)
    assert counted == sum(
        1 for e in acme.events if e.category == "user" and e.occurred_at.date().isoformat() == day
    )
    model_bars = _bars(model_page)
    assert model_bars  # the last 30 days of the model's events
    assert all(href.startswith(f"/orgs/acme/models/{model_id}?") for href, _ in model_bars)
    assert '<figure class="histogram"' in model_page
    # An hour's bar ends at the hour's last microsecond ("to" is inclusive).
    assert "to=2026-11-25T00%3A59%3A59.999999Z" in hourly[0][0]
