"""Who is calling: bearer tokens for the API, session cookies for pages.

A missing or bad credential is 401; a valid one used beyond its scope is 403; another
organization's data is 404 with the same message as a missing organization, so a caller cannot
learn which organizations exist.

A browser session may also call the API, but a request that changes something (anything but
GET and HEAD) must then carry the session's CSRF token in ``X-CSRF-Token``, as the pages' forms
do: the cookie alone proves only that a browser sent it, not that this site asked it to.
"""

from __future__ import annotations

import hmac

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from auditledger.core.errors import Forbidden, Unauthenticated
from auditledger.tenancy.model import Organization, Principal
from auditledger.web.context import services

SESSION_COOKIE = "auditledger_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("use an Authorization header of the form 'Bearer <token>'")
    return token.strip()


async def api_principal(request: Request) -> Principal:
    """The caller of an API route: a bearer token, or a signed-in browser session."""
    token = bearer_token(request)
    if token is not None:
        tenancy = services(request).tenancy
        # A credential seen in the last seconds needs no database and no thread hop.
        cached = tenancy.cached_principal(token)
        if cached is not None:
            return cached
        return await run_in_threadpool(tenancy.authenticate_token, token)
    found = await session_principal(request)
    if found is None:
        raise Unauthenticated("this API needs an Authorization: Bearer <token> header")
    principal, csrf = found
    if request.method not in SAFE_METHODS:
        presented = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(presented.encode(), csrf.encode()):
            raise Forbidden(
                "a signed-in browser must send its session's CSRF token in X-CSRF-Token to "
                "change anything; scripts use an Authorization: Bearer token"
            )
    return principal


async def find_org(request: Request, slug: str) -> Organization:
    """The organization named in the path (from the cache when possible), or NotFound."""
    tenancy = services(request).tenancy
    cached = tenancy.cached_org(slug)
    if cached is not None:
        return cached
    return await run_in_threadpool(tenancy.org, slug)


async def session_principal(request: Request) -> tuple[Principal, str] | None:
    """The signed-in user of a browser request and the session's CSRF token, or None."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie or len(cookie) > 200:
        return None
    return await run_in_threadpool(services(request).tenancy.session_principal, cookie)
