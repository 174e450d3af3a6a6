"""The ASGI application: API routers, pages, error handling and middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from auditledger import __version__
from auditledger.auth.signin import SignInService
from auditledger.auth.throttle import SignInThrottle
from auditledger.services import Services
from auditledger.web.api import events, ingest, models, ops
from auditledger.web.errors import install_error_handlers
from auditledger.web.middleware import RequestContextMiddleware
from auditledger.web.pages import audit_log, signin
from auditledger.web.pages import models as model_pages
from auditledger.web.pages.errors import render_error_page

STATIC = Path(__file__).resolve().parent / "static"

DESCRIPTION = """\
A tamper-evident, organization-wide audit log for machine-learning platforms.

* **Ingest** (ingest credential): `POST /api/v1/orgs/{org}/events` and `/events/batch`.
* **Query** (read credential or a signed-in session): `GET /api/v1/orgs/{org}/events` (filters,
  newest first, at most 500 per view, `next_cursor` to continue), `/events/{id}`, `/filters`,
  `/models`, `/models/{id}` and `/models/{id}/events`. Sources are for administrators only.
* Authenticate with `Authorization: Bearer <token>`; tokens come from `auditledger credentials`.
* Errors are JSON: `{"error": {"code", "message", "problems": [{"field", "message"}]}}`.
"""


def create_app(services: Services, *, manage_services: bool = True) -> FastAPI:
    """The application for ``services``. With ``manage_services`` the app starts and stops
    them with its own lifespan (what ``auditledger serve`` wants)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_services:
            services.start()
        try:
            yield
        finally:
            if manage_services:
                services.stop()

    app = FastAPI(
        title="auditledger",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads assets from a CDN; nothing may need the internet.
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.services = services
    app.state.sign_in = SignInService(
        services.tenancy, services.ingest, SignInThrottle(services.clock)
    )
    # Set by the integrity package to show the latest checkpoint (see web/pages/checkpoint.py).
    app.state.checkpoint_panel = None
    install_error_handlers(app, render_page=render_error_page)
    app.include_router(ops.router)
    app.include_router(ingest.router)
    app.include_router(events.router)
    app.include_router(models.router)
    app.include_router(signin.router)
    app.include_router(audit_log.router)
    app.include_router(model_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _register_schemas(app)
    app.add_middleware(RequestContextMiddleware)
    return app


def _register_schemas(app: FastAPI) -> None:
    """Add the wire models the ingest routes reference to the OpenAPI components."""
    from pydantic.json_schema import models_json_schema

    original = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        _, definitions = models_json_schema(
            [(m, "validation") for m in ingest.SCHEMAS], ref_template="#/components/schemas/{model}"
        )
        components = schema.setdefault("components", {})
        assert isinstance(components, dict)
        components.setdefault("schemas", {}).update(definitions.get("$defs", {}))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
