"""Credential hygiene: secrets are stored hashed and compared in constant time, sign-in is
rate limited however the attacker varies the request, cookies carry their flags, and even
the answers to requests that match no route carry the security headers.

The per-username and per-address throttles themselves are tested in tests/web/test_sign_in.py
and tests/auth/test_throttle.py; what is here are the ways around them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from auditledger.auth.throttle import ADDRESS_FAILURES, USERNAME_SOFT_LIMIT
from auditledger.core.errors import Unauthenticated
from auditledger.services import Services
from auditledger.store.schema import credentials, metadata, sessions, users
from auditledger.tenancy import tokens
from auditledger.tenancy.model import Role
from auditledger.web.auth import SESSION_COOKIE
from auditledger.web.middleware import SECURITY_HEADERS
from auditledger.web.pages import session as page_session
from auditledger_client.core.clock import FrozenClock
from tests.support.history import PASSWORD
from tests.support.pages import browser, csrf_token, sign_in, signed_in
from tests.support.world import World, build_world

pytestmark = pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)


@pytest.fixture
def world(services: Services, clock: FrozenClock) -> World:
    return build_world(services, clock)


def every_stored_value(services: Services) -> Iterator[tuple[str, str, Any]]:
    """(table, column, value) of every non-null cell of every table."""
    with services.db.read() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for column, value in row._mapping.items():
                    if value is not None:
                        yield table.name, column, value


def test_no_secret_is_stored_in_clear(world: World) -> None:
    services = world.services
    with browser(services) as client:
        signed_in(client, world.acme.member.username)
        cookie = client.cookies[SESSION_COOKIE]
    secrets = [*world.secrets, cookie]
    found = []
    for table, column, value in every_stored_value(services):
        if isinstance(value, bytes | bytearray | memoryview):
            text = bytes(value)
            found += [(table, column) for s in secrets if s.encode() in text]
        else:
            found += [(table, column) for s in secrets if s in str(value)]
    assert found == []
    with services.db.read() as connection:
        digests = {bytes(r.secret_hash) for r in connection.execute(select(credentials))}
        session_digests = {bytes(r.token_hash) for r in connection.execute(select(sessions))}
        password_hashes = [r.password_hash for r in connection.execute(select(users))]
    # What is stored is a SHA-256 of the secret part, and of the session token.
    member_secret = world.acme.access.member.rsplit("_", 1)[1]
    assert hashlib.sha256(member_secret.encode()).digest() in digests
    assert hashlib.sha256(cookie.encode()).digest() in session_digests
    assert password_hashes
    assert all(h.startswith("$argon2id$") for h in password_hashes)


def test_secrets_are_compared_in_constant_time(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[int] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append(1)
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    monkeypatch.setattr(page_session.hmac, "compare_digest", spy)
    tenancy = world.services.tenancy
    good = world.acme.access.admin
    public_id = good.split("_")[2]
    presented = [
        good,  # right
        good[:-1] + ("a" if good[-1] != "a" else "b"),  # wrong secret
        f"al_read_{'z' * len(public_id)}_{'a' * 32}",  # unknown id: the same work is done
        "not-a-token",  # malformed: also the same work
    ]
    for token in presented:
        tenancy.forget_cached()
        compared.clear()
        if token == good:
            assert tenancy.authenticate_token(token).role is Role.ADMIN
        else:
            with pytest.raises(Unauthenticated):
                tenancy.authenticate_token(token)
        assert compared, f"no constant-time comparison for {token[:12]}..."
    compared.clear()
    with browser(world.services) as client:
        sign_in(client, world.acme.member.username, PASSWORD)  # the form's CSRF check
    assert compared


@pytest.mark.slow
def test_throttling_ignores_spelling_of_the_username(world: World) -> None:
    username = world.acme.admin.username
    variants = [username.upper(), f"  {username} ", username.title(), username]
    for attempt in range(USERNAME_SOFT_LIMIT):
        with browser(world.services, ip=f"203.0.113.{attempt + 1}") as client:
            assert sign_in(client, variants[attempt % 4], "wrong").status_code == 401
    with browser(world.services, ip="203.0.113.200") as client:
        limited = sign_in(client, username)
        assert limited.status_code == 429
        assert SESSION_COOKIE not in client.cookies


@pytest.mark.slow
def test_throttling_believes_forwarded_addresses_only_from_proxies(world: World) -> None:
    # Rotating X-Forwarded-For from an untrusted peer must not buy new attempts.
    with browser(world.services, ip="192.0.2.50") as client:
        for attempt in range(ADDRESS_FAILURES):
            client.headers["X-Forwarded-For"] = f"198.18.0.{attempt + 1}"
            assert sign_in(client, f"guess{attempt}@acme.example", "x").status_code == 401
        client.headers["X-Forwarded-For"] = "198.18.0.99"
        assert sign_in(client, world.acme.member.username).status_code == 429


@pytest.mark.slow
def test_throttling_counts_an_ipv6_client_by_its_slash_64(world: World) -> None:
    # One subscriber holds a whole /64; counting single addresses gave it 2**64 * 10 tries.
    for attempt in range(ADDRESS_FAILURES):
        with browser(world.services, ip=f"2001:db8:1:2::{attempt + 1:x}") as client:
            assert sign_in(client, f"guess{attempt}@acme.example", "x").status_code == 401
    with browser(world.services, ip="2001:db8:1:2:ffff::1") as client:
        assert sign_in(client, world.acme.member.username).status_code == 429
    with browser(world.services, ip="2001:db8:1:3::1") as client:  # the next /64 is someone else
        assert sign_in(client, world.acme.member.username).status_code == 303


def cookies_set(response: Any) -> list[str]:
    return list(response.headers.get_list("set-cookie"))


@pytest.mark.parametrize(
    ("change", "secure"),
    [
        ({}, False),
        ({"secure_cookies": True}, True),
        ({"public_url": "https://audit.example.com"}, True),
    ],
)
def test_every_cookie_has_its_flags_through_a_whole_visit(
    world: World, change: dict[str, Any], secure: bool
) -> None:
    services = world.services
    services.settings = services.settings.replace(**change)
    scheme = "https" if secure else "http"
    seen: list[str] = []
    with browser(services, base_url=f"{scheme}://testserver") as client:
        form = client.get("/sign-in")
        seen += cookies_set(form)
        response = client.post(
            "/sign-in",
            data={
                "username": world.acme.admin.username,
                "password": PASSWORD,
                "csrf_token": csrf_token(form.text),
            },
        )
        seen += cookies_set(response)
        page = client.get("/orgs/acme/audit-log")
        seen += cookies_set(page)
        seen += cookies_set(client.post("/sign-out", data={"csrf_token": csrf_token(page.text)}))
    assert {c.split("=")[0] for c in seen} == {SESSION_COOKIE, page_session.SIGN_IN_CSRF_COOKIE}
    for cookie in seen:
        flags = [part.strip().lower() for part in cookie.split(";")[1:]]
        assert "httponly" in flags, cookie
        assert "samesite=lax" in flags, cookie
        assert "path=/" in flags, cookie
        assert ("secure" in flags) is secure, cookie


@pytest.mark.parametrize(
    ("method", "path", "accept"),
    [
        ("GET", "/no-such-page", "text/html"),
        ("GET", "/api/v1/no-such-route", "application/json"),
        ("DELETE", "/api/v1/orgs/acme/events", "application/json"),
        ("GET", "/static/../pyproject.toml", "text/html"),
        ("GET", "/static/no-such-file.css", "text/html"),
    ],
)
def test_answers_outside_every_route_carry_the_security_headers(
    client: TestClient, method: str, path: str, accept: str
) -> None:
    response = client.request(method, path, headers={"accept": accept})
    assert response.status_code in (404, 405)
    for name, value in SECURITY_HEADERS:
        assert response.headers[name.decode()] == value.decode()
    assert "Traceback" not in response.text
