"""Helpers for page tests: a browser-like in-process client that signs in, and HTML probes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from auditledger.services import Services
from auditledger.web.app import create_app
from tests.support.history import PASSWORD

CLIENT_IP = "198.51.100.7"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ROW = re.compile(r'<tr data-event="([0-9a-f-]{36})">')


@contextmanager
def browser(
    services: Services, ip: str = CLIENT_IP, base_url: str = "http://testserver"
) -> Iterator[TestClient]:
    """A client that asks for HTML, keeps cookies, and connects from ``ip``.

    Every client of one test talks to the same application, as browsers talk to one server
    process: the sign-in throttle is per process.
    """
    app = services.__dict__.get("_test_app")
    if app is None:
        app = services.__dict__["_test_app"] = create_app(services, manage_services=False)
    with TestClient(app, base_url=base_url, client=(ip, 50000), follow_redirects=False) as client:
        client.headers["accept"] = "text/html,application/xhtml+xml"
        yield client


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, **extra: str) -> Any:
    """Fill in and send the sign-in form; returns the response."""
    form = client.get("/sign-in")
    assert form.status_code == 200
    data = {"username": username, "password": password, "csrf_token": csrf_token(form.text)}
    data.update(extra)
    return client.post("/sign-in", data=data)


def signed_in(client: TestClient, username: str) -> TestClient:
    """Sign in and check it worked."""
    response = sign_in(client, username)
    assert response.status_code == 303, response.text
    return client


def row_ids(html: str) -> list[str]:
    """The event ids of the table's rows, in order."""
    return _ROW.findall(html)
