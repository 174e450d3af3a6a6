"""The client address of an HTTP request, believing proxy headers only from trusted proxies.

``X-Forwarded-For`` and ``Forwarded`` are written by whoever sends the request, so they are
evidence only when a proxy we run added them. Starting from the directly connected peer, we
walk the chain of addresses from right to left while each hop is a trusted proxy; the first
address that is not is the client. A request from an untrusted peer keeps the peer's address,
whatever its headers say.

The chain is read from *every* line of the header, in order: HTTP allows a header to be sent
as several lines (RFC 9110 section 5.3) and some proxies (HAProxy's ``option forwardfor``) add
their own line instead of extending the client's. Reading only the first line would believe
the client's forgery and skip the proxy's entry.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Which header the trusted proxies write. None reads ``Forwarded`` when present, else
# ``X-Forwarded-For``; naming one is safer, because a proxy that writes one of them usually
# passes the other through from the client untouched.
ForwardedHeader = Literal["x-forwarded-for", "forwarded"] | None


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Networks from strings such as ``10.0.0.0/8`` or ``::1``."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def _unmapped(addr: Address) -> Address:
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; they are IPv4 addresses.
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _address(text: str) -> Address | None:
    text = text.strip().strip('"').strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]  # [IPv6] or [IPv6]:port
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]  # IPv4 with a port
    try:
        return _unmapped(ipaddress.ip_address(text))
    except ValueError:
        return None  # "unknown", an obfuscated "_hidden" identifier, or garbage


def _trusted(addr: Address, proxies: Sequence[Network]) -> bool:
    return any(addr in net for net in proxies)


def _header_values(headers: Mapping[str, str], name: str) -> list[str]:
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):  # Starlette's Headers, and other multi-value mappings
        return [str(v) for v in getlist(name)]
    value = headers.get(name)
    return [value] if value else []


def _split_quoted(text: str, separator: str) -> list[str]:
    """``text`` split on ``separator`` outside double-quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _forwarded_for(element: str) -> str:
    """The ``for`` parameter of one ``Forwarded`` element (RFC 7239), or "" if it has none."""
    for pair in _split_quoted(element, ";"):
        key, sep, value = pair.partition("=")
        if sep and key.strip().lower() == "for":
            return value.strip()
    return ""


def forwarded_chain(headers: Mapping[str, str], header: ForwardedHeader = None) -> list[str]:
    """The addresses proxies reported, nearest the client first.

    Each ``Forwarded`` element is one hop, even one without a ``for`` parameter (its address is
    then unknown, which stops the walk in :func:`client_ip`).
    """
    use_forwarded = header == "forwarded" or (
        header is None and bool(_header_values(headers, "forwarded"))
    )
    if use_forwarded:
        elements = [
            element
            for line in _header_values(headers, "forwarded")
            for element in _split_quoted(line, ",")
            if element.strip()
        ]
        return [_forwarded_for(element) for element in elements]
    return [
        part.strip()
        for line in _header_values(headers, "x-forwarded-for")
        for part in line.split(",")
        if part.strip()
    ]


def client_ip(
    peer: str | None,
    headers: Mapping[str, str],
    proxies: Sequence[Network],
    header: ForwardedHeader = None,
) -> str | None:
    """The client's address: ``peer`` unless it (and the hops before it) are trusted proxies.

    ``header`` names the header the trusted proxies write (see :data:`ForwardedHeader`).
    """
    current = _address(peer) if peer else None
    if current is None:
        return None
    chain = forwarded_chain(headers, header)
    while chain and _trusted(current, proxies):
        candidate = _address(chain.pop())
        if candidate is None:
            break  # an unknown or garbled hop: stop at the last address we could believe
        current = candidate
    return str(current)
