"""Pure ASGI middleware: request ids, the access log and security headers.

Written against ASGI directly (not ``BaseHTTPMiddleware``) so streaming exports pass through
untouched and the per-request cost stays small.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auditledger.ops.logging import ACCESS_LOGGER, fast_access_handler
from auditledger.web.errors import INTERNAL_ERROR_BODY

log = logging.getLogger(ACCESS_LOGGER)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    # Nothing here needs a camera, a microphone, a location or payment (ASVS 14.4).
    (
        b"permissions-policy",
        b"camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    ),
]
# Only when served over HTTPS: a browser that saw it would refuse plain HTTP for a year.
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


# Request ids only need to be unique, not secret: a random per-process prefix and a counter
# cost nothing, where uuid4() reads the kernel's random source on every request.
_PROCESS_PREFIX = uuid.uuid4().hex[:12]
_counter = itertools.count(1)


def _new_request_id() -> str:
    return f"{_PROCESS_PREFIX}{next(_counter):08x}"


class RequestContextMiddleware:
    """Give each request an id (kept from a sane ``X-Request-ID``), echo it, log the request."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else _new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        started_response = False
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(SECURITY_HEADERS)
                if self.hsts or scope.get("scheme") == "https":
                    headers.append(HSTS)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # The last resort: whatever failed, and even if the error handlers failed too, a
            # caller that got nothing yet gets a JSON 500 (a started response is aborted, so a
            # truncated export never looks complete).
            if not started_response:
                await send_wrapper(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send_wrapper({"type": "http.response.body", "body": INTERNAL_ERROR_BODY})
            raise
        finally:
            if log.isEnabledFor(logging.INFO):
                fields = {
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                }
                fast = fast_access_handler(log)
                if fast is not None:
                    fast.write_request(fields)
                else:
                    # A record made directly skips logging's search of the stack for the
                    # caller (ops/logging.py formats it without structlog's chain).
                    log.handle(
                        log.makeRecord(
                            log.name, logging.INFO, __file__, 0, "request", (), None, extra=fields
                        )
                    )
            structlog.contextvars.unbind_contextvars("request_id")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:
                return None
    return None


def request_id(scope_state: Any) -> str | None:
    """The id of the request whose ``request.state`` is given."""
    return getattr(scope_state, "request_id", None)
