"""The models view API: the organization's models, one model, and a model's events.

A model's events are its own and its versions'; ``version`` narrows them to one version of that
model (a version of another model is a 422). Only a date range filters further, as in the UI.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from auditledger.core.canonical import format_timestamp
from auditledger.query.models import ModelSummary, list_models, model_filter, model_summary
from auditledger.query.search import DirectoryEntry
from auditledger.query.view import read_view
from auditledger.tenancy.model import Principal
from auditledger.web.api.events import (
    PAGING,
    PAGING_HELP,
    READ_ERRORS,
    paging,
    query_parameters,
    view_json,
)
from auditledger.web.api.responses import ModelOut, ModelsOut, ViewOut
from auditledger.web.auth import api_principal
from auditledger.web.reading import in_snapshot, query_items, reader_for, record_read

router = APIRouter(prefix="/api/v1/orgs/{org}/models", tags=["models"])

_MODEL_VIEW_HELP = {
    "version": "A model version id of this model.",
    "from": "Start, inclusive: a date (the whole day in `tz`) or a date-time.",
    "to": "End, inclusive: a date (through the end of that day in `tz`) or a date-time.",
    "tz": "IANA time zone for dates (default UTC).",
}


def _version(entry: DirectoryEntry) -> dict[str, Any]:
    return {"id": entry.id, "name": entry.name, "last_seen": format_timestamp(entry.last_seen)}


def model_json(model: ModelSummary, *, with_versions: bool) -> dict[str, Any]:
    """A model: id, latest name, project, when last seen, and its versions (or their count)."""
    body: dict[str, Any] = {
        "id": model.id,
        "name": model.entry.name,
        "project": {"id": model.project.id, "name": model.project.name} if model.project else None,
        "last_seen": format_timestamp(model.entry.last_seen),
        "version_count": len(model.versions),
    }
    if with_versions:
        body["versions"] = [_version(v) for v in model.versions]
        body["earlier_names"] = model.earlier_names
    return body


@router.get(
    "",
    summary="The organization's models",
    response_model=None,
    responses={200: {"model": ModelsOut}, **READ_ERRORS},
)
async def get_models(
    request: Request, org: str, principal: Annotated[Principal, Depends(api_principal)]
) -> dict[str, Any]:
    """Every model seen in the log, by name."""
    reader = await reader_for(request, org, principal)
    models = await in_snapshot(request, lambda c: list_models(c, reader.org.id, reader.org.slug))
    return {"models": [model_json(m, with_versions=False) for m in models]}


@router.get(
    "/{model_id}",
    summary="One model and its versions",
    response_model=None,
    responses={200: {"model": ModelOut}, **READ_ERRORS},
)
async def get_model(
    request: Request,
    org: str,
    model_id: str,
    principal: Annotated[Principal, Depends(api_principal)],
) -> dict[str, Any]:
    """The model, or 404."""
    reader = await reader_for(request, org, principal)
    model = await in_snapshot(
        request, lambda c: model_summary(c, reader.org.id, reader.org.slug, model_id)
    )
    return model_json(model, with_versions=True)


@router.get(
    "/{model_id}/events",
    summary="A model's events and its versions', newest first",
    response_model=None,
    responses={200: {"model": ViewOut}, **READ_ERRORS},
    openapi_extra={"parameters": query_parameters({**_MODEL_VIEW_HELP, **PAGING_HELP})},
)
async def get_model_events(
    request: Request,
    org: str,
    model_id: str,
    principal: Annotated[Principal, Depends(api_principal)],
) -> dict[str, Any]:
    """The model's newest events (at most 500), optionally of one version, in a date range."""
    reader = await reader_for(request, org, principal)
    items = query_items(request, exclude=PAGING)
    limit, after = paging(request)

    def work(connection: Any) -> Any:
        flt = model_filter(connection, reader.org.id, model_id, items)
        return read_view(
            connection,
            reader.org,
            flt,
            limit=limit,
            after=after,
            include_source=reader.sees_sources,
        )

    view = await in_snapshot(request, work)
    await record_read(
        request, reader, principal, "GET /models/{id}/events", view.recorded_description
    )
    return view_json(view, include_source=reader.sees_sources)
