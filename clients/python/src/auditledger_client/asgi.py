"""The actor's IP address for audit events, from any ASGI application (Starlette, FastAPI,
Django's ASGI handler, Quart...).

:class:`SourceIPMiddleware` resolves the address once per request with the same function the
service uses for its own users (:func:`auditledger_client.core.client_ip.client_ip`): proxy headers
are believed only when the connection comes from a configured proxy network, never from the
open internet. It stores the answer in the request's ASGI ``state``; :func:`source_ip` reads it::

    app.add_middleware(SourceIPMiddleware, trusted_proxies=["10.0.0.0/8"])
    ...
    client.model_rename(..., source_ip=source_ip(request))

Run the ASGI server without its own proxy-header handling (uvicorn ``--no-proxy-headers``),
or the headers are applied twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

from auditledger_client.core.client_ip import ForwardedHeader, client_ip, parse_networks

from .errors import MiddlewareMissing

STATE_KEY = "auditledger.source_ip"

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
    ) -> None:
        self.app = app
        self.proxies = parse_networks(trusted_proxies)
        self.header = header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            peer = str(client[0]) if client else None
            address = client_ip(
                peer, _ScopeHeaders(scope.get("headers", [])), self.proxies, self.header
            )
            # A copy: servers share the lifespan state dict between requests.
            state = dict(scope.get("state") or {})
            state[STATE_KEY] = address
            scope = {**scope, "state": state}
        await self.app(scope, receive, send)


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
