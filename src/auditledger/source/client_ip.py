"""The client address of an HTTP request, believing proxy headers only from trusted proxies.

``X-Forwarded-For`` and ``Forwarded`` are written by whoever sends the request, so they are
evidence only when a proxy we run added them. Starting from the directly connected peer, we
walk the chain of addresses from right to left while each hop is a trusted proxy; the first
address that is not is the client. A request from an untrusted peer keeps the peer's address,
whatever its headers say.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_FORWARDED_FOR = re.compile(r'for=(?:"?\[?)([^\]";,]+)', re.IGNORECASE)


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Networks from strings such as ``10.0.0.0/8`` or ``::1``."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1 and "." in text:
        text = text.split(":", 1)[0]  # IPv4 with a port
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[Network]
) -> bool:
    return any(addr in net for net in proxies)


def forwarded_chain(headers: Mapping[str, str]) -> list[str]:
    """The addresses proxies reported, nearest the client first (``Forwarded`` preferred)."""
    forwarded = headers.get("forwarded")
    if forwarded:
        return _FORWARDED_FOR.findall(forwarded)
    xff = headers.get("x-forwarded-for")
    if xff:
        return [part.strip() for part in xff.split(",") if part.strip()]
    return []


def client_ip(
    peer: str | None, headers: Mapping[str, str], proxies: Sequence[Network]
) -> str | None:
    """The client's address: ``peer`` unless it (and the hops before it) are trusted proxies."""
    current = _address(peer) if peer else None
    if current is None:
        return None
    chain = forwarded_chain(headers)
    while chain and _trusted(current, proxies):
        candidate = _address(chain.pop())
        if candidate is None:
            break  # a garbled hop: stop at the last address we could believe
        current = candidate
    if isinstance(current, ipaddress.IPv6Address) and current.ipv4_mapped is not None:
        current = current.ipv4_mapped
    return str(current)
