"""The fast lane: a few plain routes answered ahead of FastAPI's middleware stack.

Ingestion is the busiest operation by far, and one request carries one event; FastAPI's stack
(its exception, telemetry, body-limit and exit-stack middleware, then a router that tries the
routes in order) cost about as much CPU per request as storing the event. The routes given
here are matched first, inside :class:`~auditledger.web.middleware.RequestContextMiddleware`
(request ids, security headers, the access line stay as for every request), and their errors
are answered by the same exception handlers the app registered (web/errors.py), found as
Starlette finds them (the exception's classes in order). Anything else, including a matching
path with another method, goes through the whole stack as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request, Exception], Awaitable[Response]]


class FastLane:
    """Serve ``routes`` directly; pass every other request to ``app`` (FastAPI's stack)."""

    def __init__(self, app: ASGIApp, owner: Any, routes: Sequence[Route]) -> None:
        # ``owner`` is the application itself: what ``request.app`` must be for the routes
        # (their services, the exception handlers), as Starlette would set it.
        self.app = app
        self.owner = owner
        self.routes = list(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope["app"] = self.owner
                    scope.update(child)
                    await self._serve(child["endpoint"], scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(
        self,
        endpoint: Callable[[Request], Awaitable[Response]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            cls, handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
            if cls is Exception:
                # As Starlette's ServerErrorMiddleware: answer 500, then let the server see
                # (and log) the error.
                await response(scope, receive, send)
                raise
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> tuple[type, Handler | None]:
        handlers: dict[Any, Handler] = self.owner.exception_handlers
        for cls in type(exc).__mro__:
            if cls in handlers:
                return cls, handlers[cls]
        return Exception, None
