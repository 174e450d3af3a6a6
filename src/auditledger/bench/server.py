"""The benchmark server: the real app, plus ``POST /bench/noop``, an endpoint that does nothing.

Run as ``python -m auditledger.bench.server --database-url URL --port P``. The no-op endpoint
goes through the same stack as ingestion (uvicorn with ``serve``'s protocol, the request-context
middleware, the fast lane, a body read, a JSON answer), so it is the HTTP ceiling that
ingestion is compared with.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auditledger.ops.logging import configure_logging
from auditledger.services import build_services
from auditledger.settings import load_settings
from auditledger.web.app import AuditLedgerApp, create_app
from auditledger.web.header_timeout import protocol_with_timeout


async def _noop(request: Request) -> Response:
    await request.body()
    return Response(b'{"status":"ok"}', status_code=201, media_type="application/json")


def add_noop(app: AuditLedgerApp) -> None:
    """Add ``POST /bench/noop`` beside the ingest routes (before the app first serves)."""
    app.fast_routes.append(Route("/bench/noop", _noop, methods=["POST"]))


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--signing-key-file", required=True)
    args = parser.parse_args()
    settings = load_settings(
        database_url=args.database_url,
        port=args.port,
        signing_key_file=Path(args.signing_key_file),
        purge_interval=0,
    )
    configure_logging(settings.log_level, settings.log_format)
    services = build_services(settings)
    services.db.migrate()
    app = create_app(services)
    add_noop(app)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        # As `auditledger serve` runs (cli/serve.py).
        proxy_headers=False,
        http=protocol_with_timeout(settings.header_timeout_seconds),
    )


if __name__ == "__main__":
    main()
