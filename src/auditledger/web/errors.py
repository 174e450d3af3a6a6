"""Domain errors to HTTP responses: a status, a machine-readable code and a clear message.

Nothing here ever returns a stack trace. API clients get JSON; people browsing get a page.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from auditledger.auth.throttle import TooManyAttempts
from auditledger.core.errors import (
    AppendOnly,
    AuditLedgerError,
    Conflict,
    Forbidden,
    Inconsistent,
    InvalidInput,
    MalformedRequest,
    NotFound,
    TooLarge,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger(__name__)

INTERNAL_ERROR = "an internal error occurred; it has been logged with this request's id"
# Built once: the last-resort answer must not depend on anything that could fail now.
INTERNAL_ERROR_BODY = json.dumps(
    {"error": {"code": "internal_error", "message": INTERNAL_ERROR}}
).encode()

STATUS: dict[type[AuditLedgerError], int] = {
    MalformedRequest: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    AppendOnly: 405,
    Conflict: 409,
    Inconsistent: 409,
    TooLarge: 413,
    InvalidInput: 422,
    TooManyAttempts: 429,
    Unavailable: 503,
}


def status_of(error: AuditLedgerError) -> int:
    """The HTTP status for a domain error."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def encodable(text: str) -> str:
    """``text`` with anything UTF-8 cannot encode (lone surrogates) written as ``\\udfff``.

    Error messages quote what the caller sent; a message that cannot be encoded would turn a
    4xx into a crash while the response is rendered.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def error_body(
    code: str, message: str, problems: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """The JSON error document every API error uses; every text in it encodes cleanly."""
    body: dict[str, Any] = {"code": code, "message": encodable(message)}
    if problems:
        body["problems"] = [
            {key: encodable(str(value)) for key, value in problem.items()} for problem in problems
        ]
    return {"error": body}


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route answers at ``request``'s path (plus OPTIONS), sorted: each
    candidate method is matched against the routes as the router would."""
    from starlette.routing import Match

    methods = {"OPTIONS"}
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in app.router.routes):
            methods.add(method)
    return sorted(methods)


def wants_html(request: Request) -> bool:
    """Whether the caller is a browser on a page rather than an API client."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def _problems_from_validation(exc: RequestValidationError) -> list[dict[str, str]]:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body", "header")]
        problems.append({"field": ".".join(loc) or "request", "message": str(err.get("msg"))})
    return problems


def install_error_handlers(app: FastAPI, render_page: Any = None) -> None:
    """Register the handlers on ``app``; the coroutine ``render_page(request, status, message,
    problems)`` makes HTML error pages when given."""

    async def respond(
        request: Request,
        status: int,
        code: str,
        message: str,
        problems: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        message = encodable(message)
        if problems:
            problems = [{k: encodable(str(v)) for k, v in p.items()} for p in problems]
        if render_page is not None and wants_html(request):
            response: Response = await render_page(request, status, message, problems)
        else:
            response = JSONResponse(error_body(code, message, problems), status_code=status)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(AuditLedgerError)
    async def _domain(request: Request, exc: AuditLedgerError) -> Response:
        status = status_of(exc)
        headers = {}
        if isinstance(exc, Unavailable | TooManyAttempts):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, Unauthenticated) and request.url.path.startswith("/api/"):
            headers["WWW-Authenticate"] = 'Bearer realm="auditledger"'
        problems = [p.as_dict() for p in exc.problems] or None
        return await respond(request, status, exc.code, exc.message, problems, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return await respond(
            request,
            422,
            "invalid_input",
            "the request is not valid",
            _problems_from_validation(exc),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {
            # FastAPI's only 400: a JSON body that cannot be decoded.
            400: "the request body could not be read: send JSON encoded as UTF-8",
            404: "not found",
            405: "method not allowed: audit events cannot be changed or deleted",
        }
        message = messages.get(exc.status_code, str(exc.detail))
        codes = {400: "malformed_request", 404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, "error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route with this path only; several
            # routes share a path here (GET and POST /events live in different routers).
            allowed = allowed_methods(app, request)
            headers["Allow"] = ", ".join(allowed)
            if request.method == "OPTIONS":
                return Response(status_code=204, headers=headers)
        return await respond(request, exc.status_code, code, message, None, headers)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> Response:
        # The database went away under a read (a credential lookup, a page): the caller may
        # retry, so this is a 503 like a failed commit, not a server error.
        lost = isinstance(exc, OperationalError | PoolTimeout) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated
        )
        if not lost:
            return await _unexpected(request, exc)
        log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else exc)
        return await respond(
            request,
            503,
            Unavailable.code,
            "the database is unavailable; nothing was stored; retry after the indicated delay",
            None,
            {"Retry-After": "2"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        try:
            return await respond(request, 500, "internal_error", INTERNAL_ERROR)
        except Exception:
            # Rendering the error page failed too: the fixed JSON body still answers.
            log.exception("could not render the error response")
            return Response(INTERNAL_ERROR_BODY, 500, media_type="application/json")
