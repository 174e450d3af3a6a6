"""Managing streaming destinations in a real browser: Playwright driving Debian's Chromium
against a real ``auditledger serve`` whose own deliverer streams to a webhook on 127.0.0.1.

An administrator creates a destination through the form, sees it dead-lettered while the
receiver fails, retries it, pauses, resumes, edits and deletes it; the same form works with
JavaScript turned off; a member finds no tab and is refused. Screenshots go to
``test-results/browser/<test name>/``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditledger.services import build_services
from auditledger.settings import load_settings
from auditledger.tenancy.model import Role
from tests.support.browser import chromium, new_page
from tests.support.helpers import FixedLocator
from tests.support.receivers import WebhookReceiver
from tests.support.servers import ServerProcess
from tests.support.streams import record
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

PASSWORD = "destinations-browser-password"
HMAC = "hmac-key-typed-in-the-browser-5d1e"
RESULTS = Path(__file__).resolve().parents[2] / "test-results" / "browser"
EVENTS = 12


@dataclass
class Site:
    """The running server, the receiver it streams to, and where screenshots go."""

    url: str
    receiver: WebhookReceiver


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A SQLite database with one organization and its people, served by a real server that
    may stream to loopback and gives up after two failed attempts (a dead letter comes fast)."""
    workdir = tmp_path_factory.mktemp("destinations-site")
    url = f"sqlite:///{workdir / 'auditledger.db'}"
    settings = load_settings(environ={}, database_url=url, signing_key_file=workdir / "signing.key")
    services = build_services(settings, locator=FixedLocator())
    services.db.migrate()
    services.start()
    try:
        org = services.tenancy.create_org("northwind", "Northwind AI")
        for role in Role:
            user = services.tenancy.create_user(
                f"{role.value}@northwind.example", f"Northwind {role.value}", PASSWORD
            )
            services.tenancy.add_member(org, user, role)
        record(services, org, EVENTS, cat="model", typ="rename")
    finally:
        services.stop()
    env = {
        "AUDITLEDGER_STREAM_ALLOWED_NETWORKS": "127.0.0.0/8",
        "AUDITLEDGER_STREAM_MAX_ATTEMPTS": "2",
    }
    with WebhookReceiver() as receiver, ServerProcess(url, workdir, env=env) as server:
        yield Site(server.url, receiver)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


class Visit:
    """A signed-in browser context; keeps screenshots and console errors."""

    def __init__(self, browser: Any, site: Site, folder: Path, *, javascript: bool = True):
        self.context, self.page = new_page(browser, javascript=javascript)
        self.site = site
        self.folder = folder
        self.shots = 0
        self.problems: list[str] = []
        self.page.on(
            "console",
            # A refused page (the member's 403) is logged as a failed resource: expected.
            lambda m: (
                self.problems.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )

    def goto(self, path: str) -> Any:
        return self.page.goto(self.site.url + path)

    def shot(self, name: str) -> None:
        self.shots += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self.page.screenshot(
                path=str(self.folder / f"{self.shots:02d}-{name}.png"), timeout=30_000
            )
        except Exception as exc:  # a picture is never evidence; a slow one is skipped
            print(f"screenshot skipped: {exc}")

    def sign_in(self, who: str) -> None:
        self.goto("/sign-in")
        self.page.get_by_label("Username").fill(f"{who}@northwind.example")
        self.page.get_by_label("Password").fill(PASSWORD)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Sign in").click()

    def submit(self, name: str) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=name).click()

    def row(self) -> Any:
        return self.page.locator("tr[data-destination]")

    def reload_until(self, what: str, condition: Any) -> None:
        def reloaded() -> bool:
            self.page.reload()
            return bool(condition())

        wait_until(reloaded, what, poll=0.5)


