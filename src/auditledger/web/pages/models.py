"""The models list and the model details page with its "Audit Log" tab.

The tab is pre-filtered to the model (its own events and its versions'), offers one of its
versions and a date range, and exports the same filter.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Connection

from auditledger.core.errors import InvalidInput, NotFound
from auditledger.query.activity import activity
from auditledger.query.models import list_models, model_filter, model_id_named, model_summary
from auditledger.query.view import read_view
from auditledger.web.context import services
from auditledger.web.pages.filter_form import model_form
from auditledger.web.pages.histogram import histogram
from auditledger.web.pages.render import render
from auditledger.web.pages.results import Crumb, org_base, results
from auditledger.web.pages.session import PageUser, page_user
from auditledger.web.pages.zone import viewer_zone, with_zone
from auditledger.web.reading import in_snapshot, query_items, reader_for

router = APIRouter(include_in_schema=False)

User = Annotated[PageUser, Depends(page_user)]


@router.get("/orgs/{org}/models", response_class=HTMLResponse)
async def models(request: Request, org: str, user: User) -> HTMLResponse:
    """Every model seen in the organization's log."""
    reader = await reader_for(request, org, user.principal)
    found = await in_snapshot(request, lambda c: list_models(c, reader.org.id, reader.org.slug))
    return render(
        request,
        "models.html",
        {
            "user": user,
            "reader": reader,
            "tab": "models",
            "title": "Models",
            "crumbs": [Crumb(reader.org.name, org_base(reader.org.slug)), Crumb("Models")],
            "models": found,
        },
    )


@router.get("/orgs/{org}/models/{model_id}", response_class=HTMLResponse, response_model=None)
async def model(
    request: Request, org: str, model_id: str, user: User
) -> HTMLResponse | RedirectResponse:
    """A model's details and its "Audit Log" tab; a model's current name leads to its id."""
    reader = await reader_for(request, org, user.principal)
    zone = viewer_zone(request)
    items = with_zone(query_items(request), zone)

    now = services(request).clock.now()

    def work(connection: Connection) -> dict[str, Any]:
        summary = model_summary(connection, reader.org.id, reader.org.slug, model_id)
        context: dict[str, Any] = {"model": summary, "results": None, "problems": []}
        try:
            flt = model_filter(connection, reader.org.id, model_id, items)
            view = read_view(connection, reader.org, flt, include_source=reader.sees_sources)
            context["results"] = results(
                view, reader, zone=zone, filter_items=flt.query_items(), since=flt.since
            )
            counted = activity(
                connection, reader.org.id, flt, zone, now, include_source=reader.sees_sources
            )
            context["histogram"] = histogram(counted, request.url.path, items, zone)
        except InvalidInput as exc:
            context["problems"] = exc.problems
        context["form"] = model_form(summary.versions, items, zone)
        return context

    base = org_base(reader.org.slug)
    try:
        context = await in_snapshot(request, work)
    except NotFound:
        named = await in_snapshot(request, lambda c: model_id_named(c, reader.org.id, model_id))
        if named is None:
            raise
        target = f"{base}/models/{quote(named, safe='')}"
        query = request.url.query
        # Temporary: the name may pass to another model later; the id never does.
        return RedirectResponse(f"{target}?{query}" if query else target, status_code=307)
    summary = context["model"]
    crumbs = [Crumb(reader.org.name, base), Crumb("Models", f"{base}/models"), Crumb(summary.label)]
    context.update(
        user=user,
        reader=reader,
        tab="models",
        title=summary.label,
        crumbs=crumbs,
        action=request.url.path,
    )
    return render(request, "model.html", context, status=422 if context["problems"] else 200)
