"""``auditledger serve``: one process or several, the server runs with the same protections."""

from __future__ import annotations

import gc
import os
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from auditledger.cli import serve
from auditledger.ops.collector import SERVING_THRESHOLDS
from auditledger.services import Services, build_services
from auditledger.settings import SETTING_INDEX, Settings
from auditledger.web.header_timeout import HeaderTimeoutProtocol


def test_one_worker_and_several_serve_alike(
    settings: Settings, engine_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []
    thresholds: list[tuple[int, int, int]] = []

    def run(app: Any, **options: Any) -> None:
        calls.append((app, options))
        thresholds.append(gc.get_threshold())

    monkeypatch.setattr(uvicorn, "run", run)
    built: list[Services] = []

    def build(settings: Settings) -> Services:
        built.append(build_services(settings))
        return built[-1]

    monkeypatch.setattr(serve, "build_services", build)
    for name in ("database_url", "host", "port"):
        monkeypatch.delenv(SETTING_INDEX[name].env, raising=False)
    previous_thresholds = gc.get_threshold()
    try:
        serve.run_server(settings, demo=False)
        if engine_kind == "postgres":  # several workers need PostgreSQL
            serve.run_server(settings, demo=False, workers=3)
    finally:
        for services in built:
            services.stop()
        gc.set_threshold(*previous_thresholds)
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
    # The one process collects garbage as a server should (ops/collector.py).
    assert thresholds[0] == SERVING_THRESHOLDS
    for app, options in several:
        # Each worker builds its app, and sets the header timeout, from the environment.
        assert app == "auditledger.cli.serve:worker_app"
        assert options["factory"] is True
        assert options["workers"] == 3
        assert os.environ[SETTING_INDEX["database_url"].env] == settings.database_url
    assert len(several) == (engine_kind == "postgres")


def test_each_worker_collects_garbage_as_a_server_should(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Workers are fresh interpreters (uvicorn spawns them): the parent's thresholds are not
    # theirs, so worker_app sets them.
    monkeypatch.setattr(serve, "load_settings", lambda: settings)
    monkeypatch.setattr(serve, "configure_logging", lambda *_args: None)
    monkeypatch.setattr(serve, "build_services", lambda _settings: None)
    monkeypatch.setattr(serve, "create_app", lambda _services: FastAPI())
    previous = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        serve.worker_app()
        assert gc.get_threshold() == SERVING_THRESHOLDS
    finally:
        gc.set_threshold(*previous)
