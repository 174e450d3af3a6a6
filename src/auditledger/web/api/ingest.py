"""The ingestion API: the platform sends events here (one, or a batch stored atomically)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response
from starlette.routing import Route

from auditledger.core.errors import AuditLedgerError
from auditledger.ingest.jsonbody import parse_json_body
from auditledger.ingest.typed import decode_events
from auditledger.store.log import Receipt
from auditledger.tenancy.model import Organization, Principal
from auditledger.tenancy.service import org_for_ingest
from auditledger.web.api.responses import BatchReceiptOut, ReceiptOut, error_responses
from auditledger.web.auth import api_principal, find_org
from auditledger.web.body import read_limited, require_json
from auditledger.web.context import services
from auditledger_client.core.catalog import Catalog
from auditledger_client.core.event import EventDraft
from auditledger_client.core.validate import parse_batch, parse_event

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["ingest"])

_ERRORS = error_responses(
    {
        400: "Unreadable body: not JSON, invalid UTF-8, duplicate keys, NaN.",
        401: "Missing, unknown, expired or revoked credential.",
        403: "A read credential or a person cannot write events.",
        404: "No such organization (or not one this credential may write to).",
        409: "The event id is already stored with different content.",
        413: "An event over 64 KiB or a request over 10 MiB.",
        422: "Not a valid event; `problems` names each field and what is allowed.",
        503: "Cannot commit now (queue full or database down); retry after Retry-After.",
    }
)


def receipt_json(org: Organization, receipt: Receipt) -> dict[str, Any]:
    """The JSON form of a receipt."""
    return {
        "id": str(receipt.event_id),
        "organization": org.slug,
        "seq": receipt.seq,
        "hash": receipt.leaf_hash.hex(),
        "status": "duplicate" if receipt.duplicate else "created",
    }


async def _writable_org(request: Request, org: str, principal: Principal) -> Organization:
    organization = await find_org(request, org)
    org_for_ingest(principal, organization)
    return organization


def _count_rejection(request: Request, error: AuditLedgerError) -> None:
    services(request).metrics.events_rejected.labels(reason=error.code).inc()


# (decoded body, its length in bytes or None, received at, id source) -> drafts
Parse = Callable[[Any, int | None, datetime, Callable[[], uuid.UUID]], list[EventDraft]]

# Bodies larger than this are decoded and validated in a worker thread, so that a few large
# batches do not hold up every other request (health checks included) on the event loop; a
# small body costs less to parse than a hand-off to a thread.
OFF_LOOP_BYTES = 256 * 1024


def _decode(
    raw: bytes,
    batch: bool,
    parse: Parse,
    received_at: datetime,
    new_id: Callable[[], uuid.UUID],
    catalog: Catalog,
) -> list[EventDraft]:
    # A valid body takes the typed decoder; anything it is unsure of takes the exact path,
    # which words the 4xx (ingest/typed.py says why the two agree).
    drafts = decode_events(
        raw, batch=batch, received_at=received_at, new_id=new_id, catalog=catalog
    )
    if drafts is not None:
        return drafts
    body = parse_json_body(raw)
    return parse(body.value, body.source_bytes, received_at, new_id)


async def _ingest(
    request: Request, org: str, principal: Principal, batch: bool, parse: Parse
) -> tuple[Organization, list[Receipt]]:
    """The steps every ingest route takes, in the order that decides the status: who may write
    (401/403/404), the body (400/413), the events (422), the commit (409/503)."""
    svc = services(request)
    try:
        organization = await _writable_org(request, org, principal)
        require_json(request)
        received_at = svc.clock.now()
        raw = await read_limited(request)
        args = (raw, batch, parse, received_at, svc.ingest.new_id, svc.catalog)
        if len(raw) > OFF_LOOP_BYTES:
            drafts = await asyncio.to_thread(_decode, *args)
        else:
            drafts = _decode(*args)
        return organization, await svc.ingest.ingest(organization, drafts, received_at)
    except AuditLedgerError as exc:
        _count_rejection(request, exc)
        raise


@router.post(
    "/events",
    summary="Record one event",
    status_code=201,
    response_model=None,
    responses={
        201: {"model": ReceiptOut, "description": "Committed."},
        200: {"model": ReceiptOut, "description": "Already stored (same id, same content)."},
        **_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventIn"}}},
        }
    },
)
async def record_event(
    request: Request, org: str, principal: Annotated[Principal, Depends(api_principal)]
) -> Response:
    """Validate and durably commit one event. A 2xx means it is committed."""
    catalog = services(request).catalog

    def one(
        body: Any, size: int | None, received_at: datetime, new_id: Callable[[], uuid.UUID]
    ) -> list[EventDraft]:
        return [
            parse_event(
                body, received_at=received_at, new_id=new_id, source_bytes=size, catalog=catalog
            )
        ]

    organization, (receipt,) = await _ingest(request, org, principal, False, one)
    return _json(receipt_json(organization, receipt), 200 if receipt.duplicate else 201)


@router.post(
    "/events/batch",
    summary="Record several events atomically",
    status_code=201,
    response_model=None,
    responses={201: {"model": BatchReceiptOut, "description": "All committed."}, **_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}}},
        }
    },
)
async def record_batch(
    request: Request, org: str, principal: Annotated[Principal, Depends(api_principal)]
) -> Response:
    """Validate every event, then commit all of them or none."""
    catalog = services(request).catalog

    def batch(
        body: Any, size: int | None, received_at: datetime, new_id: Callable[[], uuid.UUID]
    ) -> list[EventDraft]:
        return parse_batch(
            body, received_at=received_at, new_id=new_id, source_bytes=size, catalog=catalog
        )

    organization, receipts = await _ingest(request, org, principal, True, batch)
    return _json({"receipts": [receipt_json(organization, r) for r in receipts]}, 201)


_ENCODE = msgspec.json.Encoder().encode


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(_ENCODE(body), status_code=status, media_type="application/json")


# The routes that serve the two operations above. FastAPI's per-request machinery (dependency
# solving, parameter validation, and its middleware stack) cost more than this whole app's
# plain-route answer, on the busiest route there is; so requests take these plain Starlette
# routes, served by the fast lane ahead of FastAPI's stack (web/fastlane.py, web/app.py), and
# the FastAPI routes above only describe the operations in the OpenAPI document (they would
# behave the same if reached). The steps and their order are the same: the credential (401)
# before anything else, then _ingest.


async def _plain_record_event(request: Request) -> Response:
    principal = await api_principal(request)
    return await record_event(request, request.path_params["org"], principal)


async def _plain_record_batch(request: Request) -> Response:
    principal = await api_principal(request)
    return await record_batch(request, request.path_params["org"], principal)


PLAIN_ROUTES = [
    Route(router.prefix + "/events", _plain_record_event, methods=["POST"]),
    Route(router.prefix + "/events/batch", _plain_record_batch, methods=["POST"]),
]
