"""The ASGI application: API routers, pages, error handling and middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from auditledger import __version__
from auditledger.auth.signin import SignInService
from auditledger.auth.throttle import SignInThrottle
from auditledger.export.reads import ReadAudit
from auditledger.integrity.checkpointer import Checkpointer
from auditledger.integrity.cosigning import Cosigner
from auditledger.services import Services
from auditledger.web.api import (
    destinations,
    events,
    export,
    ingest,
    models,
    ops,
    proofs,
    retention,
)
from auditledger.web.api.event_schema import event_schemas
from auditledger.web.errors import install_error_handlers
from auditledger.web.fastlane import FastLane
from auditledger.web.middleware import RequestContextMiddleware
from auditledger.web.pages import audit_log, signin
from auditledger.web.pages import destinations as destination_pages
from auditledger.web.pages import event as event_pages
from auditledger.web.pages import models as model_pages
from auditledger.web.pages import verify as verify_pages
from auditledger.web.pages.errors import render_error_page
from auditledger.web.pages.session import secure_cookies
from auditledger_client.core.catalog import Catalog

STATIC = Path(__file__).resolve().parent / "static"

DESCRIPTION = """\
A tamper-evident, organization-wide audit log for machine-learning platforms.

* **Ingest** (ingest credential): `POST /api/v1/orgs/{org}/events` and `/events/batch`.
* **Proofs** (read credential or session): the latest signed checkpoint (a C2SP signed note),
  inclusion and consistency proofs (RFC 9162); `GET /api/v1/keys` lists the verifier keys.
* **Query** (read credential or a signed-in session): `GET /api/v1/orgs/{org}/events` (filters,
  newest first, at most 500 per view, `next_cursor` to continue), `/events/{id}`, `/filters`,
  `/models`, `/models/{id}` and `/models/{id}/events`. Sources are for administrators only.
* Authenticate with `Authorization: Bearer <token>`; tokens come from `auditledger credentials`.
  A signed-in browser session works too; a change through the API (any method but GET/HEAD)
  then needs the session's CSRF token in `X-CSRF-Token`.
* Errors are JSON: `{"error": {"code", "message", "problems": [{"field", "message"}]}}`.
"""


class AuditLedgerApp(FastAPI):
    """FastAPI with the request-context middleware outside everything else, and the fast
    lane (web/fastlane.py) for the routes in :attr:`fast_routes` just inside it.

    ``add_middleware`` would place it inside Starlette's ``ServerErrorMiddleware``, so the 500
    response for an unexpected error would leave without security headers or ``X-Request-ID``,
    and be logged after the request id was unbound.
    """

    fast_routes: list[Route]
    _telemetry_off: bool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Starlette's dispatch for HTTP when FastAPI's native telemetry has nothing to report
        to: FastAPI asks OpenTelemetry whether a provider is configured on every request
        (about 4% of an ingest request's CPU); auditledger configures none, so it is asked once."""
        if scope["type"] == "http" and not self.root_path:
            if self._telemetry_off is None:
                telemetry = getattr(self, "_native_telemetry", None)
                self._telemetry_off = telemetry is not None and not telemetry.enabled()
            if self._telemetry_off:
                await Starlette.__call__(self, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        """The usual stack behind the fast lane, wrapped in :class:`RequestContextMiddleware`."""
        secure = secure_cookies(self.state.services.settings)
        stack = FastLane(super().build_middleware_stack(), self, self.fast_routes)
        return RequestContextMiddleware(stack, hsts=secure)


def create_app(
    services: Services, *, manage_services: bool = True, checkpoints: bool | None = None
) -> AuditLedgerApp:
    """The application for ``services``. With ``manage_services`` the app starts and stops
    them with its own lifespan (what ``auditledger serve`` wants). ``checkpoints`` (default:
    as ``manage_services``) runs the automatic checkpointer for the app's lifetime."""
    run_checkpointer = manage_services if checkpoints is None else checkpoints

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_services:
            services.start()
            services.start_background_jobs()
        checkpointer = cosigner = None
        if run_checkpointer:
            await run_in_threadpool(services.checkpoints.prepare_for_server)
            await run_in_threadpool(services.rollback.check)
            # Witnesses are asked on a thread of their own: the round only wakes it.
            cosigner = Cosigner(services.cosigning)
            cosigner.start()
            checkpointer = Checkpointer(
                services.checkpoints,
                services.settings.checkpoint_interval,
                before_round=services.rollback.check,
                after_round=cosigner.wake,
            )
            checkpointer.start()
        try:
            yield
        finally:
            if checkpointer is not None:
                await run_in_threadpool(checkpointer.stop)
            if cosigner is not None:
                await run_in_threadpool(cosigner.stop)
            if manage_services:
                services.stop()

    app = AuditLedgerApp(
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
        services.tenancy, services.ingest, SignInThrottle(services.db, services.clock)
    )
    app.state.read_audit = ReadAudit(services.ingest)
    app.state.checkpoint_panel = verify_pages.latest_checkpoint_panel
    install_error_handlers(app, render_page=render_error_page)
    app.include_router(ops.router)
    app.include_router(ingest.router)
    # Ahead of FastAPI's stack: the ingest hot path (web/api/ingest.py says why).
    app.fast_routes = list(ingest.PLAIN_ROUTES)
    app.include_router(export.router)
    app.include_router(retention.router)
    app.include_router(destinations.router)
    app.include_router(proofs.router)
    app.include_router(proofs.keys_router)
    app.include_router(events.router)
    app.include_router(models.router)
    app.include_router(signin.router)
    app.include_router(audit_log.router)
    app.include_router(model_pages.router)
    app.include_router(verify_pages.router)
    app.include_router(destination_pages.router)
    app.include_router(event_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _register_schemas(app)
    return app


# Every route of an organization needs a credential; the routes read the header themselves
# (web/auth.py), so the document is told here.
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "A token from `auditledger credentials`: ingest, or read (admin or member).",
}


def _register_schemas(app: FastAPI) -> None:
    """Add the event schemas the ingest routes reference (one per catalog type, see
    :mod:`auditledger.web.api.event_schema`) to the OpenAPI components, and the bearer
    credential the organization routes require."""
    original = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {})
        assert isinstance(components, dict)
        components.setdefault("schemas", {}).update(event_schemas(app.state.services.catalog))
        components["securitySchemes"] = {"bearer": BEARER}
        _describe_catalog(components["schemas"], app.state.services.catalog)
        paths = schema.get("paths", {})
        assert isinstance(paths, dict)
        for path, operations in paths.items():
            if path.startswith("/api/v1/orgs/"):
                for operation in operations.values():
                    operation["security"] = [{"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_catalog(schemas: dict[str, Any], catalog: Catalog) -> None:
    """Summarise the deployment's categories, types and properties (extensions included) as
    ``x-auditledger-catalog`` on the event schema."""
    event = schemas.get("EventIn")
    if not isinstance(event, dict):
        return
    # The union (EventIn's oneOf, from event_schemas) already holds each category and type;
    # this adds a compact summary of the catalog for readers of the document.
    sendable = catalog.platform_categories()
    event["x-auditledger-catalog"] = {
        c.key: {
            t.key: {
                p.key: {
                    "kind": p.kind.value,
                    "required": p.required,
                    **({"choices": list(p.choices)} if p.choices else {}),
                }
                for p in t.properties
            }
            for t in c.types
        }
        for c in sendable
    }
