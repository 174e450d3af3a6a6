"""Checkpoints and proofs: what an auditor needs to check the log without trusting the server.

Readers of an organization (members and administrators) may fetch checkpoints and proofs;
requesting a checkpoint now is for administrators. Hashes are lowercase hex; the signed note
is served verbatim (``text/plain``) so standard C2SP tools can verify it.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from auditledger.core.canonical import format_timestamp
from auditledger.core.checkpoint import StoredCheckpoint
from auditledger.core.errors import Forbidden, NotFound
from auditledger.integrity.proofs import ConsistencyProof, InclusionProof
from auditledger.tenancy.model import Organization, Principal, Role
from auditledger.tenancy.service import org_for_reading
from auditledger.web.api.responses import (
    CheckpointOut,
    CheckpointsOut,
    ConsistencyOut,
    InclusionOut,
    KeysOut,
    error_responses,
)
from auditledger.web.auth import api_principal
from auditledger.web.context import services

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["proofs"])

# Sizes and sequence numbers are stored as 64-bit integers; larger ones are simply invalid.
MAX_SIZE = 2**63 - 1

_ERRORS = error_responses(
    {
        401: "Missing, unknown, expired or revoked credential.",
        403: "An ingest credential cannot read.",
        404: "No such organization (or one this credential cannot read), or no such checkpoint.",
        422: "A parameter is out of range; `problems` names it.",
    }
)


def checkpoint_json(checkpoint: StoredCheckpoint) -> dict[str, Any]:
    """The JSON form of a stored checkpoint."""
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash.hex(),
        "note": checkpoint.served_note,
        "key_name": checkpoint.key_name,
        "created_at": format_timestamp(checkpoint.created_at),
    }


async def _readable_org(
    request: Request, org: str, principal: Principal
) -> tuple[Organization, Role]:
    organization = await run_in_threadpool(services(request).tenancy.org, org)
    return organization, org_for_reading(principal, organization)


def _wants_json(request: Request, requested: str | None) -> bool:
    if requested is not None:
        return requested == "json"
    return "application/json" in request.headers.get("accept", "")


@router.get(
    "/checkpoint",
    summary="The latest signed checkpoint",
    response_model=None,
    responses={
        200: {
            "description": "The C2SP signed note (text/plain), or JSON with "
            "`Accept: application/json` or `?format=json`.",
            "model": CheckpointOut,
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **_ERRORS,
    },
)
async def latest_checkpoint(
    request: Request,
    org: str,
    principal: Annotated[Principal, Depends(api_principal)],
    format: Annotated[
        Literal["text", "json"] | None, Query(description="text (default) or json")
    ] = None,
) -> Response:
    """The newest checkpoint of the organization's log."""
    organization, _ = await _readable_org(request, org, principal)
    latest = await run_in_threadpool(
        services(request).checkpoints.repo.latest_checkpoint, organization.id
    )
    if latest is None:
        raise NotFound("no checkpoint has been signed for this log yet")
    if _wants_json(request, format):
        return JSONResponse(checkpoint_json(latest))
    return PlainTextResponse(latest.served_note, media_type="text/plain; charset=utf-8")


