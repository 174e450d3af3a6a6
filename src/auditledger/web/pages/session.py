"""The signed-in person of a page request, the session cookie, and CSRF checks.

The session cookie is HttpOnly and SameSite=Lax, and Secure when the service is reached over
HTTPS (``secure_cookies``, or an https ``public_url``). Every POST form carries a CSRF token:
the session's own once signed in; before that, the sign-in form uses a double-submit token (a
random cookie that the form must echo), so no other site can sign a browser in.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from auditledger.core.errors import Forbidden, Unauthenticated
from auditledger.settings import Settings
from auditledger.tenancy.model import Organization, Principal, Role, User
from auditledger.web.auth import SESSION_COOKIE, session_principal
from auditledger.web.context import services
from auditledger_client.core.client_ip import Network, client_ip, parse_networks

SIGN_IN_CSRF_COOKIE = "auditledger_signin_csrf"


@dataclass(frozen=True)
class Membership:
    """An organization the person belongs to, for navigation."""

    org: Organization
    role: Role


@dataclass(frozen=True)
class PageUser:
    """Who is looking at a page."""

    principal: Principal
    csrf_token: str
    memberships: list[Membership]

    @property
    def user(self) -> User:
        """The signed-in user."""
        assert self.principal.user is not None
        return self.principal.user


class SignInRequired(Unauthenticated):
    """A page needs a signed-in person; the error pages turn this into a redirect."""

    def __init__(self, next_path: str) -> None:
        super().__init__("please sign in")
        self.next_path = next_path


def sign_in_url(next_path: str | None) -> str:
    """The sign-in page, returning to ``next_path`` afterwards."""
    if not next_path or next_path == "/":
        return "/sign-in"
    return "/sign-in?next=" + quote(next_path, safe="/")


def safe_next(value: str | None) -> str:
    """A local path to go to after signing in; anything else (another site) becomes ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def optional_user(request: Request) -> PageUser | None:
    """The signed-in person, or None."""
    found = await session_principal(request)
    if found is None or found[0].user is None:
        return None
    principal, csrf = found
    repo = services(request).tenancy.repo

    def memberships() -> list[Membership]:
        return [Membership(repo.org_by_id(m.org_id), m.role) for m in principal.memberships]

    listed = await run_in_threadpool(memberships)
    return PageUser(principal, csrf, sorted(listed, key=lambda m: m.org.name.lower()))


async def page_user(request: Request) -> PageUser:
    """The signed-in person, or :class:`SignInRequired`."""
    found = await optional_user(request)
    if found is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path)
    return found


def check_csrf(expected: str | None, presented: str | None) -> None:
    """:class:`Forbidden` unless the form echoed the expected token."""
    if not expected or not presented or not hmac.compare_digest(expected, presented):
        raise Forbidden("the form has expired or did not come from this site; reload and retry")


def new_csrf_token() -> str:
    """A fresh token for the sign-in form's double submit."""
    return secrets.token_urlsafe(24)


def secure_cookies(settings: Settings) -> bool:
    """Whether cookies get the Secure flag."""
    return settings.secure_cookies or (settings.public_url or "").lower().startswith("https://")


def set_cookie(
    response: Response, settings: Settings, name: str, value: str, max_age: int | None
) -> None:
    """Set an HttpOnly, SameSite=Lax cookie for the whole site."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )


def clear_cookie(response: Response, settings: Settings, name: str) -> None:
    """Remove a cookie set by :func:`set_cookie`."""
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=secure_cookies(settings)
    )


def session_cookie(request: Request) -> str | None:
    """The raw session cookie."""
    return request.cookies.get(SESSION_COOKIE)


def request_ip(request: Request) -> str | None:
    """The address of the person, believing proxy headers only from trusted proxies."""
    settings = services(request).settings
    peer = request.client.host if request.client else None
    return client_ip(peer, request.headers, _networks(settings.trusted_proxies))


@lru_cache(maxsize=8)
def _networks(items: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(items)
