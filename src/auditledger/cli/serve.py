"""``auditledger serve``: run uvicorn with the app, optionally on a demo database."""

from __future__ import annotations

from pathlib import Path

import uvicorn

from auditledger.cli.common import console, fail
from auditledger.core.errors import AuditLedgerError
from auditledger.ops.logging import configure_logging
from auditledger.services import build_services
from auditledger.settings import Settings
from auditledger.web.app import create_app
from auditledger.web.header_timeout import protocol_with_timeout


def run_server(settings: Settings, *, demo: bool) -> None:
    """Migrate, optionally load the demo, then serve until interrupted."""
    configure_logging(settings.log_level, settings.log_format)
    try:
        # Checks the catalog extension file too: a server never starts on a bad one.
        services = build_services(settings)
    except AuditLedgerError as exc:
        fail(exc)
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
    app = create_app(services)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # client addresses are resolved by auditledger's trusted proxies
        timeout_graceful_shutdown=10,
        # h11 with a header-read timeout (web/header_timeout.py): slow-header clients are cut.
        http=protocol_with_timeout(settings.header_timeout_seconds),
    )
