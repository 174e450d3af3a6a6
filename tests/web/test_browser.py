"""The audit log in a real browser: Playwright for Python driving Debian's Chromium, headless,
against a real ``auditledger serve`` subprocess on 127.0.0.1.

The database is prepared before the server starts (schema, two organizations, people with known
passwords, a few hundred events through the ingest path). Screenshots of every page visited go
to ``test-results/browser/<test name>/`` under the repository root (git ignores the folder).

Without Chromium these tests skip, unless ``AUDITLEDGER_REQUIRE_BROWSER=1`` (CI), which fails
them instead.
"""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Error as PlaywrightError

from auditledger.core.canonical import format_timestamp
from auditledger.demo.generate import generate
from auditledger.query.filters import parse_filters
from auditledger.retention.policy import start_of_day
from auditledger.services import build_services
from auditledger.settings import load_settings
from auditledger.tenancy.model import Role
from auditledger_client.core.event import Event
from auditledger_client.core.validate import parse_event
from tests.support.browser import ACTION_TIMEOUT_MS
from tests.support.browser import chromium as launch_chromium
from tests.support.helpers import FixedLocator
from tests.support.search import brute_force
from tests.support.servers import ServerProcess

# One worker runs the module: its site (a server over a loaded demo) is built once.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

RESULTS = Path(__file__).resolve().parents[2] / "test-results" / "browser"
PASSWORD = "browser-test-password"
ZONE = "Europe/Helsinki"
SCREENSHOT_TIMEOUT_MS = 30_000
HISTORY_DAYS = 20


@dataclass
class Site:
    """The running server and what its database holds."""

    url: str
    events: dict[str, list[Event]]


def _load(url: str, workdir: Path) -> dict[str, list[Event]]:
    settings = load_settings(environ={}, database_url=url, signing_key_file=workdir / "signing.key")
    # The server runs on the real clock, so the history ends now.
    services = build_services(settings, locator=FixedLocator())
    services.db.migrate()
    services.start()
    try:
        now = services.clock.now()
        loaded = {}
        for slug, name, seed, scale in (
            ("northwind", "Northwind AI", 21, 0.35),
            ("globex", "Globex Research", 22, 0.1),
        ):
            org = services.tenancy.create_org(slug, name)
            for role in Role:
                user = services.tenancy.create_user(
                    f"{role.value}@{slug}.example", f"{name} {role.value}", PASSWORD
                )
                services.tenancy.add_member(org, user, role)
            start = start_of_day(now) - timedelta(days=HISTORY_DAYS)
            wire = [
                e
                for day in generate(start, HISTORY_DAYS + 1, seed=seed, per_day_scale=scale)
                for e in day
                if e["timestamp"] <= format_timestamp(now)
            ]
            drafts = [parse_event(e, received_at=now) for e in wire]
            for offset in range(0, len(drafts), 500):
                services.ingest.ingest_blocking(org, drafts[offset : offset + 500], now)
            size = services.log.head(org.id).tree_size
            loaded[slug] = services.log.events(org.id, slug, 0, size)
        return loaded
    finally:
        services.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A prepared SQLite database served by a real ``auditledger serve``."""
    workdir = tmp_path_factory.mktemp("browser-site")
    url = f"sqlite:///{workdir / 'auditledger.db'}"
    events = _load(url, workdir)
    assert len(events["northwind"]) > 200
    with ServerProcess(url, workdir) as server:
        yield Site(server.url, events)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium through Playwright (never Playwright's own browser download)."""
    with launch_chromium() as browser:
        yield browser


