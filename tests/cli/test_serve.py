"""``auditledger serve``: one process or several, the server runs with the same protections."""

from __future__ import annotations

import os
from typing import Any

import pytest
import uvicorn

from auditledger.cli import serve
from auditledger.services import Services, build_services
from auditledger.settings import SETTING_INDEX, Settings
from auditledger.web.header_timeout import HeaderTimeoutProtocol


def test_one_worker_and_several_serve_alike(
    settings: Settings, engine_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    built: list[Services] = []

    def build(settings: Settings) -> Services:
        built.append(build_services(settings))
        return built[-1]

    monkeypatch.setattr(serve, "build_services", build)
    for name in ("database_url", "host", "port"):
        monkeypatch.delenv(SETTING_INDEX[name].env, raising=False)
    try:
        serve.run_server(settings, demo=False)
        if engine_kind == "postgres":  # several workers need PostgreSQL
            serve.run_server(settings, demo=False, workers=3)
    finally:
        for services in built:
            services.stop()
    for _app, options in calls:
        assert (options["host"], options["port"]) == (settings.host, settings.port)
        # Client addresses come from auditledger's own trusted-proxy rules, never uvicorn's.
        assert options["proxy_headers"] is False
        assert options["access_log"] is False
        assert options["timeout_graceful_shutdown"] == 10
        assert issubclass(options["http"], HeaderTimeoutProtocol)
    (_app, options), *several = calls
    assert not options.get("factory")
    assert options.get("workers") is None
    assert options["http"].header_timeout == settings.header_timeout_seconds
    for app, options in several:
        # Each worker builds its app, and sets the header timeout, from the environment.
        assert app == "auditledger.cli.serve:worker_app"
        assert options["factory"] is True
        assert options["workers"] == 3
        assert os.environ[SETTING_INDEX["database_url"].env] == settings.database_url
    assert len(several) == (engine_kind == "postgres")
