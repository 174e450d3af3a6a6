"""Signing in and out, and the home page that sends people to their organization."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from auditledger.auth.signin import SignInService
from auditledger.auth.throttle import TooManyAttempts
from auditledger.core.errors import Forbidden, Unauthenticated
from auditledger.web.auth import SESSION_COOKIE
from auditledger.web.context import services
from auditledger.web.pages.forms import first_values, form_items
from auditledger.web.pages.render import render
from auditledger.web.pages.results import org_base
from auditledger.web.pages.session import (
    SIGN_IN_CSRF_COOKIE,
    PageUser,
    check_csrf,
    clear_cookie,
    new_csrf_token,
    optional_user,
    page_user,
    request_ip,
    safe_next,
    session_cookie,
    set_cookie,
)

router = APIRouter(include_in_schema=False)

MAX_FORM_BYTES = 16 * 1024


def sign_in_service(request: Request) -> SignInService:
    """The process's sign-in service (built with the app)."""
    service: SignInService = request.app.state.sign_in
    return service


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form (what the pages' forms send); the first value of each field."""
    return first_values(await form_items(request, max_bytes=MAX_FORM_BYTES, max_fields=20))


def _sign_in_page(
    request: Request,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    signed_out: bool = False,
) -> HTMLResponse:
    # Keep the visitor's double-submit token when there is one, so several open tabs all work.
    token = request.cookies.get(SIGN_IN_CSRF_COOKIE) or new_csrf_token()
    response = render(
        request,
        "sign_in.html",
        {
            "title": "Sign in",
            "csrf_token": token,
            "next": next_path,
            "username": username,
            "error": error,
            "signed_out": signed_out,
        },
        status=status,
        headers=headers,
    )
    set_cookie(response, services(request).settings, SIGN_IN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request) -> Response:
    """The sign-in form (or home, when already signed in)."""
    next_path = safe_next(request.query_params.get("next"))
    if await optional_user(request) is not None:
        return RedirectResponse(next_path, status_code=303)
    signed_out = request.query_params.get("signed_out") == "1"
    return _sign_in_page(request, next_path=next_path, signed_out=signed_out)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    """Check the password, open a session, and go where the person was heading."""
    form = await _form(request)
    next_path = safe_next(form.get("next"))
    username = form.get("username", "").strip()[:256]
    try:
        check_csrf(request.cookies.get(SIGN_IN_CSRF_COOKIE), form.get("csrf_token"))
    except Forbidden as exc:
        return _sign_in_page(
            request, next_path=next_path, username=username, error=exc.message, status=403
        )
    if not username or not form.get("password"):
        return _sign_in_page(
            request,
            next_path=next_path,
            username=username,
            error="enter your username and your password",
            status=422,
        )
    try:
        session = await sign_in_service(request).sign_in(
            username, form["password"], request_ip(request)
        )
    except TooManyAttempts as exc:
        return _sign_in_page(
            request,
            next_path=next_path,
            username=username,
            error=exc.message,
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except Unauthenticated as exc:
        return _sign_in_page(
            request, next_path=next_path, username=username, error=exc.message, status=401
        )
    settings = services(request).settings
    response = RedirectResponse(next_path, status_code=303)
    set_cookie(
        response, settings, SESSION_COOKIE, session.token, max_age=settings.session_hours * 3600
    )
    clear_cookie(response, settings, SIGN_IN_CSRF_COOKIE)
    return response


@router.get("/sign-out", response_class=HTMLResponse)
async def sign_out_form(request: Request) -> Response:
    """A typed or bookmarked sign-out link: ask, because signing out is a POST (CSRF)."""
    user = await optional_user(request)
    if user is None:
        return RedirectResponse("/sign-in", status_code=303)
    return render(request, "sign_out.html", {"user": user, "title": "Sign out"})


@router.post("/sign-out")
async def sign_out(request: Request, user: Annotated[PageUser, Depends(page_user)]) -> Response:
    """End the session (a POST with the session's CSRF token) and record it."""
    form = await _form(request)
    check_csrf(user.csrf_token, form.get("csrf_token"))
    token = session_cookie(request)
    assert token is not None  # page_user found a session through it
    await sign_in_service(request).sign_out(user.user, token, request_ip(request))
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    clear_cookie(response, services(request).settings, SESSION_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    """Sign in; then the person's organization, or a choice when there are several."""
    user = await optional_user(request)
    if user is None:
        return RedirectResponse("/sign-in", status_code=303)
    if len(user.memberships) == 1:
        slug = user.memberships[0].org.slug
        return RedirectResponse(f"{org_base(slug)}/audit-log", status_code=303)
    context: dict[str, Any] = {"user": user, "title": "Organizations"}
    return render(request, "organizations.html", context)
