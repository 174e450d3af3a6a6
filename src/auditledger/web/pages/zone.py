"""The viewer's time zone: picked in the form, else remembered in a cookie, else UTC.

A tiny static script (``static/tz.js``) stores the browser's zone in a cookie; without
JavaScript the pages show UTC. Timestamps are rendered on the server in that zone, with the UTC
instant in the ``<time>`` element's ``datetime`` and ``title``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fastapi import Request

TZ_COOKIE = "auditledger_tz"


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this system knows, UTC first, for the form's choice."""
    names = sorted(n for n in available_timezones() if "/" in n and not n.startswith("Etc/"))
    return ("UTC", *names)


def viewer_zone(request: Request) -> str:
    """The zone to show times in: the ``tz`` parameter, the cookie, or UTC."""
    for candidate in (request.query_params.get("tz"), request.cookies.get(TZ_COOKIE)):
        if candidate and _zone(candidate.strip()) is not None:
            return candidate.strip()
    return "UTC"


def with_zone(items: list[tuple[str, str]], zone: str) -> list[tuple[str, str]]:
    """Filter items that read dates in ``zone`` (added when the form did not name one)."""
    if zone == "UTC" or any(name == "tz" and value.strip() for name, value in items):
        return items
    return [*items, ("tz", zone)]


def local(instant: datetime, zone: str) -> datetime:
    """``instant`` in ``zone`` (UTC when the name is unknown)."""
    return instant.astimezone(_zone(zone) or UTC)
