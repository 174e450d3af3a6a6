"""Export routes: every matching event as CSV or JSON Lines, streamed, no cap."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from auditledger.core.errors import Forbidden, InvalidInput, Problem
from auditledger.export.service import ExportFormat, ExportRun, export_filename
from auditledger.query.filters import parse_filters
from auditledger.query.search import check_known_values, check_source_access
from auditledger.tenancy.model import Principal, Role
from auditledger.tenancy.service import org_for_reading
from auditledger.web.api.events import FILTER_HELP, READ_ERRORS, query_parameters
from auditledger.web.api.responses import error_responses
from auditledger.web.auth import api_principal
from auditledger.web.client import request_ip
from auditledger.web.context import services
from auditledger.web.reading import query_items, single

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["export"])

_DESCRIPTION = """\
Every event matching the filters (the same filters as the view: `from`, `to`, `tz`, `project`,
`model`, `model_version`, `category`, `type`, `actor`, `subject`), oldest first, streamed.
Source columns appear only for administrators. The export is recorded in the log
(`audit_log.export`: who, filters, format, exact row count, address) before the first byte;
if that record cannot be committed the answer is an error and no row is sent. A response
cut short by an error ends without the final HTTP chunk, so clients see an incomplete transfer
rather than a short file."""


BOM_HELP = {"bom": "`true` starts the file with a UTF-8 byte order mark (for Excel)."}


def _file(media_type: str, what: str) -> dict[int | str, dict[str, Any]]:
    # The body is a file, not JSON; errors before the first byte are the usual JSON errors.
    bare = media_type.split(";")[0]
    return {
        200: {"description": what, "content": {bare: {"schema": {"type": "string"}}}},
        **READ_ERRORS,
    }


def _bom(request: Request) -> bool:
    value = single(request, "bom")
    if value is None or value.lower() in ("false", "0"):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise InvalidInput("invalid bom", [Problem("bom", "must be true or false")])


async def _export(
    request: Request, org: str, principal: Principal, fmt: ExportFormat
) -> StreamingResponse:
    svc = services(request)
    organization = await run_in_threadpool(svc.tenancy.org, org)
    role = org_for_reading(principal, organization)
    flt = parse_filters(query_items(request, exclude=("bom",)), svc.catalog)
    run = ExportRun(bom=_bom(request) if fmt is ExportFormat.CSV else False)
    # Before the stream starts: once it has, an error can no longer be a clean 422.
    check_source_access(flt, include_source=role is Role.ADMIN)

    def begin() -> Iterator[bytes]:
        with svc.db.read() as connection:
            check_known_values(connection, organization.id, flt)
        # Records the export before returning: nothing is sent if that fails.
        return svc.export.stream(
            organization,
            flt,
            fmt,
            include_source=role is Role.ADMIN,
            actor=principal.as_actor(),
            source_ip=request_ip(request),
            run=run,
        )

    body = await run_in_threadpool(begin)
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
    openapi_extra={"parameters": query_parameters({**FILTER_HELP, **BOM_HELP})},
)
async def export_csv(
    request: Request, org: str, principal: Annotated[Principal, Depends(api_principal)]
) -> StreamingResponse:
    """CSV: a header row, then one event per row (RFC 4180, UTF-8, every cell quoted,
    formula-safe under any separator); ``bom=true`` adds a UTF-8 byte order mark."""
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
    description="Built completely before the first byte; its cost grows with the number of "
    "events (an inclusion proof each): a full-range bundle of a large organization takes tens "
    "of seconds. Narrow `from`/`to` for faster bundles.",
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
    manifest: checkable offline with ``auditledger verify-bundle`` and the public key.

    The bundle is built completely (in a temporary file) before its first byte is sent, and
    its cost grows with the events it holds: an inclusion proof each. A full-range bundle
    of a large organization takes tens of seconds (31-51 s were measured for the demo-sized
    log in issue 16); narrow ``from``/``to`` for faster ones."""
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
