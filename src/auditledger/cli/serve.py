"""``auditledger serve``: run uvicorn with the app, optionally on a demo database.

With ``--workers N`` (PostgreSQL only) uvicorn runs N processes on one listening socket. Each
is a whole server: its own group-commit writer, checkpointer and scheduled jobs. They already
coordinate through the database: appends lock the log head row (``FOR UPDATE``), a checkpoint
of a size is inserted once (another process's equal one is reused), the witness copy is kept
under a file lock, purges take an advisory lock, and streaming deliveries are leased. What the
parent does once, before any worker starts: migrate, and create the signing key if there is
none (two workers creating it at once would sign with two keys).
"""

from __future__ import annotations

import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from auditledger.cli.common import console, fail
from auditledger.core.errors import AuditLedgerError
from auditledger.ops.collector import tune_for_serving
from auditledger.ops.logging import configure_logging
from auditledger.services import Services, build_services
from auditledger.settings import SETTING_INDEX, Settings, load_settings
from auditledger.web.app import create_app
from auditledger.web.header_timeout import (
    HeaderTimeoutProtocol,
    WorkerHeaderTimeoutProtocol,
    protocol_with_timeout,
)


def run_server(settings: Settings, *, demo: bool, workers: int = 1) -> None:
    """Migrate, optionally load the demo, then serve until interrupted (in ``workers``
    processes; more than one needs PostgreSQL)."""
    configure_logging(settings.log_level, settings.log_format)
    if workers < 1:
        fail("--workers must be at least 1")
    try:
        # Checks the catalog extension file too: a server never starts on a bad one.
        services = build_services(settings)
    except AuditLedgerError as exc:
        fail(exc)
    if workers > 1 and not services.db.is_postgres:
        fail(
            f"--workers {workers} needs PostgreSQL: SQLite takes one writing process, so "
            "serve it with one worker (the default), or move to PostgreSQL"
        )
    services.db.migrate()
    url = settings.public_url or f"http://{settings.host}:{settings.port}"
    if demo:
        from auditledger.demo.load import ensure_demo

        services.start()
        try:
            # Next to the demo's signing key (demo-data/ for `make run`): the same data, the
            # same passwords and token after a restart.
            credentials = Path(settings.signing_key_file).parent / "demo-credentials.json"
            access = ensure_demo(services, progress=console, credentials_file=credentials)
            # The demo holds more days than retention keeps; purge them now rather than a few
            # seconds after start, so the counts people see do not change under their eyes.
            report = services.retention.purge()
        finally:
            services.stop()
        services = build_services(settings)
        console.rule("[bold]auditledger demo")
        console.print(f"Open [bold]{url}/[/] and sign in (username / password):")
        for line in access.lines():
            console.print(f"  {line}", soft_wrap=True)
        if report.total:
            console.print(
                f"  Retention: {report.total} events past retention "
                f"({settings.retention_days} days unless an organization keeps longer) were "
                "purged at start; their leaf hashes stay, so every proof still verifies. "
                "The purge itself is an event in the log.",
                soft_wrap=True,
            )
        console.rule()
    else:
        console.print(f"auditledger serving {settings.database_url} on {url}/")
    app: FastAPI | str
    http: type[HeaderTimeoutProtocol]
    if workers > 1:
        _prepare_workers(settings, services, workers)
        # Each worker builds its own app (worker_app); the protocol must be importable there.
        app, http = "auditledger.cli.serve:worker_app", WorkerHeaderTimeoutProtocol
    else:
        app, http = create_app(services), protocol_with_timeout(settings.header_timeout_seconds)
        tune_for_serving()  # each worker of several tunes its own (worker_app)
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # client addresses are resolved by auditledger's trusted proxies
        timeout_graceful_shutdown=10,
        # httptools with a header-read timeout and size bound (web/header_timeout.py): slow-header
        # clients are cut.
        http=http,
    )


def _prepare_workers(settings: Settings, services: Services, workers: int) -> None:
    # The key exists before any worker looks for it (see the module docstring).
    services.checkpoints.prepare_for_server()
    # Workers are fresh interpreters: they read their settings from the environment, so the
    # command line's overrides go there.
    for name in ("database_url", "host", "port"):
        os.environ[SETTING_INDEX[name].env] = str(getattr(settings, name))
    console.print(f"  {workers} worker processes")


def worker_app() -> FastAPI:
    """The app of one ``serve --workers`` process (uvicorn calls it in each worker)."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    WorkerHeaderTimeoutProtocol.header_timeout = settings.header_timeout_seconds
    tune_for_serving()
    return create_app(build_services(settings))
