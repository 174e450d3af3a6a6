"""Signing in and out: cookies, CSRF, throttling, and the audit log's record of each attempt."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from auditledger.demo.load import ensure_demo
from auditledger.services import Services
from auditledger.web.pages.session import SIGN_IN_CSRF_COOKIE
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.event import Event
from tests.support.history import PASSWORD, Tenant, make_tenant
from tests.support.pages import CLIENT_IP, browser, csrf_token, row_ids, sign_in, signed_in


@pytest.fixture
def acme(services: Services) -> Tenant:
    """A small organization (three days of history) with an admin and a member."""
    return make_tenant(services, "acme", days=3, seed=5, scale=0.3)


def own_events(services: Services, tenant: Tenant) -> list[Event]:
    size = services.log.head(tenant.org.id).tree_size
    everything = services.log.events(tenant.org.id, tenant.slug, 0, size)
    return [e for e in everything if e.category == "audit_log"]


def cookie_header(response: object, name: str) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    return next(h for h in headers if h.startswith(name + "="))


def test_sign_in_sets_a_safe_session_cookie_and_records_it(
    services: Services, acme: Tenant
) -> None:
    with browser(services) as client:
        response = sign_in(client, acme.admin.username, next="/orgs/acme/models")
        assert response.status_code == 303
        assert response.headers["location"] == "/orgs/acme/models"
        cookie = cookie_header(response, "auditledger_session").lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "secure" not in cookie
        assert "max-age=43200" in cookie
        assert client.get("/orgs/acme/models").status_code == 200
    (event,) = own_events(services, acme)
    assert (event.type, event.properties) == ("sign_in", {"method": "password"})
    assert (event.actor.id, event.subject.id) == (acme.admin.actor_id, acme.admin.actor_id)
    assert event.source is not None
    assert event.source.ip == CLIENT_IP


@pytest.mark.parametrize(
    "change", [{"secure_cookies": True}, {"public_url": "https://audit.example.com"}]
)
def test_cookies_are_secure_behind_https(
    services: Services, acme: Tenant, change: dict[str, object]
) -> None:
    services.settings = services.settings.replace(**change)
    # A browser sends Secure cookies back only over HTTPS.
    with browser(services, base_url="https://testserver") as client:
        form = client.get("/sign-in")
        assert "secure" in cookie_header(form, SIGN_IN_CSRF_COOKIE).lower()
        response = sign_in(client, acme.member.username)
        assert "secure" in cookie_header(response, "auditledger_session").lower()


def test_sign_in_needs_the_forms_csrf_token(services: Services, acme: Tenant) -> None:
    with browser(services) as client:
        client.get("/sign-in")
        data = {"username": acme.admin.username, "password": PASSWORD}
        missing = client.post("/sign-in", data=data)
        forged = client.post("/sign-in", data={**data, "csrf_token": "guess"})
        client.cookies.clear()
        no_cookie = client.post("/sign-in", data={**data, "csrf_token": "guess"})
        for response in (missing, forged, no_cookie):
            assert response.status_code == 403
            assert "auditledger_session" not in response.headers.get("set-cookie", "")
            assert "the form has expired" in response.text.lower()
    assert own_events(services, acme) == []


def test_sign_out_is_a_post_with_the_sessions_token_and_is_recorded(
    services: Services, acme: Tenant
) -> None:
    with browser(services) as client:
        signed_in(client, acme.member.username)
        page = client.get("/orgs/acme/audit-log")
        token = csrf_token(page.text)
        confirm = client.get("/sign-out")  # a link cannot sign out; it asks
        assert confirm.status_code == 200
        assert 'method="post" action="/sign-out"' in confirm.text
        refused = client.post("/sign-out", data={"csrf_token": "not-it"})
        assert refused.status_code == 403
        assert client.get("/orgs/acme/audit-log").status_code == 200  # still signed in
        out = client.post("/sign-out", data={"csrf_token": token})
        assert out.status_code == 303
        assert out.headers["location"] == "/sign-in?signed_out=1"
        landed = client.get(out.headers["location"])
        assert "You have signed out." in landed.text
        assert "You have signed out." not in client.get("/sign-in").text
        assert 'auditledger_session=""' in out.headers["set-cookie"]
        kept = dict(client.cookies)
    with browser(services) as replay:
        # The old cookie is dead on the server, not only deleted in the browser.
        replay.cookies.set("auditledger_session", kept.get("auditledger_session", "x"))
        assert replay.get("/orgs/acme/audit-log").status_code == 303
    assert [e.type for e in own_events(services, acme)] == ["sign_in", "sign_out"]


def test_refused_sign_ins_are_recorded_where_the_account_belongs(
    services: Services, acme: Tenant
) -> None:
    with browser(services) as client:
        wrong = sign_in(client, acme.member.username, "not the password")
        nobody = sign_in(client, "nobody@nowhere.example", "whatever123")
        blank = sign_in(client, acme.member.username, "")
    assert wrong.status_code == nobody.status_code == 401
    assert blank.status_code == 422
    assert "Unknown username or wrong password." in wrong.text
    # The same answer whether or not the account exists.
    assert re.sub(r'value="[^"]*"', "", wrong.text) == re.sub(r'value="[^"]*"', "", nobody.text)
    (event,) = own_events(services, acme)  # the unknown username concerns no organization
    assert event.type == "sign_in_failure"
    assert event.properties == {"reason": "bad_credentials", "username": acme.member.username}
    assert event.actor.type == "system"


def test_an_account_without_organizations_cannot_sign_in(services: Services) -> None:
    services.tenancy.create_user("loner@example.com", "Loner", PASSWORD)
    with browser(services) as client:
        response = sign_in(client, "loner@example.com")
        assert response.status_code == 401
        assert "not a member of any organization" in response.text
        assert client.get("/").headers["location"] == "/sign-in"


@pytest.mark.slow
def test_thirty_failures_from_one_address_do_not_lock_the_owner_out(
    services: Services, acme: Tenant
) -> None:
    # The lock was per username: 30 wrong passwords from one address, and the owner's right
    # password from another address was refused for 15 minutes.
    with browser(services, ip="203.0.113.66") as attacker:
        statuses = [sign_in(attacker, acme.admin.username, "wrong").status_code for _ in range(30)]
    assert statuses == [401] * 10 + [429] * 20
    with browser(services, ip="198.51.100.20") as owner:
        assert sign_in(owner, acme.admin.username).status_code == 303


@pytest.mark.slow
def test_guessing_from_many_addresses_slows_the_username_but_never_locks_it(
    services: Services, acme: Tenant, clock: FrozenClock
) -> None:
    # Rotating addresses kept the owner locked out indefinitely; now it costs guessers an
    # increasing delay (at most MAX_DELAY seconds) and the owner a wait of seconds.
    from auditledger.auth.throttle import MAX_DELAY, USERNAME_SOFT_LIMIT

    for attempt in range(USERNAME_SOFT_LIMIT):
        with browser(services, ip=f"203.0.113.{attempt + 1}") as client:
            assert sign_in(client, acme.admin.username, "wrong").status_code == 401
    waits = []
    for attempt in range(8):
        with browser(services, ip=f"192.0.2.{attempt + 1}") as client:
            refused = sign_in(client, acme.admin.username, "wrong")
            assert refused.status_code == 429
            waits.append(int(refused.headers["retry-after"]))
            clock.advance(timedelta(seconds=waits[-1]))
            assert sign_in(client, acme.admin.username, "wrong").status_code == 401
    assert waits == sorted(waits)  # increasing ...
    assert max(waits) <= MAX_DELAY + 1  # ... and bounded
    with browser(services, ip="198.51.100.20") as owner:
        refused = sign_in(owner, acme.admin.username)
        assert refused.status_code == 429
        clock.advance(timedelta(seconds=int(refused.headers["retry-after"])))
        assert sign_in(owner, acme.admin.username).status_code == 303


@pytest.mark.slow
def test_a_flood_of_throttled_attempts_is_recorded_once_per_window_with_a_count(
    services: Services, acme: Tenant, clock: FrozenClock
) -> None:
    # Every attempt after the limit appended an immutable sign_in_failure event: +100 events
    # from 100 anonymous attempts in 3 s.
    def reasons() -> list[Event]:
        return [e for e in own_events(services, acme) if e.type == "sign_in_failure"]

    with browser(services, ip="203.0.113.66") as attacker:
        for _ in range(10):
            assert sign_in(attacker, acme.member.username, "wrong").status_code == 401
        for _ in range(100):
            assert sign_in(attacker, acme.member.username, "wrong").status_code == 429
    limited = [e for e in reasons() if e.properties["reason"] == "rate_limited"]
    assert len(reasons()) == 11
    (first,) = limited
    assert first.properties["limit"] == "username_address"
    assert first.properties["failures"] == 10
    assert first.properties["unrecorded"] == 0
    clock.advance(timedelta(minutes=15, seconds=1))
    with browser(services, ip="203.0.113.66") as attacker:
        for _ in range(10):
            assert sign_in(attacker, acme.member.username, "wrong").status_code == 401
        assert sign_in(attacker, acme.member.username, "wrong").status_code == 429
    limited = [e for e in reasons() if e.properties["reason"] == "rate_limited"]
    assert len(limited) == 2
    assert limited[1].properties["unrecorded"] == 99  # the first window's silent refusals


@pytest.mark.slow
def test_failed_sign_ins_are_throttled_per_address(services: Services, acme: Tenant) -> None:
    from auditledger.auth.throttle import ADDRESS_FAILURES

    with browser(services, ip="192.0.2.10") as client:
        for attempt in range(ADDRESS_FAILURES):
            assert sign_in(client, f"guess{attempt}@acme.example", "x").status_code == 401
        assert sign_in(client, acme.member.username).status_code == 429
    with browser(services, ip="192.0.2.11") as client:
        assert sign_in(client, acme.member.username).status_code == 303


@pytest.mark.slow
def test_users_unlock_clears_a_username_everywhere(services: Services, acme: Tenant) -> None:
    from typer.testing import CliRunner

    from auditledger.cli.main import app

    with browser(services, ip="203.0.113.66") as client:
        for _ in range(10):
            sign_in(client, acme.admin.username, "wrong")
        assert sign_in(client, acme.admin.username).status_code == 429
    result = CliRunner().invoke(
        app,
        ["users", "unlock", acme.admin.username, "--database-url", services.settings.database_url],
    )
    assert result.exit_code == 0, result.output
    assert "unlocked" in result.output
    with browser(services, ip="203.0.113.66") as client:
        assert sign_in(client, acme.admin.username).status_code == 303


def test_the_source_address_believes_only_trusted_proxies(services: Services, acme: Tenant) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.50"}
    with browser(services, ip="127.0.0.1") as client:
        client.headers.update(forwarded)
        signed_in(client, acme.member.username)
    with browser(services, ip="198.51.100.20") as client:
        client.headers.update(forwarded)
        signed_in(client, acme.admin.username)
    sources = [e.source.ip for e in own_events(services, acme) if e.source]
    assert sources == ["203.0.113.50", "198.51.100.20"]


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "\\\\evil.example", "orgs/acme"]
)
def test_sign_in_never_redirects_off_site(services: Services, acme: Tenant, target: str) -> None:
    with browser(services) as client:
        response = sign_in(client, acme.member.username, next=target)
    assert response.headers["location"] == "/"


def test_forms_are_read_carefully(services: Services, acme: Tenant) -> None:
    with browser(services) as client:
        json_body = client.post("/sign-in", json={"username": "a", "password": "b"})
        huge = client.post(
            "/sign-in",
            content=b"username=" + b"a" * 20_000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert json_body.status_code == 400
    assert huge.status_code == 413


@pytest.mark.slow
@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_the_demo_accounts_sign_in_to_their_organization(services: Services) -> None:
    class Quiet:
        def print(self, *objects: object) -> None:
            pass

    access = ensure_demo(services, Quiet())
    for username, password, _ in access.accounts:
        slug = username.split("@")[1].split(".")[0]
        with browser(services, ip=f"192.0.2.{len(username)}") as client:
            response = sign_in(client, username, password)
            assert response.status_code == 303, response.text
            home = client.get(response.headers["location"])
            assert home.headers["location"] == f"/orgs/{slug}/audit-log"
            page = client.get(home.headers["location"])
            assert page.status_code == 200
            assert len(row_ids(page.text)) == 500
            assert ('<th scope="col">Source</th>' in page.text) == username.startswith("admin@")
