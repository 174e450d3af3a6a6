"""Daily range partitions of the PostgreSQL events table.

Each UTC day has its own partition, ``events_pYYYYMMDD``. Retention counts whole days from the
date of occurrence, so an expired day is always a whole partition, which the purge can detach
and drop instead of deleting rows one by one. Partitions for the coming days are created ahead
of time; a day that is still missing when an event for it arrives (a late event, or a clock
jump) is created on demand by the writer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, text

_NAME = re.compile(r"^events_p(\d{8})$")
_LOCK_KEY = 727348002
_DETACHED_PREFIX = "purged_"
DAYS_AHEAD = 7


def partition_name(day: date) -> str:
    """``events_p20260501`` for 2026-05-01."""
    return f"events_p{day:%Y%m%d}"


def day_of(instant: datetime) -> date:
    """The UTC day an instant falls in."""
    return instant.astimezone(UTC).date()


def existing_partition_days(connection: Connection) -> set[date]:
    """The days that have a partition attached to ``events``."""
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass"
        )
    )
    days = set()
    for (name,) in rows:
        match = _NAME.match(name)
        if match:
            days.add(datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).date())
    return days


def create_partitions(connection: Connection, days: Iterable[date]) -> list[date]:
    """Create the partitions for ``days`` that do not exist yet; return the days created.

    Concurrent callers (several server processes) are serialised by an advisory lock, so
    ``IF NOT EXISTS`` never races with itself.
    """
    wanted = sorted(set(days))
    if not wanted:
        return []
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    present = existing_partition_days(connection)
    created = []
    for day in wanted:
        if day in present:
            continue
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(days=1)
        connection.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF events "
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
        )
        created.append(day)
    return created


def days_ahead(today: date, ahead: int = DAYS_AHEAD) -> list[date]:
    """Yesterday, today and the next ``ahead`` days: what should always exist."""
    return [today + timedelta(days=offset) for offset in range(-1, ahead + 1)]


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``, the inclusive lower bound of its partition."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def day_end(day: date) -> datetime:
    """The first instant after ``day`` (UTC), the exclusive upper bound of its partition."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def detach_partitions(connection: Connection, days: Sequence[date]) -> None:
    """Take the days' partitions out of ``events`` (catalogue changes: no row is read) and set
    them aside under names of their own, for :func:`drop_detached` to drop; each day's name is
    free again at once, should a late event of a longer-kept organization need it."""
    statements = []
    for day in days:
        name = partition_name(day)
        statements.append(f"ALTER TABLE events DETACH PARTITION {name}")
        statements.append(f"ALTER TABLE {name} RENAME TO {_DETACHED_PREFIX}{name}")
    if statements:
        connection.exec_driver_sql("; ".join(statements))


def drop_detached(connection: Connection) -> int:
    """Drop every partition :func:`detach_partition` set aside; returns how many.

    Separate from detaching because dropping a table removes its files and its indexes' at
    commit, which on some file systems takes far longer than the detach: the events are out of
    the log at the detach, and their storage is given back here, as VACUUM gives back what a
    DELETE leaves.
    """
    names = connection.execute(
        text(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE :pattern "
            "ORDER BY relname"
        ),
        {"pattern": f"{_DETACHED_PREFIX}events_p%"},
    ).scalars()
    aside = [name for name in names if _NAME.match(name.removeprefix(_DETACHED_PREFIX))]
    if aside:
        connection.execute(text(f"DROP TABLE {', '.join(aside)}"))
    return len(aside)