class Visit:
    """A signed-out browser context in the viewer's time zone, with screenshots and a watch on
    the console (a CSP violation shows up there)."""

    def __init__(self, chromium: Any, site: Site, folder: Path) -> None:
        self.context = chromium.new_context(
            timezone_id=ZONE, viewport={"width": 1360, "height": 900}, locale="en-GB"
        )
        # Bounds that hold with both cores busy: a quiet machine answers in well under a second.
        self.context.set_default_timeout(ACTION_TIMEOUT_MS)
        self.context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        self.page = self.context.new_page()
        self.site = site
        self.folder = folder
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(m.text) if m.type == "error" and "404" not in m.text else None
            ),
        )
        self.shots = 0

    def goto(self, path: str) -> Any:
        return self.page.goto(self.site.url + path)

    def shot(self, name: str) -> None:
        """Keep a viewport-sized picture for people reading the results. A picture is never
        evidence: the assertions come first, and a screenshot that is slow or fails on a loaded
        machine is skipped, not a failure."""
        self.shots += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.shots:02d}-{name}.png"
        try:
            self.page.screenshot(path=str(path), full_page=False, timeout=SCREENSHOT_TIMEOUT_MS)
        except PlaywrightError as exc:
            print(f"screenshot {path.name} skipped: {str(exc).splitlines()[0]}")

    def sign_in(self, username: str) -> None:
        self.goto("/")
        assert self.page.url.endswith("/sign-in")
        self.shot("sign-in")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(PASSWORD)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Sign in").click()

    def row_ids(self) -> list[str]:
        return list(
            self.page.locator("tr[data-event]").evaluate_all(
                "rows => rows.map(r => r.dataset.event)"
            )
        )

    def apply(self) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Apply filters").click()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(chromium: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Open browser contexts for a test; screenshots go to its own folder."""
    folder = RESULTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    opened: list[Visit] = []

    def open_visit(label: str) -> Visit:
        opened.append(Visit(chromium, site, folder / label))
        return opened[-1]

    yield open_visit
    for v in opened:
        assert v.problems == [], v.problems
        v.close()


def expected(site: Site, params: list[tuple[str, str]]) -> list[str]:
    return [str(e.event_id) for e in brute_force(site.events["northwind"], parse_filters(params))]


def busiest_model(site: Site) -> str:
    counts: dict[str, int] = {}
    for e in site.events["northwind"]:
        if e.subject.model_id:
            counts[e.subject.model_id] = counts.get(e.subject.model_id, 0) + 1
    return max(counts, key=lambda m: counts[m])


