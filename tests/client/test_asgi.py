"""The source-IP middleware: proxy headers count only from trusted proxy networks."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from auditledger_client import SourceIPMiddleware, source_ip
from auditledger_client.asgi import STATE_KEY, MiddlewareMissing, uvicorn_applies_proxy_headers
from tests.support.servers import free_port


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


def behind_plain_uvicorn(**options: Any) -> TestClient:
    """The app as plain uvicorn serves it: uvicorn's own proxy-header middleware (trusting
    127.0.0.1, its default) runs before the application's."""
    app = FastAPI()
    app.add_middleware(SourceIPMiddleware, **options)

    @app.get("/ip")
    def ip(request: Request) -> dict[str, str | None]:
        return {"ip": source_ip(request)}

    return TestClient(ProxyHeadersMiddleware(app), client=("127.0.0.1", 40000))  # type: ignore[arg-type]


def test_a_peer_rewritten_by_uvicorn_is_not_believed(caplog: pytest.LogCaptureFixture) -> None:
    client = behind_plain_uvicorn(trusted_proxies=["10.0.0.0/8"])
    with caplog.at_level(logging.ERROR, logger="auditledger_client.asgi"):
        # A caller on this host forges its address; uvicorn has already believed it.
        assert ip_of(client, {"X-Forwarded-For": "6.6.6.6"}) is None
        assert ip_of(client, {"X-Forwarded-For": "6.6.6.7"}) is None
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # once, loudly
    assert "--no-proxy-headers" in errors[0].getMessage()
    assert ip_of(client) == "127.0.0.1"  # without the header nothing was rewritten


def test_warn_mode_keeps_the_rewritten_peer(caplog: pytest.LogCaptureFixture) -> None:
    client = behind_plain_uvicorn(on_rewritten_peer="warn")
    with caplog.at_level(logging.ERROR, logger="auditledger_client.asgi"):
        assert ip_of(client, {"X-Forwarded-For": "6.6.6.6"}) == "6.6.6.6"
    assert caplog.records


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["/srv/.venv/bin/uvicorn", "app:app"], {}, True),
        (["/srv/.venv/bin/uvicorn", "app:app", "--no-proxy-headers"], {}, False),
        (["/srv/.venv/bin/uvicorn", "app:app"], {"UVICORN_PROXY_HEADERS": "false"}, False),
        (["/usr/lib/python3/site-packages/uvicorn/__main__.py", "app:app"], {}, True),
        (["/srv/.venv/bin/gunicorn", "app:app"], {}, False),
        (["manage.py", "runserver"], {}, False),
    ],
)
def test_the_uvicorn_command_is_recognised_at_start(
    argv: list[str], environ: dict[str, str], expected: bool
) -> None:
    assert uvicorn_applies_proxy_headers(argv, environ) is expected


APP = """
from fastapi import FastAPI
from auditledger_client import SourceIPMiddleware
app = FastAPI()
app.add_middleware(SourceIPMiddleware)
"""


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_plain_uvicorn_gets_a_loud_warning_at_start(tmp_path: Path) -> None:
    (tmp_path / "plainapp.py").write_text(APP, encoding="utf-8")
    uvicorn = Path(sys.executable).with_name("uvicorn")
    port = free_port()
    command = [str(uvicorn), "--app-dir", str(tmp_path), "plainapp:app", "--port", str(port)]
    lines: list[str] = []
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stderr is not None
            for line in process.stderr:  # bounded by the test's timeout
                lines.append(line)
                if "--no-proxy-headers" in line or "Uvicorn running" in line:
                    break
        finally:
            process.terminate()
            process.wait(10)
    assert any("--no-proxy-headers" in line for line in lines), lines
