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

from auditledger.events.model import Location


class Locator(Protocol):
    """Something that can place an IP address."""

    def locate(self, ip: str) -> Location | None:
        """The location of ``ip``, or None when the data does not know it."""
        ...

    @property
    def description(self) -> str:
        """Which data this locator uses, for the health page and logs."""
        ...


def special_network(ip: str) -> str | None:
    """A label for addresses that are not on the public internet, or None for public ones."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_loopback:
        return "Loopback"
    if addr.is_link_local:
        return "Link-local network"
    if addr.is_private:
        return "Private network"
    if addr.is_multicast:
        return "Multicast"
    if addr.is_reserved or addr.is_unspecified or not addr.is_global:
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
        code = iptocc.country_code(ip)
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
        record: Any = self._reader.get(ip)
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
