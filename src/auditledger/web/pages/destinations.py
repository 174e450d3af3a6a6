"""The "Destinations" pages: an organization's administrators manage where its log streams.

Plain forms posted with the session's CSRF token, so everything works without JavaScript; each
change goes through :class:`~auditledger.streaming.service.DestinationService`, like the API
and the CLI, and is recorded in the log. Members get 403, other organizations 404 (as on the
API), and the tab is shown to administrators only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from auditledger.core.errors import Forbidden, InvalidInput, NotFound, Problem
from auditledger.services import Services
from auditledger.streaming.model import Destination, State, target_host
from auditledger.streaming.service import Action, check_action
from auditledger.streaming.status import DestinationStatus, destination_status
from auditledger.streaming.worker import wall_clock
from auditledger.tenancy.model import Role
from auditledger.web.context import services
from auditledger.web.pages.destination_form import (
    DestinationForm,
    blank_form,
    edit_form,
    read_submitted,
    refilled,
)
from auditledger.web.pages.forms import first_values, form_items
from auditledger.web.pages.render import render
from auditledger.web.pages.results import Crumb, org_base
from auditledger.web.pages.session import PageUser, check_csrf, page_user, request_ip
from auditledger.web.reading import Reader, reader_for

router = APIRouter(include_in_schema=False)

User = Annotated[PageUser, Depends(page_user)]

MAX_FORM_BYTES = 256 * 1024  # PEM certificates fit
MAX_FIELDS = 80

# What the list says after a change (the query string names only the kind of change).
NOTICES = {
    "created": "Destination created.",
    "changed": "Changes saved.",
    "unchanged": "Nothing was changed.",
    "pause": "Destination paused: nothing is delivered until it is resumed.",
    "resume": "Destination resumed: delivery continues from its cursor.",
    "retry": "Retrying: delivery starts again from the cursor.",
    "deleted": "Destination deleted.",
}


@dataclass(frozen=True)
class Row:
    """One destination as the list shows it."""

    destination: Destination
    status: DestinationStatus
    target: str
    href: str

    @property
    def actions(self) -> list[tuple[str, str]]:
        """The state changes offered: (action, button label)."""
        state = self.destination.state
        if state is State.ACTIVE:
            return [("pause", "Pause")]
        if state is State.PAUSED:
            return [("resume", "Resume")]
        return [("retry", "Retry"), ("pause", "Pause")]


async def _admin(request: Request, org: str, user: PageUser) -> Reader:
    reader = await reader_for(request, org, user.principal)
    if reader.role is not Role.ADMIN:
        raise Forbidden("only the organization's administrators manage destinations")
    return reader


def _base(reader: Reader) -> str:
    return f"{org_base(reader.org.slug)}/destinations"


def _crumbs(reader: Reader, last: str | None = None) -> list[Crumb]:
    crumbs = [Crumb(reader.org.name, org_base(reader.org.slug))]
    if last is None:
        return [*crumbs, Crumb("Destinations")]
    return [*crumbs, Crumb("Destinations", _base(reader)), Crumb(last)]


def _target(destination: Destination) -> str:
    host, port = target_host(destination.transport, destination.settings)
    if destination.transport.value == "syslog":
        scheme = "tls" if destination.settings.get("tls") else "tcp"
        return f"{scheme}://{host}:{port}"
    return str(destination.settings.get("url", f"{host}:{port}"))


def _row(svc: Services, reader: Reader, d: Destination) -> Row:
    href = f"{_base(reader)}/{quote(str(d.id), safe='')}"
    return Row(d, destination_status(svc.db, d, wall_clock()), _target(d), href)


async def _items(request: Request, user: PageUser) -> list[tuple[str, str]]:
    items = await form_items(request, max_bytes=MAX_FORM_BYTES, max_fields=MAX_FIELDS)
    check_csrf(user.csrf_token, first_values(items).get("csrf_token"))
    return items


def _done(reader: Reader, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{_base(reader)}?done={notice}", status_code=303)


@router.get("/orgs/{org}/destinations", response_class=HTMLResponse)
async def destinations_page(request: Request, org: str, user: User) -> HTMLResponse:
    """Every destination with its state, lag, counters, last error and state buttons."""
    reader = await _admin(request, org, user)
    svc = services(request)

    def rows() -> list[Row]:
        return [_row(svc, reader, d) for d in svc.destinations.list(reader.org)]

    context: dict[str, Any] = {
        "user": user,
        "reader": reader,
        "tab": "destinations",
        "title": "Destinations",
        "crumbs": _crumbs(reader),
        "rows": await run_in_threadpool(rows),
        "action": _base(reader),
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    return render(request, "destinations.html", context)


def _form_page(
    request: Request,
    user: PageUser,
    reader: Reader,
    form: DestinationForm,
    *,
    row: Row | None = None,
    status: int = 200,
) -> HTMLResponse:
    title = f"Destination {row.destination.name}" if row else "New destination"
    context: dict[str, Any] = {
        "user": user,
        "reader": reader,
        "tab": "destinations",
        "title": title,
        "crumbs": _crumbs(reader, row.destination.name if row else "New"),
        "form": form,
        "row": row,
        "action": row.href if row else _base(reader),
        "list_url": _base(reader),
    }
    return render(request, "destination.html", context, status=status)


@router.get("/orgs/{org}/destinations/new", response_class=HTMLResponse)
async def new_destination(request: Request, org: str, user: User) -> HTMLResponse:
    """The create form: name, transport and settings, filters, sources, starting point."""
    reader = await _admin(request, org, user)
    return _form_page(request, user, reader, blank_form())


@router.post("/orgs/{org}/destinations", response_class=HTMLResponse)
async def create_destination(request: Request, org: str, user: User) -> Response:
    """Create from the form; a refused form comes back filled in (secrets empty), 422."""
    reader = await _admin(request, org, user)
    items = await _items(request, user)
    svc = services(request)

    def create() -> None:
        asked = read_submitted(items)
        svc.destinations.create(
            reader.org,
            name=asked.name,
            transport=asked.transport,
            settings=asked.settings,
            secrets=asked.secrets,
            filters=asked.filters,
            include_source=asked.include_source,
            start_seq=asked.start_seq,
            paused=asked.paused,
            actor=user.principal.as_actor(),
            source_ip=request_ip(request),
        )

    try:
        await run_in_threadpool(create)
    except InvalidInput as exc:
        return _form_page(request, user, reader, refilled(items, exc.problems), status=422)
    return _done(reader, "created")


async def _find(request: Request, reader: Reader, destination: str) -> Row:
    svc = services(request)

    def find() -> Row:
        return _row(svc, reader, svc.destinations.get(reader.org, destination))

    return await run_in_threadpool(find)


@router.get("/orgs/{org}/destinations/{destination}", response_class=HTMLResponse)
async def destination_page(request: Request, org: str, destination: str, user: User) -> Response:
    """One destination: its figures and the edit form (secrets shown as set or not)."""
    reader = await _admin(request, org, user)
    row = await _find(request, reader, destination)
    return _form_page(request, user, reader, edit_form(row.destination), row=row)


@router.post("/orgs/{org}/destinations/{destination}", response_class=HTMLResponse)
async def change_destination(request: Request, org: str, destination: str, user: User) -> Response:
    """Save the edit form: blank secrets keep the stored ones; recorded with what changed."""
    reader = await _admin(request, org, user)
    row = await _find(request, reader, destination)
    items = await _items(request, user)
    svc = services(request)
    found = row.destination

    def change() -> bool:
        asked = read_submitted(items, existing=found)
        updated = svc.destinations.change(
            reader.org,
            found,
            name=asked.name,
            settings=asked.settings,
            secrets=asked.secrets or None,
            filters=asked.filters,
            include_source=asked.include_source,
            actor=user.principal.as_actor(),
            source_ip=request_ip(request),
        )
        return updated is not found

    try:
        changed = await run_in_threadpool(change)
    except InvalidInput as exc:
        form = refilled(items, exc.problems, destination=found)
        return _form_page(request, user, reader, form, row=row, status=422)
    return _done(reader, "changed" if changed else "unchanged")


@router.post("/orgs/{org}/destinations/{destination}/delete")
async def delete_destination(request: Request, org: str, destination: str, user: User) -> Response:
    """Delete, once the form's confirmation box is ticked."""
    reader = await _admin(request, org, user)
    row = await _find(request, reader, destination)
    form = first_values(await _items(request, user))
    if form.get("confirm") != "on":
        raise InvalidInput(
            "not confirmed", [Problem("confirm", "tick the box to confirm the deletion")]
        )
    svc = services(request)
    await run_in_threadpool(
        lambda: svc.destinations.delete(
            reader.org,
            row.destination,
            actor=user.principal.as_actor(),
            source_ip=request_ip(request),
        )
    )
    return _done(reader, "deleted")


@router.post("/orgs/{org}/destinations/{destination}/{action}")
async def destination_state(
    request: Request, org: str, destination: str, action: str, user: User
) -> Response:
    """Pause, resume or retry (the same transition as the API's and the CLI's)."""
    reader = await _admin(request, org, user)
    try:
        chosen: Action = check_action(action)
    except InvalidInput:
        raise NotFound("no such page") from None
    row = await _find(request, reader, destination)
    await _items(request, user)
    svc = services(request)
    await run_in_threadpool(
        lambda: svc.destinations.transition(
            reader.org,
            row.destination,
            chosen,
            actor=user.principal.as_actor(),
            source_ip=request_ip(request),
        )
    )
    return _done(reader, chosen.value)
