"""The audit log pages, in-process: same events as the API, sources for admins only, isolation,
time zones, filters, the export link, error pages and accessible, CSP-friendly markup."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest

from auditledger.query.filters import parse_filters
from auditledger.services import Services
from auditledger.tenancy.model import Role
from auditledger.web.pages.checkpoint import CheckpointPanel
from tests.support.history import Tenant
from tests.support.pages import CLIENT_IP, browser, row_ids, signed_in
from tests.support.search import brute_force


@pytest.fixture
def database_url(history_database_url: str) -> str:
    """acme and globex, loaded."""
    return history_database_url


def expected_ids(tenant: Tenant, params: list[tuple[str, str]], limit: int = 500) -> list[str]:
    return [str(e.event_id) for e in brute_force(tenant.events, parse_filters(params))[:limit]]


def test_pages_need_a_signed_in_person(services: Services, acme: Tenant) -> None:
    with browser(services) as client:
        assert client.get("/").headers["location"] == "/sign-in"
        page = client.get("/orgs/acme/audit-log?model=mdl-churn-model")
        assert page.status_code == 303
        assert (
            page.headers["location"]
            == "/sign-in?next=/orgs/acme/audit-log%3Fmodel%3Dmdl-churn-model"
        )
        # After signing in, the person lands where they were going.
        form = client.get(page.headers["location"])
        assert 'name="next" value="/orgs/acme/audit-log?model=mdl-churn-model"' in form.text


@pytest.mark.slow
def test_home_leads_to_the_organization_or_a_choice(services: Services, acme: Tenant) -> None:
    with browser(services) as client:
        signed_in(client, acme.member.username)
        assert client.get("/").headers["location"] == "/orgs/acme/audit-log"
    globex = services.tenancy.create_org("initech", "Initech")
    services.tenancy.add_member(globex, acme.member, Role.MEMBER)
    with browser(services) as client:
        signed_in(client, acme.member.username)
        chooser = client.get("/")
        assert chooser.status_code == 200
        assert 'href="/orgs/acme/audit-log"' in chooser.text
        assert 'href="/orgs/initech/audit-log"' in chooser.text


@pytest.mark.slow
def test_admin_and_member_see_the_same_events_and_only_the_admin_sees_sources(
    services: Services, acme: Tenant
) -> None:
    ips = {e.source.ip for e in acme.events if e.source} | {CLIENT_IP}
    with browser(services) as admin_client, browser(services) as member_client:
        signed_in(admin_client, acme.admin.username)
        signed_in(member_client, acme.member.username)
        admin = admin_client.get("/orgs/acme/audit-log").text
        member = member_client.get("/orgs/acme/audit-log").text
    # The two newest rows are the sign-ins that opened the pages; then the loaded history.
    assert row_ids(admin) == row_ids(member)
    assert row_ids(admin)[2:] == expected_ids(acme, [])[:498]
    assert '<th scope="col">Source</th>' in admin
    assert CLIENT_IP in admin
    assert sum(ip in admin for ip in ips) > 3
    assert "Source" not in member
    assert not any(ip in member for ip in ips)
    for text in (admin, member):
        assert "500</strong> most recent matching events" in text
        assert "the CSV export contains all of them" in text


def test_filters_on_the_page_match_the_query(services: Services, acme: Tenant) -> None:
    model_id = next(e.subject.model_id for e in acme.events if e.subject.model_id)
    params = [("model", model_id), ("from", "2026-11-10"), ("to", "2026-11-20")]
    with browser(services) as client:
        signed_in(client, acme.member.username)
        page = client.get("/orgs/acme/audit-log", params=params)
    assert page.status_code == 200
    assert row_ids(page.text) == expected_ids(acme, params)
    assert "model = " in page.text
    assert "2026-11-10 to 2026-11-20" in page.text
    export = re.search(r'<a class="button export" href="([^"]+)"', page.text)
    assert export is not None
    url = urlsplit(html.unescape(export.group(1)))
    assert url.path == "/api/v1/orgs/acme/export.csv"
    assert parse_qsl(url.query) == params
    assert f'<option value="{model_id}" selected>' in page.text


def test_the_model_version_choice_follows_the_model(services: Services, acme: Tenant) -> None:
    version = next(e.subject for e in acme.events if e.subject.type == "model_version")
    model_id = version.model_id
    with browser(services) as client:
        signed_in(client, acme.member.username)
        without = client.get("/orgs/acme/audit-log").text
        chosen = client.get(
            "/orgs/acme/audit-log", params={"model": model_id, "model_version": version.id}
        ).text
    assert "Pick a model first" in without
    assert f'<option value="{version.id}" selected>' in chosen
    assert model_id is not None
    ids = row_ids(chosen)
    assert ids == expected_ids(acme, [("model", model_id), ("model_version", version.id)])
    assert ids


@pytest.mark.slow
def test_times_are_shown_in_the_viewers_zone_with_utc_on_hover(
    services: Services, acme: Tenant
) -> None:
    newest = brute_force(acme.events, parse_filters([]))[0]
    utc = newest.occurred_at.astimezone(UTC)
    iso = utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with browser(services) as client:
        signed_in(client, acme.member.username)
        plain = client.get("/orgs/acme/audit-log").text
        tokyo = client.get("/orgs/acme/audit-log", params={"tz": "Asia/Tokyo"}).text
        client.cookies.set("auditledger_tz", "America/New_York")
        remembered = client.get("/orgs/acme/audit-log").text
        client.cookies.set("auditledger_tz", "Nowhere/Special")
        nonsense = client.get("/orgs/acme/audit-log").text

    def shown(text: str) -> str:
        found = re.search(
            rf'<time datetime="{re.escape(iso)}" title="([^"]+)">([^<]+)</time>', text
        )
        assert found, "the newest event's time is not on the page"
        assert found.group(1) == utc.strftime("%Y-%m-%d %H:%M:%S UTC")
        return found.group(2)

    assert shown(plain) == utc.strftime("%Y-%m-%d %H:%M:%S")
    assert shown(nonsense) == utc.strftime("%Y-%m-%d %H:%M:%S")
    tokyo_time = newest.occurred_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert shown(tokyo) == tokyo_time.strftime("%Y-%m-%d %H:%M:%S")
    assert shown(remembered) != shown(plain)
    assert "<option selected>America/New_York</option>" in remembered
    assert "Times in America/New_York" in remembered


def test_a_date_range_is_read_in_the_viewers_zone(services: Services, acme: Tenant) -> None:
    params = [("from", "2026-11-20"), ("to", "2026-11-20")]
    with browser(services) as client:
        signed_in(client, acme.member.username)
        client.cookies.set("auditledger_tz", "Pacific/Auckland")
        page = client.get("/orgs/acme/audit-log", params=params).text
    assert row_ids(page) == expected_ids(acme, [*params, ("tz", "Pacific/Auckland")])
    assert row_ids(page) != expected_ids(acme, params)
    assert "tz=Pacific%2FAuckland" in page  # the export reads the same day


def test_an_empty_result_says_so(services: Services, acme: Tenant) -> None:
    with browser(services) as client:
        signed_in(client, acme.member.username)
        page = client.get(
            "/orgs/acme/audit-log", params={"category": "audit_log", "type": "audit_log.purge"}
        )
    assert page.status_code == 200
    assert "No events match these filters." in page.text
    assert row_ids(page.text) == []


def test_bad_filters_show_the_form_with_each_problem(services: Services, acme: Tenant) -> None:
    with browser(services) as client:
        signed_in(client, acme.member.username)
        page = client.get("/orgs/acme/audit-log", params={"from": "soon", "project": "x"})
        unknown = client.get("/orgs/acme/audit-log", params={"project": "prj-nope"})
    assert page.status_code == unknown.status_code == 422
    assert "<strong>from</strong>" in page.text
    assert "<strong>project</strong>: no project &#39;prj-nope&#39;" in unknown.text
    assert 'id="f-project"' in unknown.text  # the form stays, to fix the mistake


@pytest.mark.slow
def test_another_organization_is_the_same_404_page_as_a_missing_one(
    services: Services, acme: Tenant, globex: Tenant
) -> None:
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        for suffix in ("", "/audit-log", "/models", "/projects", "/models/mdl-churn-model"):
            theirs = client.get(f"/orgs/globex{suffix}")
            missing = client.get(f"/orgs/initech{suffix}")
            assert theirs.status_code == missing.status_code == 404
            assert theirs.text.replace("globex", "X") == missing.text.replace("initech", "X")
            assert not row_ids(theirs.text)


def test_model_details_and_its_audit_log_tab(services: Services, acme: Tenant) -> None:
    model_id = max(
        {e.subject.model_id for e in acme.events if e.subject.model_id},
        key=lambda m: sum(1 for e in acme.events if e.subject.model_id == m),
    )
    versions = sorted(
        {
            e.subject.id
            for e in acme.events
            if e.subject.type == "model_version" and e.subject.model_id == model_id
        }
    )
    other_version = next(
        e.subject.id
        for e in acme.events
        if e.subject.type == "model_version" and e.subject.model_id != model_id
    )
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        listing = client.get("/orgs/acme/models").text
        page = client.get(f"/orgs/acme/models/{model_id}")
        one = client.get(f"/orgs/acme/models/{model_id}", params={"version": versions[0]})
        wrong = client.get(f"/orgs/acme/models/{model_id}", params={"version": other_version})
        missing = client.get("/orgs/acme/models/mdl-nope")
    assert f'href="/orgs/acme/models/{model_id}"' in listing
    assert page.status_code == 200
    assert row_ids(page.text) == expected_ids(acme, [("model", model_id)])
    assert all(f'<option value="{v}"' in page.text for v in versions)
    assert 'name="project"' not in page.text  # the tab filters by version and date only
    assert row_ids(one.text) == expected_ids(
        acme, [("model", model_id), ("model_version", versions[0])]
    )
    assert "model_version=" in one.text  # the export carries the version
    assert wrong.status_code == 422
    assert "<strong>version</strong>" in wrong.text
    assert missing.status_code == 404


def test_project_page_shows_its_events_and_models(services: Services, acme: Tenant) -> None:
    project_id = next(e.project.id for e in acme.events if e.project)
    latest_by_model: dict[str, str] = {}
    for e in sorted(acme.events, key=lambda e: (e.occurred_at, e.seq)):
        if e.subject.model_id and e.project:
            latest_by_model[e.subject.model_id] = e.project.id
    expected_models = {m for m, p in latest_by_model.items() if p == project_id}
    with browser(services) as client:
        signed_in(client, acme.member.username)
        listing = client.get("/orgs/acme/projects").text
        page = client.get(f"/orgs/acme/projects/{project_id}")
        missing = client.get("/orgs/acme/projects/prj-nope")
    assert f'href="/orgs/acme/projects/{project_id}"' in listing
    assert page.status_code == 200
    assert row_ids(page.text) == expected_ids(acme, [("project", project_id)])
    shown = set(re.findall(r'<li><a href="/orgs/acme/models/([^"]+)">', page.text))
    assert shown == expected_models
    assert expected_models
    assert f"project={project_id}" in page.text  # export link
    assert missing.status_code == 404


def test_markup_is_accessible_and_needs_no_inline_code(services: Services, acme: Tenant) -> None:
    with browser(services) as client:
        signed_in(client, acme.admin.username)
        pages = [
            client.get(path).text
            for path in (
                "/orgs/acme/audit-log",
                "/orgs/acme/models",
                "/orgs/acme/projects",
                "/orgs/acme/models/mdl-churn-model",
            )
        ]
        pages.append(client.get("/orgs/nope/audit-log").text)
        css = client.get("/static/app.css")
        script = client.get("/static/tz.js")
    assert css.status_code == script.status_code == 200
    with browser(services) as anonymous:
        pages.append(anonymous.get("/sign-in").text)
    for text in pages:
        assert '<html lang="en">' in text
        assert '<a class="skip-link" href="#main">' in text
        assert '<main id="main"' in text
        # The Content-Security-Policy allows no inline script or style.
        assert not re.search(r"<script(?![^>]*\bsrc=)", text)
        assert "<style" not in text
        assert " style=" not in text
        assert not re.search(r" on[a-z]+=", text)
        # Every visible form control has a label.
        for control in re.findall(r"<(?:input|select)\b[^>]*>", text):
            if 'type="hidden"' in control:
                continue
            control_id = re.search(r'id="([^"]+)"', control)
            assert control_id, control
            assert f'<label for="{control_id.group(1)}">' in text
    table = pages[0]
    assert "<caption" in table
    assert table.count('<th scope="col">') == 8
    assert '<th scope="row" class="time">' in table


def test_the_checkpoint_panel_appears_only_when_provided(services: Services, acme: Tenant) -> None:
    with browser(services) as client:
        signed_in(client, acme.member.username)
        assert "Latest checkpoint" not in client.get("/orgs/acme/audit-log").text
        panel = CheckpointPanel(
            tree_size=1234,
            root_hash="q83vEjRWeJ==",
            signed_at=datetime(2026, 11, 25, 11, 59, tzinfo=UTC),
            public_key_url="/keys",
            verify_url="/docs/verify",
        )
        client.app.state.checkpoint_panel = lambda _services, org: (  # type: ignore[attr-defined]
            panel if org.slug == "acme" else None
        )
        page = client.get("/orgs/acme/audit-log").text
    assert "Latest checkpoint" in page
    assert "1,234 events" in page
    assert 'href="/keys"' in page
    assert 'href="/docs/verify"' in page


@pytest.mark.slow
def test_the_latest_checkpoint_and_how_to_verify_it(services: Services, acme: Tenant) -> None:
    with browser(services) as client:
        signed_in(client, acme.member.username)
        services.checkpoints.ensure_key()
        stored, _ = services.checkpoints.checkpoint(acme.org.id, acme.org.slug)
        page = client.get("/orgs/acme/audit-log").text
        assert "Latest checkpoint" in page
        assert f"{stored.tree_size:,} events" in page
        assert 'href="/api/v1/keys"' in page
        assert 'href="/orgs/acme/verify"' in page
        verify = client.get("/orgs/acme/verify")
        assert verify.status_code == 200
        text = html.unescape(verify.text)
        assert stored.note in text  # the signed note, verbatim, to keep
        assert services.checkpoints.verifiers()[0].vkey() in text
        assert "auditledger verify-bundle" in text
        assert client.get("/orgs/globex/verify").status_code == 404


def test_a_date_range_past_retention_says_so(services: Services, acme: Tenant) -> None:
    with browser(services) as client:
        signed_in(client, acme.member.username)
        old = client.get("/orgs/acme/audit-log", params={"from": "2026-01-01", "tz": "UTC"}).text
        recent = client.get("/orgs/acme/audit-log", params={"from": "2026-11-01", "tz": "UTC"}).text
    assert "The date range starts before 2026-05-29" in html.unescape(old)
    assert "180-day retention" in old
    assert "retention-note" not in recent
