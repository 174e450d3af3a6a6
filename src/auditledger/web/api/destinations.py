"""Streaming destinations of an organization: administrators only, every change recorded."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from auditledger.core.canonical import format_timestamp
from auditledger.core.errors import Forbidden
from auditledger.streaming.model import Destination
from auditledger.streaming.service import Action
from auditledger.streaming.status import destination_status
from auditledger.streaming.worker import wall_clock
from auditledger.tenancy.model import Organization, Principal, Role
from auditledger.tenancy.service import org_for_reading
from auditledger.web.api.responses import DestinationListOut, DestinationOut, error_responses
from auditledger.web.auth import api_principal
from auditledger.web.client import request_ip
from auditledger.web.context import services

router = APIRouter(prefix="/api/v1/orgs/{org}/destinations", tags=["streaming"])

_READ = {
    401: "Missing, unknown, expired or revoked credential.",
    403: "Only the organization's administrators manage destinations.",
    404: "No such organization or destination (or one the caller may not read).",
    422: "The request is not valid; `problems` names what.",
}
_CHANGE = {**_READ, 400: "Unreadable body: not JSON encoded as UTF-8."}

FilterValues = dict[str, str | list[str]]


class DestinationIn(BaseModel):
    """A new destination."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    transport: str = Field(description="webhook, syslog or nats.")
    settings: dict[str, str | bool | int] = Field(
        description="webhook: url, format (json or splunk_hec); syslog: host, port, app_name, "
        "tls, tls_ca (PEM), tls_verify, tls_client_cert (PEM); nats: url, subject_prefix."
    )
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Write-only. webhook: hmac_key, token; syslog: tls_client_key (PEM); "
        "nats: token. Never returned.",
    )
    filters: FilterValues = Field(
        default_factory=dict,
        description="The view's filters: from, to, tz, project, model, model_version, "
        "category, type, actor, subject.",
    )
    include_source: bool = Field(
        default=False, description="Send IP addresses and locations (administrators decide)."
    )
    start_seq: int | None = Field(
        default=None, ge=0, description="First sequence number to deliver; default: from now."
    )
    paused: bool = False


class DestinationChangeIn(BaseModel):
    """Changes to a destination; what is absent stays as it is."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=128)
    settings: dict[str, str | bool | int] | None = None
    secrets: dict[str, str] | None = Field(default=None, description="Replaces the named secrets.")
    filters: FilterValues | None = None
    include_source: bool | None = None


def _items(filters: FilterValues) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for name, value in filters.items():
        for one in [value] if isinstance(value, str) else value:
            items.append((name, one))
    return items


def _stamp(value: Any) -> str | None:
    return format_timestamp(value) if value is not None else None


def destination_out(request: Request, org: Organization, d: Destination) -> dict[str, Any]:
    """The JSON of one destination, with its lag; never a secret's value."""
    status = destination_status(services(request).db, d, wall_clock())
    return {
        "id": str(d.id),
        "organization": org.slug,
        "name": d.name,
        "transport": d.transport.value,
        "settings": d.settings,
        "secrets": d.secret_names(),
        "filters": [list(item) for item in d.filters],
        "filters_description": d.event_filter.describe(),
        "include_source": d.include_source,
        "state": d.state.value,
        "next_seq": d.next_seq,
        "delivered": d.delivered,
        "failed": d.failed,
        "attempts": d.attempts,
        "next_attempt_at": _stamp(d.next_attempt_at),
        "last_error": d.last_error,
        "last_delivered_at": _stamp(d.last_delivered_at),
        "lag_events": status.lag_events,
        "lag_seconds": round(status.lag_seconds, 3),
        "created_at": format_timestamp(d.created_at),
        "updated_at": format_timestamp(d.updated_at),
    }


async def _admin_org(request: Request, org: str, principal: Principal) -> Organization:
    organization = await run_in_threadpool(services(request).tenancy.org, org)
    if org_for_reading(principal, organization) is not Role.ADMIN:
        raise Forbidden("only the organization's administrators may manage destinations")
    return organization


@router.get(
    "",
    summary="List destinations (admins)",
    response_model=None,
    responses={200: {"model": DestinationListOut}, **error_responses(_READ)},
)
async def list_destinations(
    request: Request, org: str, principal: Annotated[Principal, Depends(api_principal)]
) -> dict[str, Any]:
    """Every destination of the organization, with its delivery state and lag."""
    organization = await _admin_org(request, org, principal)

    def listing() -> dict[str, Any]:
        found = services(request).destinations.list(organization)
        return {"destinations": [destination_out(request, organization, d) for d in found]}

    return await run_in_threadpool(listing)


