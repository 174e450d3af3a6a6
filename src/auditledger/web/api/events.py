"""The query API: an organization's events, one event, and the values the filters accept.

Read credentials and signed-in browser sessions may call it. Administrators get each event's
``source``; for members the key is absent from every event, never an empty value.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from auditledger.core.errors import InvalidInput, NotFound, Problem
from auditledger.events.render import event_json
from auditledger.query.choices import filter_choices
from auditledger.query.filters import MULTI_VALUED, parse_filters
from auditledger.query.search import Cursor
from auditledger.query.view import View, read_view, view_limit
from auditledger.tenancy.model import Principal
from auditledger.web.api.responses import EventOut, FiltersOut, ViewOut, error_responses
from auditledger.web.auth import api_principal
from auditledger.web.context import services
from auditledger.web.reading import in_snapshot, query_items, reader_for, record_read, single

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["query"])

PAGING = ("limit", "cursor")

READ_ERRORS = error_responses(
    {
        401: "Missing, unknown, expired or revoked credential.",
        403: "An ingest credential cannot read.",
        404: "No such organization (or one the caller may not read), or no such item in it.",
        422: "A filter, value, date or cursor is not valid; `problems` names each.",
    }
)

FILTER_HELP = {
    "q": (
        'Search: words and "quoted phrases" (all must match; `word*` a prefix) over subject,'
        " parent, project and actor names and ids and property values, and qualifiers"
        " `actor:` `project:` `model:` (id or current name) `type:` `category:` `ip:`"
        " (administrators only) `before:` `after:` (dates, exclusive). See docs/search.md."
    ),
    "from": "Start, inclusive: a date (2026-05-01, the whole day in `tz`) or a date-time.",
    "to": "End, inclusive: a date (through the end of that day in `tz`) or a date-time.",
    "tz": "IANA time zone for dates and date-times without an offset (default UTC).",
    "project": "Project id (repeat for several).",
    "model": "Model id: the model's events and its versions' (repeat for several).",
    "model_version": "Model version id (repeat for several).",
    "category": "Event category, e.g. model (repeat for several).",
    "type": "Event type, `category.type` or a bare type matching every category that has it.",
    "actor": "Actor id (repeat for several).",
    "subject": "Subject id (repeat for several).",
}
PAGING_HELP = {
    "limit": "Events per response: default and maximum 500 (the view); with `cursor`, up to 1000.",
    "cursor": "`next_cursor` of the previous response, to continue to older events.",
}


# Blank is allowed and means "no bound": the filter parser is shared with the pages, whose
# forms send empty fields.
_DATE_OR_TIME = {
    "anyOf": [
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
        {"type": "string", "enum": [""]},
    ]
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "from": _DATE_OR_TIME,
    "to": _DATE_OR_TIME,
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
    "bom": {"type": "boolean"},
}


def _parameter(name: str, help_text: str) -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "description": help_text,
        "schema": _SCHEMAS.get(name, {"type": "string"}),
    }
    if name in MULTI_VALUED:
        parameter["schema"] = {"type": "array", "items": {"type": "string"}}
        parameter.update(style="form", explode=True)
    return parameter


def query_parameters(names: dict[str, str]) -> list[dict[str, Any]]:
    """OpenAPI parameter objects for query-string names parsed by hand."""
    return [_parameter(name, text) for name, text in names.items()]


def paging(request: Request) -> tuple[int, Cursor | None]:
    """The ``limit`` and ``cursor`` of a request, checked."""
    cursor_text = single(request, "cursor")
    after = Cursor.decode(cursor_text) if cursor_text else None
    # Unlike the filters, a blank limit is not "no limit given": the document says integer.
    limits = request.query_params.getlist("limit")
    limit_text = limits[-1].strip() if limits else None
    requested: int | None = None
    if limit_text is not None:
        try:
            requested = int(limit_text)
        except ValueError:
            raise InvalidInput(
                "invalid limit", [Problem("limit", f"{limit_text[:20]!r} is not a whole number")]
            ) from None
    return view_limit(requested, continuing=after is not None), after


def view_json(view: View, *, include_source: bool) -> dict[str, Any]:
    """The JSON document of a view (the events API and the model events API)."""
    return {
        "events": [event_json(e, include_source=include_source) for e in view.page.events],
        "count": len(view.page.events),
        "has_more": view.page.has_more,
        "next_cursor": view.page.next_cursor.encode() if view.page.next_cursor else None,
        "filters": view.description,
        "limit": view.limit,
    }


@router.get(
    "/events",
    summary="Search the organization's events, newest first",
    response_model=None,
    responses={200: {"model": ViewOut}, **READ_ERRORS},
    openapi_extra={"parameters": query_parameters({**FILTER_HELP, **PAGING_HELP})},
)
async def list_events(
    request: Request, org: str, principal: Annotated[Principal, Depends(api_principal)]
) -> dict[str, Any]:
    """The newest matching events (at most 500), with a cursor to continue."""
    reader = await reader_for(request, org, principal)
    flt = parse_filters(query_items(request, exclude=PAGING), reader.catalog)
    limit, after = paging(request)
    view = await in_snapshot(
        request,
        lambda c: read_view(
            c, reader.org, flt, limit=limit, after=after, include_source=reader.sees_sources
        ),
    )
    await record_read(request, reader, principal, "GET /events", view.recorded_description)
    return view_json(view, include_source=reader.sees_sources)


@router.get(
    "/events/{event_id}",
    summary="One event",
    response_model=None,
    responses={200: {"model": EventOut}, **READ_ERRORS},
)
async def get_event(
    request: Request,
    org: str,
    event_id: str,
    principal: Annotated[Principal, Depends(api_principal)],
) -> dict[str, Any]:
    """The event with this id; 404 if this organization's log has none (or purged it)."""
    reader = await reader_for(request, org, principal)
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        raise InvalidInput(
            "invalid event id", [Problem("event_id", f"{event_id[:80]!r} is not a UUID")]
        ) from None
    event = await run_in_threadpool(
        services(request).log.event_by_id, reader.org.id, reader.org.slug, parsed
    )
    if event is None:
        raise NotFound(f"no event {event_id!r} in this organization's log")
    await record_read(request, reader, principal, "GET /events/{id}", f"event {parsed}")
    return event_json(event, include_source=reader.sees_sources)


def _entries(entries: Any, *, with_parent: bool = False) -> list[dict[str, Any]]:
    out = []
    for e in entries:
        item: dict[str, Any] = {"id": e.id, "name": e.name}
        if with_parent:
            item["model"] = e.parent_id
        out.append(item)
    return out


@router.get(
    "/filters",
    summary="The values each filter accepts",
    response_model=None,
    responses={200: {"model": FiltersOut}, **READ_ERRORS},
)
async def get_filters(
    request: Request, org: str, principal: Annotated[Principal, Depends(api_principal)]
) -> dict[str, Any]:
    """Projects, models, model versions and actors seen in the log; categories and types."""
    reader = await reader_for(request, org, principal)
    choices = await in_snapshot(
        request, lambda c: filter_choices(c, reader.org.id, catalog=reader.catalog)
    )
    return {
        "projects": _entries(choices.projects),
        "models": _entries(choices.models),
        "model_versions": _entries(choices.model_versions, with_parent=True),
        "actors": _entries(choices.actors),
        "categories": [{"key": c.key, "label": c.label} for c in choices.categories],
        "types": [
            {"key": t.value, "category": t.category, "type": t.type, "label": t.label}
            for c in choices.categories
            for t in c.types
        ],
    }
