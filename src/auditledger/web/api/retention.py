"""Retention settings of an organization: read by its members, changed by its admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from auditledger.core.canonical import format_timestamp
from auditledger.core.errors import Forbidden
from auditledger.retention import policy
from auditledger.retention.audit import purge_problems
from auditledger.tenancy.model import Organization, Principal, Role
from auditledger.tenancy.service import org_for_reading
from auditledger.web.api.responses import RetentionOut, error_responses
from auditledger.web.auth import api_principal
from auditledger.web.client import request_ip
from auditledger.web.context import services

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["retention"])

_READ = {
    401: "Missing, unknown, expired or revoked credential.",
    403: "An ingest credential cannot read.",
    404: "No such organization (or one the caller may not read).",
    422: "The request is not valid; `problems` names what.",
}
_CHANGE = {
    **_READ,
    400: "Unreadable body: not JSON encoded as UTF-8.",
    403: "Only the organization's administrators may change it.",
    422: "Not a valid value (for example below the floor); `problems` names it.",
}


class RetentionIn(BaseModel):
    """A new retention period; null returns to the deployment default."""

    model_config = ConfigDict(extra="forbid")
    days: int | None = Field(
        ge=1,
        le=policy.MAX_DAYS,
        description="Days to keep events, counted from their date (at least the deployment's "
        "floor).",
    )


class LegalHoldIn(BaseModel):
    """Place (true) or release (false) a legal hold."""

    model_config = ConfigDict(extra="forbid")
    hold: bool
    reason: str | None = Field(default=None, max_length=1024)


def _state(request: Request, org: Organization) -> dict[str, Any]:
    svc = services(request)
    days = svc.retention.days(org)
    with svc.db.read() as connection:
        records = purge_problems(
            connection, org.id, svc.settings.retention_days, svc.settings.retention_floor_days
        )
    return {
        "organization": org.slug,
        "days": days,
        "default_days": svc.settings.retention_days,
        "floor_days": svc.settings.retention_floor_days,
        "cutoff": format_timestamp(policy.cutoff(svc.clock.now(), days)),
        "legal_hold": org.legal_hold,
        "legal_hold_reason": org.legal_hold_reason,
        "purges": [
            {
                "id": str(r.purge_id),
                "ran_at": format_timestamp(r.ran_at),
                "cutoff": format_timestamp(r.cutoff),
                "count": r.count,
                "attested_by_seq": r.attested_seq,
                "problem": problem,
            }
            for r, problem in records[-20:]
        ],
    }


async def _org(request: Request, org: str, principal: Principal, *, admin: bool) -> Organization:
    organization = await run_in_threadpool(services(request).tenancy.org, org)
    role = org_for_reading(principal, organization)
    if admin and role is not Role.ADMIN:
        raise Forbidden("only the organization's administrators may change retention")
    return organization


@router.get(
    "/retention",
    summary="Retention period, legal hold and recent purges",
    response_model=None,
    responses={200: {"model": RetentionOut}, **error_responses(_READ)},
)
async def get_retention(
    request: Request, org: str, principal: Annotated[Principal, Depends(api_principal)]
) -> dict[str, Any]:
    """How long events are kept, what goes next, and the last purges."""
    organization = await _org(request, org, principal, admin=False)
    return await run_in_threadpool(_state, request, organization)


@router.put(
    "/retention",
    summary="Change the retention period (admins)",
    response_model=None,
    responses={200: {"model": RetentionOut}, **error_responses(_CHANGE)},
)
async def put_retention(
    request: Request,
    org: str,
    body: RetentionIn,
    principal: Annotated[Principal, Depends(api_principal)],
) -> dict[str, Any]:
    """Recorded in the log as ``audit_log.retention_change``; never below the floor."""
    organization = await _org(request, org, principal, admin=True)
    svc = services(request)
    updated = await run_in_threadpool(
        lambda: svc.retention.set_retention(
            organization, body.days, actor=principal.as_actor(), source_ip=request_ip(request)
        )
    )
    return await run_in_threadpool(_state, request, updated)


@router.put(
    "/legal-hold",
    summary="Place or release a legal hold (admins)",
    response_model=None,
    responses={200: {"model": RetentionOut}, **error_responses(_CHANGE)},
)
async def put_legal_hold(
    request: Request,
    org: str,
    body: LegalHoldIn,
    principal: Annotated[Principal, Depends(api_principal)],
) -> dict[str, Any]:
    """Recorded as ``audit_log.legal_hold_change``; a held organization is never purged."""
    organization = await _org(request, org, principal, admin=True)
    svc = services(request)
    updated = await run_in_threadpool(
        lambda: svc.retention.set_legal_hold(
            organization,
            body.hold,
            reason=body.reason,
            actor=principal.as_actor(),
            source_ip=request_ip(request),
        )
    )
    return await run_in_threadpool(_state, request, updated)