def date_range(site: Site, model_id: str) -> tuple[str, str]:
    """A week that holds some but not all of the model's events, as local dates."""
    times = sorted(
        e.occurred_at for e in site.events["northwind"] if e.subject.model_id == model_id
    )
    middle = times[len(times) // 2].astimezone(ZoneInfo(ZONE)).date()
    return (middle - timedelta(days=3)).isoformat(), (middle + timedelta(days=3)).isoformat()


def test_admin_filters_by_model_and_date_range_and_sees_sources(visit: Any, site: Site) -> None:
    admin = visit("admin")
    admin.sign_in("admin@northwind.example")
    page = admin.page
    assert page.url.endswith("/orgs/northwind/audit-log")
    # The sign-in page stored the browser's zone in a cookie; times are shown in it.
    assert page.get_by_label("Time zone", exact=True).input_value() == ZONE
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    admin.shot("audit-log")
    assert page.get_by_role("columnheader", name="Source").is_visible()

    model_id = busiest_model(site)
    page.get_by_label("Model", exact=True).select_option(model_id)
    admin.apply()
    admin.shot("filtered-by-model")
    by_model = expected(site, [("model", model_id)])
    assert admin.row_ids() == by_model[:500]
    assert by_model

    start, end = date_range(site, model_id)
    page.get_by_label("From", exact=True).fill(start)
    page.get_by_label("To", exact=True).fill(end)
    admin.apply()
    admin.shot("filtered-by-model-and-dates")
    params = [("model", model_id), ("from", start), ("to", end), ("tz", ZONE)]
    shown = admin.row_ids()
    assert shown == expected(site, params)
    assert 0 < len(shown) < len(by_model)
    sources = page.locator("td.source").all_inner_texts()
    assert len(sources) == len(shown)
    ips = {e.source.ip for e in site.events["northwind"] if e.source}
    assert any(ip in text for text in sources for ip in ips)
    export = page.get_by_role("link", name="Export CSV").get_attribute("href")
    assert export is not None
    assert export.startswith("/api/v1/orgs/northwind/export.csv?")
    assert f"model={model_id}" in export
    assert f"from={start}" in export

    first_time = page.locator("tbody time").first
    utc = first_time.get_attribute("datetime")
    assert utc is not None
    assert first_time.get_attribute("title") == datetime.strptime(
        utc, "%Y-%m-%dT%H:%M:%S.%fZ"
    ).replace(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    # The model's own page: its "Audit Log" tab, narrowed to one version.
    page.get_by_role("link", name="Models").first.click()
    page.wait_for_url("**/orgs/northwind/models")
    admin.shot("models")
    admin.goto(f"/orgs/northwind/models/{model_id}")
    admin.shot("model")
    assert admin.row_ids() == by_model[:500]
    versions = page.get_by_label("Model version", exact=True)
    version = versions.locator("option").nth(1).get_attribute("value")
    assert version
    versions.select_option(version)
    admin.apply()
    admin.shot("model-version")
    assert admin.row_ids() == expected(site, [("model", model_id), ("model_version", version)])

    project_link = page.locator(".facts a").first
    project_link.click()
    page.wait_for_url("**/orgs/northwind/projects/**")
    admin.shot("project")
    assert page.get_by_role("heading", name="Models").is_visible()


def test_the_member_sees_the_same_events_without_any_source(visit: Any, site: Site) -> None:
    model_id = busiest_model(site)
    start, end = date_range(site, model_id)
    query = f"?model={model_id}&from={start}&to={end}&tz={ZONE}"
    admin = visit("admin")
    admin.sign_in("admin@northwind.example")
    admin.goto("/orgs/northwind/audit-log" + query)
    member = visit("member")
    member.sign_in("member@northwind.example")
    assert member.page.url.endswith("/orgs/northwind/audit-log")
    member.goto("/orgs/northwind/audit-log" + query)
    member.shot("audit-log-filtered")
    assert member.row_ids() == admin.row_ids()
    assert member.row_ids()
    assert member.page.get_by_role("columnheader", name="Source").count() == 0
    assert member.page.locator("td.source").count() == 0
    text = member.page.content()
    assert not any(e.source.ip in text for e in site.events["northwind"] if e.source)
    member.goto("/orgs/northwind/audit-log")
    member.shot("audit-log")
    assert "127.0.0.1" not in member.page.content()  # not even the members' own sign-ins


def test_a_member_cannot_reach_another_organization(visit: Any, site: Site) -> None:
    member = visit("member")
    member.sign_in("member@northwind.example")
    theirs = member.goto("/orgs/globex/audit-log")
    member.shot("other-organization")
    missing = member.goto("/orgs/no-such-org/audit-log")
    member.shot("missing-organization")
    assert theirs.status == missing.status == 404
    heading = member.page.get_by_role("heading", level=1).inner_text()
    assert heading == "Not found"
    member.goto("/orgs/globex/audit-log")
    assert member.page.locator("tr[data-event]").count() == 0
    globex_ids = {str(e.event_id) for e in site.events["globex"]}
    member.goto("/orgs/northwind/audit-log")
    assert not globex_ids & set(member.row_ids())


# The in-browser check has finished, one way or the other.
DONE = '#verify-status:is([data-state="verified"], [data-state="failed"])'


def _event_page_with_proof(visitor: Visit, event: Event) -> None:
    """Open the event's page once a checkpoint covers it (the server signs every 5 s; the
    bound is for a loaded machine)."""
    for _ in range(240):
        visitor.goto(f"/orgs/northwind/events/{event.event_id}")
        if visitor.page.locator("#proof[data-tree-size]").count():
            return
        visitor.page.wait_for_timeout(500)
    raise AssertionError("no checkpoint covered the event within 120 s")


def test_the_event_page_verifies_its_proof_in_the_browser(visit: Any, site: Site) -> None:
    events = site.events["northwind"]
    event = events[len(events) // 2]
    for who in ("admin", "member"):
        visitor = visit(who)
        visitor.sign_in(f"{who}@northwind.example")
        _event_page_with_proof(visitor, event)
        page = visitor.page
        page.wait_for_selector(DONE)
        visitor.shot("verified")
        size = page.locator("#proof").get_attribute("data-tree-size")
        vkey = page.locator("#proof").get_attribute("data-vkey") or ""
        name, key_id, _ = vkey.split("+", 2)
        assert page.locator("#verify-status").inner_text() == (
            f"Verified in your browser against checkpoint {size}, key {name}+{key_id}."
        )
        steps = page.locator("#verify-steps li").all_inner_texts()
        assert any("Ed25519 signature verifies" in s for s in steps)
        # Only the administrator's page hashes the canonical bytes (they hold the source).
        assert any("canonical bytes hash" in s for s in steps) == (who == "admin")
        text = page.content()
        if who == "member":
            assert not any(e.source.ip in text for e in events if e.source)
        else:
            assert event.source is None or event.source.ip in text


def test_the_event_page_reports_a_tampered_proof(visit: Any, site: Site) -> None:
    events = site.events["northwind"]
    event = events[len(events) // 3]
    admin = visit("admin")
    admin.sign_in("admin@northwind.example")
    _event_page_with_proof(admin, event)
    # One byte of the first proof hash changed on its way to the browser: the hash of the page
    # being served, since each sign-in is an event and the server may have signed a newer
    # checkpoint (another proof) since the last page.
    altered: list[str] = []

    def tamper(route: Any) -> None:
        response = route.fetch()
        text = response.text()
        served = PROOF_ATTRIBUTE.search(text)
        if served is not None:
            first = served[1]
            altered.append(first)
            text = text.replace(first, ("00" if first[:2] != "00" else "ff") + first[2:])
        route.fulfill(response=response, body=text)

    # Fresh navigations (a new query string each) rather than reloads, so that no cached copy
    # of the page can stand in for the altered one.
    page_path = f"/orgs/northwind/events/{event.event_id}"
    admin.page.route(f"**{page_path}*", tamper)
    admin.goto(page_path + "?tampered=proof")
    admin.page.wait_for_selector(DONE)
    admin.shot("tampered")
    assert len(altered) == 1, "the page carried no proof to tamper with"
    status = admin.page.locator("#verify-status").inner_text()
    assert status.startswith("Verification FAILED in your browser: the inclusion proof leads to")
    assert "not to the checkpoint's root" in status
    # A tampered signature fails too, at the signature step. The note is the one in the page
    # being served: the server may have signed a newer checkpoint since the last page.
    admin.page.unroute(f"**{page_path}*")
    flipped: list[str] = []

    def flip_served_note(match: re.Match[str]) -> str:
        flipped.append(match[1])
        return f'data-note="{_flip_signature(match[1])}"'

    admin.page.route(
        f"**{page_path}*",
        lambda route: route.fulfill(
            response=(r := route.fetch()),
            body=NOTE_ATTRIBUTE.sub(flip_served_note, r.text()),
        ),
    )
    admin.goto(page_path + "?tampered=signature")
    admin.page.wait_for_selector(DONE)
    assert len(flipped) == 1, "the page carried no signed note to tamper with"
    assert "Ed25519 signature does not verify" in admin.page.locator("#verify-status").inner_text()


NOTE_ATTRIBUTE = re.compile(r'data-note="([A-Za-z0-9+/=]+)"')
PROOF_ATTRIBUTE = re.compile(r'data-proof="([0-9a-f]{64})')


def _flip_signature(note_b64: str) -> str:
    """The same signed note with one bit of its (first) Ed25519 signature flipped."""
    note = base64.b64decode(note_b64).decode("utf-8")
    body, _, signatures = note.rpartition("\n\n")
    first, *rest = signatures.split("\n")
    prefix, _, encoded = first.rpartition(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[10] ^= 0x01  # past the 4-byte key id: the signature itself
    flipped = f"{prefix} {base64.b64encode(bytes(raw)).decode()}"
    text = body + "\n\n" + "\n".join([flipped, *rest])
    return base64.b64encode(text.encode("utf-8")).decode()


def test_without_javascript_the_event_page_shows_everything_and_the_commands(
    chromium: Any, site: Site
) -> None:
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site.url + "/sign-in")
        page.get_by_label("Username").fill("admin@northwind.example")
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        event = site.events["northwind"][10]
        page.goto(f"{site.url}/orgs/northwind/events/{event.event_id}")
        text = page.content()
        assert "auditledger verify-bundle" in text
        assert event.event_id.hex[:8] in text
        status = page.locator("#verify-status").inner_text()
        assert "Verified" not in status
    finally:
        context.close()


def test_the_version_list_follows_the_model_choice_at_once(visit: Any, site: Site) -> None:
    admin = visit("admin")
    admin.sign_in("admin@northwind.example")
    model_id = busiest_model(site)
    versions = {
        e.subject.id
        for e in site.events["northwind"]
        if e.subject.type == "model_version" and e.subject.model_id == model_id
    }
    version = admin.page.get_by_label("Model version", exact=True)
    assert version.is_disabled()
    admin.page.get_by_label("Model", exact=True).select_option(model_id)
    # No Apply: the list fills from the models API as soon as the model is picked.
    admin.page.wait_for_selector("#f-version:enabled option:nth-child(2)", state="attached")
    offered = version.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert set(offered) - {""} == versions
    labels = version.locator("option").all_inner_texts()[1:]
    numbers = [int(label.rsplit("v", 1)[1]) for label in labels]
    assert numbers == sorted(numbers)  # v8 before v10
    chosen = sorted(versions)[0]
    version.select_option(chosen)
    admin.apply()
    assert admin.row_ids() == expected(site, [("model", model_id), ("model_version", chosen)])


@pytest.mark.parametrize("username", ["admin@northwind.example", "member@northwind.example"])
def test_rows_are_visible_at_1440x900_without_scrolling(
    chromium: Any, site: Site, username: str
) -> None:
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, timezone_id=ZONE)
    try:
        page = context.new_page()
        page.goto(site.url + "/sign-in")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        # With a model chosen the form is at its tallest (the version list appears).
        model_id = busiest_model(site)
        page.goto(f"{site.url}/orgs/northwind/audit-log?model={model_id}")
        rows = page.locator("tr[data-event]")
        assert rows.count() > 3
        for index in range(3):
            box = rows.nth(index).bounding_box()
            assert box is not None
            assert box["y"] + box["height"] <= 900, (
                f"row {index} ends at {box['y'] + box['height']}"
            )
        header = page.get_by_role("columnheader", name=re.compile("^Timestamp")).inner_text()
        assert ZONE.lower() in header.lower()  # the time zone is named where the times are
        # The picture comes after the assertions and is never evidence (see Visit.shot).
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"density-{username.split('@')[0]}.png"
        try:
            page.screenshot(path=str(path), timeout=SCREENSHOT_TIMEOUT_MS)
        except PlaywrightError as exc:
            print(f"screenshot {path.name} skipped: {str(exc).splitlines()[0]}")
    finally:
        context.close()


def _words(e: Event) -> set[str]:
    parent = e.subject.parent.name if e.subject.parent else None
    texts = [e.subject.id, e.subject.name, parent, e.project.name if e.project else None]
    texts += [e.actor.id, e.actor.name, *(str(v) for v in e.properties.values())]
    return {w for t in texts if t for w in re.findall(r"[^\W_]+", t.lower())}


def test_a_search_typed_in_the_box_narrows_the_table(visit: Any, site: Site) -> None:
    admin = visit("admin")
    admin.sign_in("admin@northwind.example")
    page = admin.page
    model_id = busiest_model(site)
    name = next(
        e.subject.name
        for e in site.events["northwind"]
        if e.subject.id == model_id and e.subject.name
    )
    word = re.findall(r"[^\W_]+", name.lower())[0]
    box = page.get_by_label("Search", exact=True)
    box.fill(f"{word} category:model")
    with page.expect_navigation():
        box.press("Enter")
    admin.shot("searched")
    newest = sorted(site.events["northwind"], key=lambda e: (e.occurred_at, e.seq), reverse=True)
    wanted = [str(e.event_id) for e in newest if e.category == "model" and word in _words(e)]
    assert wanted
    assert admin.row_ids() == wanted[:500]
    assert page.get_by_label("Search", exact=True).input_value() == f"{word} category:model"
    export = page.get_by_role("link", name="Export CSV").get_attribute("href")
    assert export is not None
    assert "q=" in export

    box = page.get_by_label("Search", exact=True)
    box.fill('"unclosed')
    with page.expect_navigation():
        box.press("Enter")
    admin.shot("search-mistake")
    assert "is not closed" in page.locator("main").inner_text()
    assert admin.row_ids() == []
    # The refused search is a 422 page, which Chromium reports on the console: expected here.
    assert any("422" in p for p in admin.problems)
    admin.problems = [p for p in admin.problems if "422" not in p]


def test_a_member_cannot_search_by_source(visit: Any, site: Site) -> None:
    member = visit("member")
    member.sign_in("member@northwind.example")
    page = member.page
    address = next(e.source.ip for e in site.events["northwind"] if e.source)
    box = page.get_by_label("Search", exact=True)
    box.fill(f"ip:{address}")
    with page.expect_navigation():
        box.press("Enter")
    member.shot("refused")
    text = page.locator("main").inner_text()
    assert "only administrators may search by source address" in text
    assert address not in page.content()
    assert any("422" in p for p in member.problems)
    member.problems = [p for p in member.problems if "422" not in p]


def _shown_filters(page: Any) -> list[tuple[str, str]]:
    """The filters the page's own address holds (what the form, a link or a bar chose)."""
    from urllib.parse import parse_qsl, urlsplit

    return [(k, v) for k, v in parse_qsl(urlsplit(page.url).query) if v and k != "cursor"]


def test_a_preset_a_bar_several_actors_and_an_address_narrow_the_table(
    visit: Any, site: Site
) -> None:
    admin = visit("admin")
    admin.sign_in("admin@northwind.example")
    page = admin.page
    # Models' events only: the tests' own sign-ins add audit_log events the site did not load.
    admin.goto("/orgs/northwind/audit-log?category=model")
    everything = expected(site, [("category", "model")])

    # A date preset is a link: the last 7 days, whole days in the viewer's zone.
    with page.expect_navigation():
        page.get_by_role("link", name="7 d").click()
    admin.shot("preset-7d")
    chosen = _shown_filters(page)
    assert dict(chosen)["from"] == page.get_by_label("From", exact=True).input_value()
    week = expected(site, chosen)
    assert admin.row_ids() == week[:500]
    assert 0 < len(week) < len(everything)
    assert page.get_by_role("link", name="7 d").get_attribute("aria-current") == "true"

    # A bar of the histogram, chosen with the keyboard, narrows the range to its day.
    bars = page.locator("figure.histogram a:has(rect.bar)")
    assert bars.count() > 1
    bar = bars.nth(bars.count() // 2)
    label = bar.get_attribute("aria-label") or ""
    bar.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    admin.shot("histogram-bar")
    day = expected(site, _shown_filters(page))
    assert admin.row_ids() == day[:500]
    assert 0 < len(day) < len(week)
    # The bar said how many events it stands for; the narrowed table holds exactly those.
    count = int(re.search(r"([\d,]+) event", label).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert count == len(day)

    # Several actors: choosing one offers an "Or actor" choice for the next.
    admin.goto("/orgs/northwind/audit-log")
    people: dict[str, int] = {}
    for e in site.events["northwind"]:
        people[e.actor.id] = people.get(e.actor.id, 0) + 1
    first, second = sorted(people, key=lambda a: people[a])[:2]
    page.get_by_label("Actor", exact=True).select_option(first)
    admin.apply()
    page.get_by_label("Or actor", exact=True).select_option(second)
    admin.apply()
    admin.shot("two-actors")
    chosen = _shown_filters(page)
    assert ("actor", first) in chosen
    assert ("actor", second) in chosen
    both = expected(site, chosen)
    assert admin.row_ids() == both[:500]
    assert len(both) == people[first] + people[second]

    # An administrator filters by source address, a prefix with a star.
    ip = next(e.source.ip for e in site.events["northwind"] if e.source and "." in e.source.ip)
    prefix = ip.rsplit(".", 1)[0] + ".*"
    admin.goto("/orgs/northwind/audit-log")
    page.get_by_label("Source IP", exact=True).fill(prefix)
    admin.apply()
    admin.shot("source-prefix")
    by_source = expected(site, _shown_filters(page))
    assert ("ip", prefix) in _shown_filters(page)
    assert admin.row_ids() == by_source[:500]
    assert by_source
    shown = page.locator("td.source").all_inner_texts()
    assert all(ip.rsplit(".", 1)[0] + "." in text for text in shown)
