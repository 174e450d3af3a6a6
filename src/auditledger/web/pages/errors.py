"""Error pages for people: the same statuses and messages as the API, as pages.

A page that needs a signed-in person redirects to the sign-in page and comes back afterwards.
Another organization's page is the very same 404 page as an organization that does not exist.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from auditledger.errors import AuditLedgerError
from auditledger.web.pages.render import render
from auditledger.web.pages.session import PageUser, optional_user, sign_in_url
from auditledger.web.reading import Reader

TITLES = {
    400: "The request could not be read",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Please check the form",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


async def _signed_in(request: Request) -> PageUser | None:
    try:
        return await optional_user(request)
    except (AuditLedgerError, SQLAlchemyError):
        # An error page must render even when the session cannot be looked up (the database
        # is what failed): then it shows no name rather than failing itself.
        return None


def _reader_in_path(request: Request, user: PageUser | None) -> Reader | None:
    """The organization of ``/orgs/{slug}/...`` when the person belongs to it, so its tabs stay
    on its error pages (for anyone else it stays a bare 404: nothing is learnt by asking)."""
    parts = request.url.path.split("/")
    if user is None or len(parts) < 3 or parts[1] != "orgs":
        return None
    slug = unquote(parts[2])
    for membership in user.memberships:
        if membership.org.slug == slug:
            return Reader(membership.org, membership.role)
    return None


async def render_error_page(
    request: Request, status: int, message: str, problems: list[dict[str, str]] | None
) -> Response:
    """The page for an error (``install_error_handlers`` calls it for browsers)."""
    if status == 401:
        # Come back to the page after signing in; a form post cannot be repeated by a redirect.
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(
            sign_in_url(path if request.method == "GET" else None), status_code=303
        )
    user = await _signed_in(request)
    context: dict[str, Any] = {
        # A signed-in person keeps the header (their name, Sign out) on an error page too.
        "user": user,
        "reader": _reader_in_path(request, user),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "message": message,
        "problems": problems or [],
    }
    return render(request, "error.html", context, status=status)
