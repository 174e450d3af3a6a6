"""Error pages for people: the same statuses and messages as the API, as pages.

A page that needs a signed-in person redirects to the sign-in page and comes back afterwards.
Another organization's page is the very same 404 page as an organization that does not exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from auditledger.web.pages.render import render
from auditledger.web.pages.session import sign_in_url

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


def render_error_page(
    request: Request, status: int, message: str, problems: list[dict[str, str]] | None
) -> Response:
    """The page for an error (``install_error_handlers`` calls it for browsers)."""
    if status == 401:
        # Come back to the page after signing in; a form post cannot be repeated by a redirect.
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(
            sign_in_url(path if request.method == "GET" else None), status_code=303
        )
    context: dict[str, Any] = {
        "title": TITLES.get(status, "Error"),
        "status": status,
        "message": message,
        "problems": problems or [],
    }
    return render(request, "error.html", context, status=status)