@router.post(
    "",
    status_code=201,
    summary="Create a destination (admins)",
    response_model=None,
    responses={201: {"model": DestinationOut}, **error_responses(_CHANGE)},
)
async def create_destination(
    request: Request,
    org: str,
    body: DestinationIn,
    principal: Annotated[Principal, Depends(api_principal)],
) -> dict[str, Any]:
    """Recorded as ``audit_log.destination_create``; the target must be in an allowed network."""
    organization = await _admin_org(request, org, principal)

    def create() -> dict[str, Any]:
        created = services(request).destinations.create(
            organization,
            name=body.name,
            transport=body.transport,
            settings=body.settings,
            secrets=body.secrets,
            filters=_items(body.filters),
            include_source=body.include_source,
            start_seq=body.start_seq,
            paused=body.paused,
            actor=principal.as_actor(),
            source_ip=request_ip(request),
        )
        return destination_out(request, organization, created)

    return await run_in_threadpool(create)


@router.get(
    "/{destination}",
    summary="One destination (admins)",
    response_model=None,
    responses={200: {"model": DestinationOut}, **error_responses(_READ)},
)
async def get_destination(
    request: Request,
    org: str,
    destination: str,
    principal: Annotated[Principal, Depends(api_principal)],
) -> dict[str, Any]:
    """A destination by id or name."""
    organization = await _admin_org(request, org, principal)

    def one() -> dict[str, Any]:
        found = services(request).destinations.get(organization, destination)
        return destination_out(request, organization, found)

    return await run_in_threadpool(one)


@router.patch(
    "/{destination}",
    summary="Change a destination (admins)",
    response_model=None,
    responses={200: {"model": DestinationOut}, **error_responses(_CHANGE)},
)
async def change_destination(
    request: Request,
    org: str,
    destination: str,
    body: DestinationChangeIn,
    principal: Annotated[Principal, Depends(api_principal)],
) -> dict[str, Any]:
    """Recorded as ``audit_log.destination_change`` with the names of the changed fields."""
    organization = await _admin_org(request, org, principal)

    def change() -> dict[str, Any]:
        svc = services(request).destinations
        updated = svc.change(
            organization,
            svc.get(organization, destination),
            name=body.name,
            settings=body.settings,
            secrets=body.secrets,
            filters=_items(body.filters) if body.filters is not None else None,
            include_source=body.include_source,
            actor=principal.as_actor(),
            source_ip=request_ip(request),
        )
        return destination_out(request, organization, updated)

    return await run_in_threadpool(change)


def _state_route(action: Action, summary: str, doc: str) -> None:
    async def route(
        request: Request,
        org: str,
        destination: str,
        principal: Annotated[Principal, Depends(api_principal)],
    ) -> dict[str, Any]:
        organization = await _admin_org(request, org, principal)

        def act() -> dict[str, Any]:
            svc = services(request).destinations
            updated = svc.transition(
                organization,
                svc.get(organization, destination),
                action,
                actor=principal.as_actor(),
                source_ip=request_ip(request),
            )
            return destination_out(request, organization, updated)

        return await run_in_threadpool(act)

    route.__doc__ = doc
    route.__name__ = f"{action}_destination"
    router.add_api_route(
        f"/{{destination}}/{action}",
        route,
        methods=["POST"],
        summary=summary,
        response_model=None,
        responses={200: {"model": DestinationOut}, **error_responses(_READ)},
    )


_state_route(Action.PAUSE, "Pause a destination (admins)", "Stop delivering; the cursor stays.")
_state_route(
    Action.RESUME, "Resume a destination (admins)", "Deliver again from the cursor after a pause."
)
_state_route(
    Action.RETRY,
    "Retry a dead-lettered destination (admins)",
    "Deliver again from the cursor after retries ran out; recorded as a resume.",
)


@router.delete(
    "/{destination}",
    status_code=204,
    summary="Delete a destination (admins)",
    response_class=Response,
    responses={204: {"description": "Deleted."}, **error_responses(_READ)},
)
async def delete_destination(
    request: Request,
    org: str,
    destination: str,
    principal: Annotated[Principal, Depends(api_principal)],
) -> Response:
    """Recorded as ``audit_log.destination_delete``."""
    organization = await _admin_org(request, org, principal)

    def remove() -> None:
        svc = services(request).destinations
        svc.delete(
            organization,
            svc.get(organization, destination),
            actor=principal.as_actor(),
            source_ip=request_ip(request),
        )

    await run_in_threadpool(remove)
    return Response(status_code=204)
