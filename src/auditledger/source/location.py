"""Offline IP location.

Two sources, both local files, never the network:

* by default, ``iptocc``: a maintained package (rebuilt nightly from the regional internet
  registries' delegation files) that ships its own data and gives the *country* an address
  block is registered to; country names come from ``pycountry``;
* when the operator configures ``AUDITLEDGER_GEOIP_DATABASE``, a MaxMind-format ``.mmdb`` file
  (GeoLite2-City, GeoIP2-City, DB-IP City Lite and the country editions of each), read with
  ``maxminddb``; this adds the city where the data has it.

Private, loopback, link-local and other special-purpose addresses are labelled as such instead
of being looked up: they have no place on a map.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Protocol

from auditledger_client.core.event import Location


class Locator(Protocol):
    """Something that can place an IP address."""

    def locate(self, ip: str) -> Location | None:
        """The location of ``ip``, or None when the data does not know it."""
        ...

    @property
    def description(self) -> str:
        """Which data this locator uses, for the health page and logs."""
        ...


# Labelled explicitly rather than through ``ipaddress``'s ``is_private``, whose meaning has
# changed between Python releases (3.11.10 and 3.12.4 narrowed it): "Private network" means the
# RFC 1918 and unique-local ranges only, not documentation or benchmarking blocks.
_SPECIAL_NETWORKS: tuple[tuple[str, str], ...] = (
    ("127.0.0.0/8", "Loopback"),
    ("::1/128", "Loopback"),
    ("10.0.0.0/8", "Private network"),
    ("172.16.0.0/12", "Private network"),
    ("192.168.0.0/16", "Private network"),
    ("fc00::/7", "Private network"),
    # RFC 6598: addresses a carrier hands out behind its NAT. Not the customer's own network
    # and not on the map: the public address is lost at the carrier's NAT.
    ("100.64.0.0/10", "Shared address space (carrier-grade NAT)"),
    ("169.254.0.0/16", "Link-local network"),
    ("fe80::/10", "Link-local network"),
    ("224.0.0.0/4", "Multicast"),
    ("ff00::/8", "Multicast"),
)
_SPECIAL = tuple((ipaddress.ip_network(net), label) for net, label in _SPECIAL_NETWORKS)


def public_address(ip: str) -> str:
    """``ip`` in the form lookups use: an IPv4-mapped IPv6 address becomes plain IPv4."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def special_network(ip: str) -> str | None:
    """A label for addresses that are not on the public internet, or None for public ones.

    Loopback, private (RFC 1918, unique-local), shared CGNAT space, link-local and multicast
    have their own labels; every other special-purpose block (unspecified, documentation,
    benchmarking, 240/4, ...) is a "Reserved network".
    """
    addr = ipaddress.ip_address(public_address(ip))
    for network, label in _SPECIAL:
        if addr.version == network.version and addr in network:
            return label
    if not addr.is_global or addr.is_reserved or addr.is_unspecified:
        return "Reserved network"
    return None


def country_name(code: str) -> str | None:
    """The common English name of an ISO 3166-1 alpha-2 code, e.g. ``KR`` -> ``South Korea``."""
    import pycountry

    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return None
    return str(getattr(country, "common_name", None) or country.name)


class RegistryLocator:
    """Country of registration, from the regional internet registries (package ``iptocc``)."""

    description = "iptocc (regional internet registry delegations; country only)"

    def locate(self, ip: str) -> Location | None:
        """Special networks by label; public addresses by registered country."""
        import iptocc

        network = special_network(ip)
        if network:
            return Location(network=network)
        code = iptocc.country_code(public_address(ip))
        if not code:
            return None
        return Location(country_code=code, country=country_name(code))


class MaxMindLocator:
    """City and country from a MaxMind-format database file the operator configures."""

    def __init__(self, path: Path) -> None:
        import maxminddb

        self._path = path
        # MODE_AUTO memory-maps the file: fast lookups, shared pages between processes.
        self._reader = maxminddb.open_database(str(path))

    @property
    def description(self) -> str:
        """The file and the database type it declares."""
        return f"{self._path} ({self._reader.metadata().database_type})"

    def locate(self, ip: str) -> Location | None:
        """Special networks by label; public addresses from the database."""
        network = special_network(ip)
        if network:
            return Location(network=network)
        record: Any = self._reader.get(public_address(ip))
        if not isinstance(record, dict):
            return None
        country = record.get("country") or record.get("registered_country") or {}
        code = country.get("iso_code")
        name = (country.get("names") or {}).get("en") or (country_name(code) if code else None)
        city = ((record.get("city") or {}).get("names") or {}).get("en")
        if not code and not city:
            return None
        return Location(country_code=code, country=name, city=city)

    def close(self) -> None:
        """Release the memory map."""
        self._reader.close()


def make_locator(database: Path | None) -> Locator:
    """The configured MaxMind file if there is one, otherwise the bundled registry data."""
    if database is not None:
        return MaxMindLocator(database)
    return RegistryLocator()
