"""Health, readiness and metrics for whoever runs the service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from auditledger import __version__
from auditledger.integrity.rollback import RECOVERY
from auditledger.web.api.responses import HealthOut, ReadyOut
from auditledger.web.context import services

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    summary="Liveness: the process answers",
    response_model=None,
    responses={200: {"model": HealthOut}},
)
async def healthz() -> dict[str, str]:
    """Always ok while the process serves requests."""
    return {"status": "ok", "version": __version__}


@router.get(
    "/readyz",
    summary="Readiness: the database answers and the schema is current",
    response_model=None,
    responses={
        200: {"model": ReadyOut},
        503: {"model": ReadyOut, "description": "Not ready; `Retry-After` says when to ask again."},
    },
)
async def readyz(request: Request) -> JSONResponse:
    """503 when the database is unreachable or not migrated, so a balancer routes elsewhere."""
    svc = services(request)

    def check() -> dict[str, Any]:
        with svc.db.read() as connection:
            connection.execute(text("SELECT 1"))
        return {"migrated": svc.db.is_migrated()}

    try:
        state = await run_in_threadpool(check)
    except Exception as exc:  # any failure means "not ready", with the reason
        return JSONResponse(
            {"status": "unavailable", "reason": f"database: {type(exc).__name__}"},
            status_code=503,
            headers={"Retry-After": "2"},
        )
    if svc.rollback.problem is not None:
        return JSONResponse(
            {"status": "unavailable", "reason": f"{svc.rollback.problem}. {RECOVERY}"},
            status_code=503,
            headers={"Retry-After": "60"},
        )
    ready = state["migrated"]
    return JSONResponse(
        {
            "status": "ok" if ready else "unavailable",
            "database": svc.db.dialect,
            "schema_current": ready,
            "queued_events": svc.writer.queued_events,
            "locations": svc.locator.description,
        },
        status_code=200 if ready else 503,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request) -> Response:
    """Counters and histograms in the Prometheus text format."""
    return Response(
        generate_latest(services(request).metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
