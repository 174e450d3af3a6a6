"""Export routes: every matching event as CSV or JSON Lines, streamed, no cap."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from auditledger.errors import Forbidden
from auditledger.export.service import ExportFormat, export_filename
from auditledger.query.filters import parse_filters
from auditledger.query.search import check_known_values, check_source_access
from auditledger.tenancy.model import Principal, Role
from auditledger.tenancy.service import org_for_reading
from auditledger.web.api.events import FILTER_HELP, READ_ERRORS, query_parameters
from auditledger.web.api.responses import error_responses
from auditledger.web.auth import api_principal
from auditledger.web.client import request_ip
from auditledger.web.context import services

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["export"])

_DESCRIPTION = """\
Every event matching the filters (the same filters as the view: `from`, `to`, `tz`, `project`,
`model`, `model_version`, `category`, `type`, `actor`, `subject`), oldest first, streamed.
Source columns appear only for administrators. A response cut short by an error ends without
the final HTTP chunk, so clients see an incomplete transfer rather than a short file."""


def _file(media_type: str, what: str) -> dict[int | str, dict[str, Any]]:
    # The body is a file, not JSON; errors before the first byte are the usual JSON errors.
    bare = media_type.split(";")[0]
    return {
        200: {"description": what, "content": {bare: {"schema": {"type": "string"}}}},
        **READ_ERRORS,
    }


async def _export(
    request: Request, org: str, principal: Principal, fmt: ExportFormat
) -> StreamingResponse:
    svc = services(request)
    organization = await run_in_threadpool(svc.tenancy.org, org)
    role = org_for_reading(principal, organization)
    flt = parse_filters(list(request.query_params.multi_items()), svc.catalog)
    # Before the stream starts: once it has, an error can no longer be a clean 422.
    check_source_access(flt, include_source=role is Role.ADMIN)

    def check() -> None:
        with svc.db.read() as connection:
            check_known_values(connection, organization.id, flt)

    await run_in_threadpool(check)
    body = svc.export.stream(
        organization,
        flt,
        fmt,
        include_source=role is Role.ADMIN,
        actor=principal.as_actor(),
        source_ip=request_ip(request),
    )
    filename = export_filename(organization, flt, fmt.value)
    return StreamingResponse(
        body,
        media_type=fmt.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/export.csv",
    summary="Export events as CSV",
    description=_DESCRIPTION,
    response_class=Response,
    responses=_file(ExportFormat.CSV.media_type, "A CSV file (RFC 4180, UTF-8)."),
    openapi_extra={"parameters": query_parameters(FILTER_HELP)},
)
async def export_csv(
    request: Request, org: str, principal: Annotated[Principal, Depends(api_principal)]
) -> StreamingResponse:
    """CSV: a header row, then one event per row (RFC 4180, UTF-8, formula-safe)."""
    return await _export(request, org, principal, ExportFormat.CSV)


@router.get(
    "/export.jsonl",
    summary="Export events as JSON Lines",
    description=_DESCRIPTION,
    response_class=Response,
    responses=_file(ExportFormat.JSONL.media_type, "One event object per line."),
    openapi_extra={"parameters": query_parameters(FILTER_HELP)},
)
async def export_jsonl(
    request: Request, org: str, principal: Annotated[Principal, Depends(api_principal)]
) -> StreamingResponse:
    """JSON Lines: one event object per line, as the query API returns them."""
    return await _export(request, org, principal, ExportFormat.JSONL)


@router.get(
    "/export.zip",
    summary="Export an evidence bundle (administrators)",
    response_class=FileResponse,
    responses={
        **_file("application/zip", "The evidence bundle."),
        **error_responses(
            {
                403: "Only administrators: the bundle holds event sources.",
                422: "Bad filters, or more events than a bundle may hold.",
            }
        ),
    },
    openapi_extra={"parameters": query_parameters(FILTER_HELP)},
)
async def export_bundle(
    request: Request, org: str, principal: Annotated[Principal, Depends(api_principal)]
) -> FileResponse:
    """The matching events with an inclusion proof each, the signed checkpoint and a signed
    manifest: checkable offline with ``auditledger verify-bundle`` and the public key."""
    svc = services(request)
    organization = await run_in_threadpool(svc.tenancy.org, org)
    if org_for_reading(principal, organization) is not Role.ADMIN:
        raise Forbidden("evidence bundles hold event sources: administrators only")
    flt = parse_filters(list(request.query_params.multi_items()), svc.catalog)
    directory = tempfile.mkdtemp(prefix="auditledger-bundle-")
    path = Path(directory) / "bundle.zip"

    def build() -> None:
        with svc.db.read() as connection:
            check_known_values(connection, organization.id, flt)
        svc.export.write_bundle(
            organization, flt, path, actor=principal.as_actor(), source_ip=request_ip(request)
        )

    try:
        await run_in_threadpool(build)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type="application/zip",
        filename=export_filename(organization, flt, "zip"),
        headers={"Cache-Control": "no-store"},
        background=BackgroundTask(shutil.rmtree, directory, ignore_errors=True),
    )
