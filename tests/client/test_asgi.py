"""The source-IP middleware: proxy headers count only from trusted proxy networks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from auditledger_client import SourceIPMiddleware, source_ip
from auditledger_client.asgi import STATE_KEY, MiddlewareMissing


def app_seen_from(peer: str, **options: Any) -> TestClient:
    app = FastAPI()
    app.add_middleware(SourceIPMiddleware, **options)

    @app.get("/ip")
    def ip(request: Request) -> dict[str, str | None]:
        return {"ip": source_ip(request)}

    return TestClient(app, client=(peer, 40000))


def ip_of(client: TestClient, headers: dict[str, str] | None = None) -> str | None:
    response = client.get("/ip", headers=headers or {})
    assert response.status_code == 200
    result: str | None = response.json()["ip"]
    return result


def test_headers_from_an_untrusted_address_are_ignored() -> None:
    client = app_seen_from("203.0.113.50", trusted_proxies=["10.0.0.0/8"])
    forged = {"X-Forwarded-For": "81.2.69.160", "Forwarded": "for=81.2.69.160"}
    assert ip_of(client, forged) == "203.0.113.50"


def test_the_trusted_proxy_is_believed() -> None:
    client = app_seen_from("10.1.2.3", trusted_proxies=["10.0.0.0/8"])
    assert ip_of(client, {"X-Forwarded-For": "6.6.6.6, 81.2.69.160"}) == "81.2.69.160"
    assert ip_of(client) == "10.1.2.3"


def test_only_the_named_header_is_read() -> None:
    headers = {"Forwarded": "for=6.6.6.6", "X-Forwarded-For": "81.2.69.160"}
    xff = app_seen_from("127.0.0.1")
    assert ip_of(xff, headers) == "81.2.69.160"
    rfc = app_seen_from("127.0.0.1", header="forwarded")
    assert ip_of(rfc, headers) == "6.6.6.6"


def test_default_trusts_only_this_host() -> None:
    client = app_seen_from("192.168.1.9")
    assert ip_of(client, {"X-Forwarded-For": "81.2.69.160"}) == "192.168.1.9"


def test_raw_asgi_scope_and_repeated_header_lines() -> None:
    seen: dict[str, Any] = {}

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    middleware = SourceIPMiddleware(inner, trusted_proxies=["::1/128"])
    shared_state: dict[str, Any] = {"from_lifespan": 1}
    scope = {
        "type": "http",
        "client": ("::1", 5000),
        "headers": [(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"2001:db8::7")],
        "state": shared_state,
    }
    asyncio.run(middleware(scope, None, None))  # type: ignore[arg-type]
    assert source_ip(seen) == "2001:db8::7"
    assert seen["state"]["from_lifespan"] == 1
    assert STATE_KEY not in shared_state  # the server's shared state is not written to


def test_without_the_middleware_it_says_so() -> None:
    with pytest.raises(MiddlewareMissing):
        source_ip({"type": "http", "state": {}})


def test_lifespan_passes_through() -> None:
    calls: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["type"])

    asyncio.run(SourceIPMiddleware(inner)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert calls == ["lifespan"]