@pytest.fixture
def visit(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    folder = RESULTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    opened: list[Visit] = []

    def open_visit(label: str, javascript: bool = True) -> Visit:
        opened.append(Visit(browser, site, folder / label, javascript=javascript))
        return opened[-1]

    yield open_visit
    for v in opened:
        assert v.problems == [], v.problems
        v.context.close()


def _fill_new(admin: Visit, name: str) -> None:
    page = admin.page
    page.locator("#d-name").fill(name)
    page.get_by_label("webhook", exact=True).check()
    page.locator("#d-webhook-url").fill(admin.site.receiver.url)
    page.get_by_label("HMAC key").fill(HMAC)
    page.get_by_label("Categories").fill("model")
    page.get_by_label("From a sequence number").check()
    page.locator("#d-start-seq").fill("0")
    page.get_by_label("Send IP addresses and locations").check()


def test_an_administrator_streams_retries_pauses_edits_and_deletes(visit: Any, site: Site) -> None:
    site.receiver.failing = True
    admin = visit("admin")
    admin.sign_in("admin")
    page = admin.page
    page.get_by_role("link", name="Destinations").click()
    page.wait_for_url("**/orgs/northwind/destinations")
    admin.shot("empty")
    page.get_by_role("link", name="New destination").click()
    page.wait_for_url("**/destinations/new")
    _fill_new(admin, "siem")
    admin.shot("new")
    admin.submit("Create destination")
    assert page.get_by_role("status").inner_text() == "Destination created."
    row = admin.row()
    assert row.count() == 1
    assert "siem" in row.locator("th").inner_text()

    # The receiver answers 503: two attempts, then a dead letter with its error.
    admin.reload_until("the dead letter", lambda: "dead letter" in admin.row().inner_text())
    admin.shot("dead-letter")
    assert "webhook answered 503" in admin.row().locator(".last-error").inner_text()
    assert int(admin.row().locator(".lag-events").inner_text()) == EVENTS
    site.receiver.failing = False
    admin.submit("Retry siem")
    assert "Retrying" in page.get_by_role("status").inner_text()
    admin.reload_until(
        "every event delivered",
        lambda: admin.row().locator(".delivered").inner_text() == str(EVENTS),
    )
    admin.shot("delivered")
    assert admin.row().locator(".lag-events").inner_text() == "0"
    received = site.receiver.events()
    assert sorted({r["seq"] for r in received}) == list(range(EVENTS))
    assert all(r["event"]["source"]["ip"] for r in received)  # granted: sources included

    admin.submit("Pause siem")
    assert "paused" in admin.row().locator(".state").inner_text()
    admin.submit("Resume siem")
    assert "active" in admin.row().locator(".state").inner_text()

    page.get_by_role("link", name="Edit siem").click()
    page.wait_for_url("**/destinations/*")
    admin.shot("edit")
    assert page.locator("#d-webhook-secret-hmac-key").input_value() == ""
    assert (
        "Set — leave empty to keep it"
        in page.locator("#d-webhook-secret-hmac-key-hint").inner_text()
    )
    assert HMAC not in page.content()
    page.locator("#d-name").fill("siem-renamed")
    admin.submit("Save changes")
    assert page.get_by_role("status").inner_text() == "Changes saved."
    assert "siem-renamed" in admin.row().locator("th").inner_text()

    page.get_by_role("link", name="Edit siem-renamed").click()
    page.wait_for_url("**/destinations/*")
    page.get_by_label(re.compile("Yes, delete")).check()
    admin.submit("Delete destination")
    assert page.get_by_role("status").inner_text() == "Destination deleted."
    assert admin.row().count() == 0
    admin.shot("deleted")


def test_the_form_works_without_javascript_and_refuses_bad_input_in_place(
    visit: Any, site: Site
) -> None:
    admin = visit("no-js", javascript=False)
    admin.sign_in("admin")
    admin.goto("/orgs/northwind/destinations/new")
    _fill_new(admin, "no-js")
    admin.page.locator("#d-webhook-url").fill("http://10.9.8.7/in")  # not an allowed network
    admin.submit("Create destination")
    admin.shot("refused")
    page = admin.page
    assert "outside the networks the operator allows" in page.get_by_role("alert").inner_text()
    assert page.locator("#d-webhook-url").get_attribute("aria-invalid") == "true"
    assert page.locator("#d-name").input_value() == "no-js"
    assert page.get_by_label("HMAC key").input_value() == ""  # never sent back
    page.locator("#d-webhook-url").fill(site.receiver.url)
    page.get_by_label("HMAC key").fill(HMAC)
    page.get_by_label("Create it paused").check()
    admin.submit("Create destination")
    assert page.get_by_role("status").inner_text() == "Destination created."
    assert "paused" in admin.row().locator(".state").inner_text()
    page.get_by_role("link", name="Edit no-js").click()
    page.wait_for_url("**/destinations/*")
    page.get_by_label(re.compile("Yes, delete")).check()
    admin.submit("Delete destination")
    assert admin.row().count() == 0


def test_a_member_has_no_destinations_tab_and_is_refused(visit: Any, site: Site) -> None:
    member = visit("member")
    member.sign_in("member")
    assert member.page.url.endswith("/orgs/northwind/audit-log")
    assert member.page.get_by_role("link", name="Destinations").count() == 0
    response = member.goto("/orgs/northwind/destinations")
    member.shot("refused")
    assert response.status == 403
    assert member.page.get_by_role("heading", level=1).inner_text() == "Not allowed"
    assert member.goto("/orgs/northwind/destinations/new").status == 403