@router.get(
    "/checkpoints",
    summary="Signed checkpoints, newest first",
    response_model=None,
    responses={200: {"model": CheckpointsOut}, **_ERRORS},
)
async def list_checkpoints(
    request: Request,
    org: str,
    principal: Annotated[Principal, Depends(api_principal)],
    before: Annotated[
        int | None,
        Query(ge=1, le=MAX_SIZE, description="Only checkpoints smaller than this tree size."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
) -> dict[str, Any]:
    """One page of checkpoints; follow ``next_before`` for the next page."""
    organization, _ = await _readable_org(request, org, principal)
    found = await run_in_threadpool(
        services(request).checkpoints.repo.list_checkpoints,
        organization.id,
        before=before,
        limit=limit,
    )
    return {
        "checkpoints": [checkpoint_json(c) for c in found],
        "next_before": found[-1].tree_size if len(found) == limit else None,
    }


@router.post(
    "/checkpoints",
    summary="Sign a checkpoint now (administrators), with the witnesses' cosignatures",
    status_code=201,
    response_model=None,
    responses={
        201: {"model": CheckpointOut, "description": "Signed now."},
        200: {
            "model": CheckpointOut,
            "description": "The log has not grown since the latest checkpoint; that one.",
        },
        **_ERRORS,
        **error_responses(
            {
                403: "Only administrators may request a checkpoint.",
                409: "The log contradicts an earlier checkpoint; nothing was signed.",
                503: "No signing key is available.",
            }
        ),
    },
)
async def request_checkpoint(
    request: Request, org: str, principal: Annotated[Principal, Depends(api_principal)]
) -> JSONResponse:
    """Sign a checkpoint of the whole log as it is now."""
    organization, role = await _readable_org(request, org, principal)
    if role is not Role.ADMIN:
        raise Forbidden("only organization administrators may request a checkpoint")
    svc = services(request)
    stored, created = await run_in_threadpool(
        svc.checkpoints.checkpoint, organization.id, organization.slug
    )
    # With witnesses configured, their cosignatures come with it (asked at once, each bounded
    # by AUDITLEDGER_WITNESS_TIMEOUT_SECONDS; a failing witness is left for the next round).
    stored = await run_in_threadpool(svc.cosigning.checkpoint_cosigned, stored, organization.slug)
    return JSONResponse(checkpoint_json(stored), status_code=201 if created else 200)


def _hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def inclusion_json(proof: InclusionProof) -> dict[str, Any]:
    """The JSON form of an inclusion proof."""
    return {
        "seq": proof.seq,
        "leaf_hash": proof.leaf_hash.hex(),
        "tree_size": proof.tree_size,
        "root_hash": proof.root_hash.hex(),
        "proof": _hexes(proof.proof),
    }


def consistency_json(proof: ConsistencyProof) -> dict[str, Any]:
    """The JSON form of a consistency proof."""
    return {
        "first": proof.first,
        "second": proof.second,
        "first_root": proof.first_root.hex(),
        "second_root": proof.second_root.hex(),
        "proof": _hexes(proof.proof),
    }


@router.get(
    "/proofs/inclusion",
    summary="Prove an event is in the log (RFC 9162)",
    response_model=None,
    responses={200: {"model": InclusionOut}, **_ERRORS},
)
async def prove_inclusion(
    request: Request,
    org: str,
    principal: Annotated[Principal, Depends(api_principal)],
    event_id: Annotated[uuid.UUID | None, Query(description="The event's id.")] = None,
    seq: Annotated[
        int | None, Query(ge=0, le=MAX_SIZE, description="Or its sequence number.")
    ] = None,
    tree_size: Annotated[
        int | None,
        Query(
            ge=1, le=MAX_SIZE, description="Tree to prove against; default: the latest checkpoint."
        ),
    ] = None,
) -> dict[str, Any]:
    """The audit path of one event's leaf hash up to the root of ``tree_size`` leaves."""
    organization, _ = await _readable_org(request, org, principal)
    proof = await run_in_threadpool(
        lambda: services(request).proofs.inclusion(
            organization.id, seq=seq, event_id=event_id, tree_size=tree_size
        )
    )
    return inclusion_json(proof)


@router.get(
    "/proofs/consistency",
    summary="Prove an older tree is a prefix of a newer one (RFC 9162)",
    response_model=None,
    responses={200: {"model": ConsistencyOut}, **_ERRORS},
)
async def prove_consistency(
    request: Request,
    org: str,
    principal: Annotated[Principal, Depends(api_principal)],
    first: Annotated[int, Query(ge=1, le=MAX_SIZE, description="The older tree's size.")],
    second: Annotated[
        int | None,
        Query(
            ge=1, le=MAX_SIZE, description="The newer tree's size; default: the latest checkpoint."
        ),
    ] = None,
) -> dict[str, Any]:
    """The consistency proof from ``first`` leaves to ``second`` leaves."""
    organization, _ = await _readable_org(request, org, principal)
    proof = await run_in_threadpool(
        services(request).proofs.consistency, organization.id, first, second
    )
    return consistency_json(proof)


keys_router = APIRouter(prefix="/api/v1", tags=["proofs"])


@keys_router.get(
    "/keys",
    summary="Public keys that sign checkpoints (no credential needed)",
    response_model=None,
    responses={200: {"model": KeysOut}},
)
async def public_keys(request: Request) -> dict[str, Any]:
    """Every signing key's public half, retired ones included: old checkpoints need them."""
    registered = await run_in_threadpool(services(request).checkpoints.repo.registered_keys)
    return {
        "keys": [
            {
                "key_id": r.key.key_id_hex,
                "name": r.key.name,
                "vkey": r.key.vkey(),
                "created_at": format_timestamp(r.created_at),
                "retired_at": format_timestamp(r.retired_at) if r.retired_at else None,
            }
            for r in registered
        ]
    }
