"""The actor's IP address for audit events, from any ASGI application (Starlette, FastAPI,
Django's ASGI handler, Quart...).

:class:`SourceIPMiddleware` resolves the address once per request with the same function the
service uses for its own users (:func:`auditledger_client.core.client_ip.client_ip`): proxy headers
are believed only when the connection comes from a configured proxy network, never from the
open internet. It stores the answer in the request's ASGI ``state``; :func:`source_ip` reads it::

    app.add_middleware(SourceIPMiddleware, trusted_proxies=["10.0.0.0/8"])
    ...
    client.model_rename(..., source_ip=source_ip(request))

Run the ASGI server without its own proxy-header handling (uvicorn ``--no-proxy-headers``).
Plain uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 by default and rewrites the peer
address *before* this middleware sees it; from then on a caller on this host (or behind a
local proxy that passes the header through) chooses its own address, and no setting here can
undo that. So the middleware detects it: at start, when the process is the uvicorn command
without ``--no-proxy-headers``, it logs a loud warning; on a request whose peer address is
one of the addresses its own ``X-Forwarded-For`` names (what a rewrite leaves behind), it logs
an error once and records *no* source rather than the one the caller chose
(``on_rewritten_peer="refuse"``, the default) or, with ``"warn"``, keeps it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, Literal

from auditledger_client.core.client_ip import ForwardedHeader, client_ip, parse_networks

from .errors import MiddlewareMissing

STATE_KEY = "auditledger.source_ip"
log = logging.getLogger("auditledger_client.asgi")

RewrittenPeer = Literal["refuse", "warn"]

UVICORN_WARNING = (
    "uvicorn applies X-Forwarded-For itself (it trusts 127.0.0.1 by default) before "
    "SourceIPMiddleware sees the request, so a caller can choose the source address of its "
    "audit events. Run uvicorn with --no-proxy-headers and list your proxies in "
    "SourceIPMiddleware(trusted_proxies=...). See docs/integration.md."
)


def uvicorn_applies_proxy_headers(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether this process is the ``uvicorn`` command with its proxy-header handling on
    (its default). Programmatic ``uvicorn.run`` cannot be seen from here; the per-request
    check covers it."""
    args = list(sys.argv if argv is None else argv)
    env = os.environ if environ is None else environ
    if not args or os.path.basename(args[0]) not in ("uvicorn", "__main__.py"):
        return False
    if os.path.basename(args[0]) == "__main__.py" and "uvicorn" not in args[0]:
        return False
    if "--no-proxy-headers" in args:
        return False
    return env.get("UVICORN_PROXY_HEADERS", "").lower() not in ("0", "false")


def _rewritten(peer: str | None, headers: _ScopeHeaders) -> bool:
    # uvicorn replaces the peer with an entry of the header and leaves the header in place; a
    # real peer is never one of the addresses forwarded to it.
    if peer is None:
        return False
    values = headers.getlist("x-forwarded-for")
    entries = {e.strip().strip("[]") for v in values for e in v.split(",")}
    return peer in entries


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _ScopeHeaders(Mapping[str, str]):
    """The raw ASGI headers as a read-only mapping that also answers ``getlist``."""

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._items = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self._items if k == name]

    def __getitem__(self, name: str) -> str:
        for key, value in self._items:
            if key == name:
                return value
        raise KeyError(name)

    def __iter__(self) -> Any:
        return iter(dict(self._items))

    def __len__(self) -> int:
        return len(dict(self._items))


class SourceIPMiddleware:
    """Puts the client's address, resolved behind trusted proxies only, in the ASGI state.

    ``trusted_proxies`` are the networks of *your* reverse proxies and load balancers (default:
    this host only). ``header`` is the one they write: ``x-forwarded-for`` (the default; what
    nginx, HAProxy, Envoy and cloud load balancers send) or ``forwarded`` (RFC 7239). Naming
    one matters: a proxy that writes one header passes a client's forged other one through.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted_proxies: Iterable[str] = ("127.0.0.1/32", "::1/128"),
        header: ForwardedHeader = "x-forwarded-for",
        on_rewritten_peer: RewrittenPeer = "refuse",
    ) -> None:
        self.app = app
        self.proxies = parse_networks(trusted_proxies)
        self.header = header
        self.on_rewritten_peer = on_rewritten_peer
        self._reported = False
        if uvicorn_applies_proxy_headers():
            log.warning(UVICORN_WARNING)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            peer = str(client[0]) if client else None
            headers = _ScopeHeaders(scope.get("headers", []))
            address: str | None
            if _rewritten(peer, headers):
                address = self._rewritten_peer(peer)
            else:
                address = client_ip(peer, headers, self.proxies, self.header)
            # A copy: servers share the lifespan state dict between requests.
            state = dict(scope.get("state") or {})
            state[STATE_KEY] = address
            scope = {**scope, "state": state}
        await self.app(scope, receive, send)

    def _rewritten_peer(self, peer: str | None) -> str | None:
        if not self._reported:
            self._reported = True
            log.error(
                "a request arrived with its peer address already taken from X-Forwarded-For "
                "(%s). %s",
                peer,
                UVICORN_WARNING,
            )
        return None if self.on_rewritten_peer == "refuse" else peer


def source_ip(request_or_scope: Mapping[str, Any]) -> str | None:
    """The client address the middleware resolved, from a Starlette/FastAPI ``Request``
    (which is a mapping over its scope) or a raw ASGI scope. None when the server did not
    know the peer (e.g. a Unix socket)."""
    state = request_or_scope.get("state")
    if not isinstance(state, Mapping) or STATE_KEY not in state:
        raise MiddlewareMissing(
            "no source address for this request: add SourceIPMiddleware to the application"
        )
    value = state[STATE_KEY]
    return str(value) if value is not None else None
