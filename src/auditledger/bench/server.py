"""The benchmark server: the real app, plus ``POST /bench/noop``, an endpoint that does nothing.

Run as ``python -m auditledger.bench.server --database-url URL --port P``. The no-op endpoint
goes through the same stack (uvicorn, middleware, routing, body read) as ingestion, so it is
the HTTP ceiling that ingestion is compared with.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from fastapi import Request
from fastapi.responses import JSONResponse

from auditledger.ops.logging import configure_logging
from auditledger.services import build_services
from auditledger.settings import load_settings
from auditledger.web.app import create_app


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

    async def noop(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"status": "ok"}, status_code=201)

    app.add_api_route("/bench/noop", noop, methods=["POST"], include_in_schema=False)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
