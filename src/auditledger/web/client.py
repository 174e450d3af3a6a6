"""Facts about the HTTP client of a request: its address, behind trusted proxies only."""

from __future__ import annotations

from functools import lru_cache

from fastapi import Request

from auditledger.web.context import services
from auditledger_client.core.client_ip import Network, client_ip, parse_networks


@lru_cache(maxsize=8)
def _networks(items: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(items)


def request_ip(request: Request) -> str | None:
    """The client's IP address, believing forwarding headers only from trusted proxies."""
    peer = request.client.host if request.client else None
    proxies = _networks(services(request).settings.trusted_proxies)
    return client_ip(peer, request.headers, proxies)
