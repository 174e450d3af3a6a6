"""The organization's "Audit Log" page and the project pages (the same view, one project).

Both read through :func:`auditledger.query.view.read_view`, like the JSON API: the newest 500
matching events, the filter described in names, and the CSV export of the same filter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Connection

from auditledger.core.errors import InvalidInput, NotFound, Problem
from auditledger.query.activity import activity
from auditledger.query.choices import filter_choices
from auditledger.query.filters import EventFilter, parse_filters
from auditledger.query.models import models_in_project
from auditledger.query.search import directory_entries, directory_entry
from auditledger.query.view import read_view
from auditledger.web.context import services
from auditledger.web.pages.checkpoint import checkpoint_panel
from auditledger.web.pages.filter_form import organization_form
from auditledger.web.pages.histogram import histogram
from auditledger.web.pages.render import render
from auditledger.web.pages.results import Crumb, org_base, results
from auditledger.web.pages.session import PageUser, page_user
from auditledger.web.pages.zone import viewer_zone, with_zone
from auditledger.web.reading import Reader, in_snapshot, query_items, reader_for

router = APIRouter(include_in_schema=False)

User = Annotated[PageUser, Depends(page_user)]


def _parse(
    items: list[tuple[str, str]], reader: Reader
) -> tuple[EventFilter | None, list[Problem]]:
    try:
        return parse_filters(items, reader.catalog), []
    except InvalidInput as exc:
        return None, exc.problems


def _view_context(
    connection: Connection,
    reader: Reader,
    items: list[tuple[str, str]],
    zone: str,
    *,
    project_id: str | None = None,
    action: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The filter form and the results (or the problems with the filter) in one snapshot."""
    flt, problems = _parse([*items, ("project", project_id)] if project_id else items, reader)
    chosen_models = [v for k, v in items if k == "model" and v.strip()]
    choices = filter_choices(
        connection, reader.org.id, versions_of=chosen_models, catalog=reader.catalog
    )
    found = None
    chart = None
    if flt is not None:
        try:
            view = read_view(connection, reader.org, flt, include_source=reader.sees_sources)
            found = results(
                view, reader, zone=zone, filter_items=flt.query_items(), since=flt.since
            )
            if now is not None:
                counted = activity(
                    connection, reader.org.id, flt, zone, now, include_source=reader.sees_sources
                )
                chart = histogram(counted, action, items, zone)
        except InvalidInput as exc:
            problems = exc.problems
    return {
        "histogram": chart,
        "form": organization_form(
            choices,
            items,
            zone,
            fixed_project=project_id is not None,
            action=action,
            now=now,
            with_sources=reader.sees_sources,
        ),
        "results": found,
        "problems": problems,
    }


@router.get("/orgs/{org}/audit-log", response_class=HTMLResponse)
async def organization_audit_log(request: Request, org: str, user: User) -> HTMLResponse:
    """Every event of the organization, filtered by date range, project, model and more."""
    reader = await reader_for(request, org, user.principal)
    zone = viewer_zone(request)
    items = with_zone(query_items(request), zone)
    now = services(request).clock.now()
    context = await in_snapshot(
        request,
        lambda c: _view_context(c, reader, items, zone, action=request.url.path, now=now),
    )
    context.update(
        user=user,
        reader=reader,
        tab="audit-log",
        title="Audit Log",
        crumbs=[Crumb(reader.org.name, org_base(reader.org.slug)), Crumb("Audit Log")],
        action=request.url.path,
        checkpoint=await checkpoint_panel(request, reader.org),
    )
    return render(request, "audit_log.html", context, status=422 if context["problems"] else 200)


@router.get("/orgs/{org}")
async def organization_home(request: Request, org: str, user: User) -> RedirectResponse:
    """The organization's home is its audit log."""
    reader = await reader_for(request, org, user.principal)
    return RedirectResponse(f"{org_base(reader.org.slug)}/audit-log", status_code=303)


@router.get("/orgs/{org}/projects", response_class=HTMLResponse)
async def projects(request: Request, org: str, user: User) -> HTMLResponse:
    """The projects seen in the organization's log."""
    reader = await reader_for(request, org, user.principal)
    entries = await in_snapshot(request, lambda c: directory_entries(c, reader.org.id, "project"))
    return render(
        request,
        "projects.html",
        {
            "user": user,
            "reader": reader,
            "tab": "projects",
            "title": "Projects",
            "crumbs": [Crumb(reader.org.name, org_base(reader.org.slug)), Crumb("Projects")],
            "projects": entries,
        },
    )


@router.get("/orgs/{org}/projects/{project_id}", response_class=HTMLResponse)
async def project(request: Request, org: str, project_id: str, user: User) -> HTMLResponse:
    """One project's audit log and its models."""
    reader = await reader_for(request, org, user.principal)
    zone = viewer_zone(request)
    items = with_zone([(k, v) for k, v in query_items(request) if k != "project"], zone)

    def work(connection: Connection) -> dict[str, Any]:
        entry = directory_entry(connection, reader.org.id, "project", project_id)
        if entry is None:
            raise NotFound(f"no project {project_id[:80]!r} in this organization")
        context = _view_context(
            connection,
            reader,
            items,
            zone,
            project_id=project_id,
            action=request.url.path,
            now=services(request).clock.now(),
        )
        context["project"] = entry
        context["models"] = models_in_project(
            connection, reader.org.id, reader.org.slug, project_id
        )
        return context

    context = await in_snapshot(request, work)
    base = org_base(reader.org.slug)
    context.update(
        user=user,
        reader=reader,
        tab="projects",
        title=context["project"].label,
        crumbs=[
            Crumb(reader.org.name, base),
            Crumb("Projects", f"{base}/projects"),
            Crumb(context["project"].label),
        ],
        action=request.url.path,
    )
    return render(request, "project.html", context, status=422 if context["problems"] else 200)
