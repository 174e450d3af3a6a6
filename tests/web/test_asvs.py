"""OWASP ASVS 4.0 level 2 gaps found in issue 16 (finding 5), one test each: the idle
timeout, the password rules, HSTS and Permissions-Policy, and the header-read timeout."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from auditledger.core.errors import InvalidInput
from auditledger.services import Services
from auditledger.tenancy.model import Role
from auditledger.tenancy.passwords import MIN_LENGTH, common_passwords
from auditledger.web.app import create_app
from auditledger.web.header_timeout import protocol_with_timeout
from auditledger_client.core.clock import FrozenClock
from tests.support.helpers import make_org
from tests.support.servers import free_port
from tests.support.waiting import wait_until

SQLITE = pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
GOOD_PASSWORD = "violet kettle harbour"


def signed_in_client(services: Services) -> TestClient:
    access = make_org(services)
    user = services.tenancy.create_user("ada@acme.example", "Ada", GOOD_PASSWORD)
    services.tenancy.add_member(access.org, user, Role.ADMIN)
    session = services.tenancy.sign_in("ada@acme.example", GOOD_PASSWORD)
    client = TestClient(create_app(services, manage_services=False), follow_redirects=False)
    client.cookies.set("auditledger_session", session.token)
    return client


def test_an_unused_session_ends_after_the_idle_timeout(
    services: Services, clock: FrozenClock
) -> None:
    # Sessions lasted 12 hours whatever happened; an abandoned one is now over in 30 minutes.
    with signed_in_client(services) as client:
        url = "/api/v1/orgs/acme/events"
        for _ in range(4):  # used every 20 minutes: alive past the idle timeout
            clock.advance(timedelta(minutes=20))
            assert client.get(url).status_code == 200
        clock.advance(timedelta(minutes=31))
        assert client.get(url).status_code == 401


@SQLITE
@pytest.mark.parametrize(
    "password",
    ["short pass", "password1234", "Password123456!", "qwertyuiop123", "aaaaaaaaaaaaaaaa"],
)
def test_short_and_common_passwords_are_refused(services: Services, password: str) -> None:
    # 8 characters were enough, and "password" followed by anything was fine.
    with pytest.raises(InvalidInput) as refused:
        services.tenancy.create_user("ben@acme.example", "Ben", password)
    (problem,) = refused.value.problems
    assert problem.field == "password"
    services.tenancy.create_user("ben@acme.example", "Ben", GOOD_PASSWORD)


def test_the_common_password_list_is_bundled() -> None:
    common = common_passwords()
    assert len(common) >= 10_000
    assert {"123456", "password", "qwerty"} <= common
    assert MIN_LENGTH == 12


@SQLITE
@pytest.mark.parametrize("secure", [False, True])
def test_hsts_when_secure_and_permissions_policy_always(services: Services, secure: bool) -> None:
    services.settings = dataclasses.replace(services.settings, secure_cookies=secure)
    with TestClient(create_app(services, manage_services=False)) as client:
        response = client.get("/healthz")
    assert ("strict-transport-security" in response.headers) is secure
    if secure:
        assert "max-age=31536000" in response.headers["strict-transport-security"]
    assert "camera=()" in response.headers["permissions-policy"]


def _serve_ok(header_timeout: float) -> Iterator[int]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        http=protocol_with_timeout(header_timeout),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the slow-header server to start")
    yield port
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def slow_server() -> Iterator[int]:
    yield from _serve_ok(1)


@pytest.fixture
def patient_server() -> Iterator[int]:
    # Its header timeout is longer than any test: what closes a connection is something else.
    yield from _serve_ok(120)


def test_a_slow_header_connection_is_cut(slow_server: int) -> None:
    # One header byte every 0.3 s kept a connection open indefinitely.
    request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40
    with socket.create_connection(("127.0.0.1", slow_server), timeout=5) as sock:
        started = time.monotonic()
        closed_after = None
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            time.sleep(0.3)
            sock.settimeout(0.01)
            try:
                if sock.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                pass
        assert closed_after is not None, "the slow client was never disconnected"
        # Cut after its 1 s header timeout, long before the 22 s the header takes to send
        # (the margin is for a loaded machine).
        assert closed_after < 10
    # A normal request on a fresh connection is answered.
    with socket.create_connection(("127.0.0.1", slow_server), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")


def _read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:  # closed with our unread headers in its buffer
        pass
    return received


def test_oversized_headers_are_refused(patient_server: int) -> None:
    # httptools bounds neither the header count nor their size; the protocol does.
    with socket.create_connection(("127.0.0.1", patient_server), timeout=60) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(100):  # 100 KiB of headers, never finished
                sock.sendall(b"X-Big: " + b"a" * 1014 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_until_closed(sock)  # it closes: the headers never end
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400")


def test_kept_alive_and_pipelined_requests_are_answered(slow_server: int) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", slow_server), timeout=5) as sock:
        # Two pipelined requests, then two more on the same connection, each well within the
        # 1 s header timeout after the previous answer but together past it since the
        # connection opened: the clock restarts with each answer.
        sock.sendall(request * 2)
        for last in (False, True):
            time.sleep(0.4)
            sock.sendall(
                request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") if last else request
            )
        assert _read_until_closed(sock).count(b"HTTP/1.1 200") == 4
