"""When an event expires.

The seed keeps events "for 180 days from the date of occurrence". Retention therefore counts
whole UTC days: an event that occurred on day D is kept through day D + N and purged from the
start of day D + N + 1. Never shorter than N days, never longer than N + 1, independent of any
local time zone or daylight-saving change, and aligned with the daily partitions, so expiring
a day of events is dropping a partition.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auditledger.tenancy.model import Organization

# A century. Longer is not a retention policy, and a cutoff before year 1 cannot be computed.
MAX_DAYS = 36_500


def start_of_day(instant: datetime) -> datetime:
    """Midnight UTC of the day ``instant`` falls in."""
    utc = instant.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC)


def cutoff(now: datetime, retention_days: int) -> datetime:
    """Events that occurred before this instant are past retention at ``now``."""
    return start_of_day(now) - timedelta(days=retention_days)


def effective_days(org: Organization, default_days: int, floor_days: int) -> int:
    """The organization's retention in days: its own setting or the default, never below the
    floor."""
    return max(org.retention_days or default_days, floor_days)
