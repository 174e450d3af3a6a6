"""Daily range partitions of the PostgreSQL events table, grouped by month.

Each UTC day has its own partition, ``events_pYYYYMMDD``, inside its month's partitioned table
``events_pYYYYMM`` (itself a partition of ``events``). Retention counts whole days from the
date of occurrence, so an expired day is always a whole partition, which the purge can detach
and drop instead of deleting rows one by one; a month wholly expired goes in one detach, its
days with it. Detaching costs catalogue work per detached table, and each detach re-reads the
partition list of the table it leaves: a month's list is at most 31 days long, ``events``'s a
few months, where a flat list of 180-odd days made every detach of a backlog slower.

Days created before months existed (migration 0012) hang directly under ``events``; their
month keeps that layout (a month's table cannot overlap them) until they expire. A day that
is still missing when an event for it arrives is created on demand by the writer, with its
month's table if need be.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, text

_DAY = re.compile(r"^events_p(\d{8})$")
_MONTH = re.compile(r"^events_p(\d{6})$")
_LOCK_KEY = 727348002
_DETACHED_PREFIX = "purged_"


def partition_name(day: date) -> str:
    """``events_p20260501`` for 2026-05-01."""
    return f"events_p{day:%Y%m%d}"


def month_name(day: date) -> str:
    """``events_p202605`` for any day of May 2026."""
    return f"events_p{day:%Y%m}"


def month_of(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def month_end(month: date) -> datetime:
    """The first instant after the month that starts on ``month`` (UTC)."""
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day_start(following)


def day_of(instant: datetime) -> date:
    """The UTC day an instant falls in."""
    return instant.astimezone(UTC).date()


@dataclass
class Layout:
    """Where each day's partition is: in its month's table, or directly under ``events``."""

    months: dict[date, list[date]] = field(default_factory=dict)  # by first day: its days
    flat: set[date] = field(default_factory=set)

    @property
    def days(self) -> set[date]:
        """Every day that has a partition."""
        return self.flat.union(*self.months.values())

    def parent(self, day: date) -> str:
        """The table the day's partition belongs to."""
        return "events" if day in self.flat else month_name(day)


def layout(connection: Connection) -> Layout:
    """The partitions attached to ``events``, at any depth."""
    # Two levels of pg_inherits (pg_partition_tree would lock every partition on its way).
    rows = connection.execute(
        text(
            "SELECT c.relname, 'events' FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass UNION ALL "
            "SELECT c.relname, p.relname FROM pg_inherits m "
            "JOIN pg_inherits i ON i.inhparent = m.inhrelid "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE m.inhparent = 'events'::regclass"
        )
    )
    found = Layout()
    for name, parent in rows:
        if month := _MONTH.match(name):
            found.months.setdefault(_parse(month.group(1) + "01"), [])
        elif day_match := _DAY.match(name):
            day = _parse(day_match.group(1))
            if parent == "events":
                found.flat.add(day)
            else:
                found.months.setdefault(month_of(day), []).append(day)
    return found


def _parse(digits: str) -> date:
    return datetime.strptime(digits, "%Y%m%d").replace(tzinfo=UTC).date()


def existing_partition_days(connection: Connection) -> set[date]:
    """The days that have a partition attached to ``events``."""
    return layout(connection).days


def create_partitions(connection: Connection, days: Iterable[date]) -> list[date]:
    """Create the partitions for ``days`` that do not exist yet (and their months' tables);
    return the days created.

    Concurrent callers (several server processes) are serialised by an advisory lock, so
    ``IF NOT EXISTS`` never races with itself.
    """
    wanted = sorted(set(days))
    if not wanted:
        return []
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    present = layout(connection)
    flat_months = {month_of(day) for day in present.flat}
    created = []
    for day in wanted:
        if day in present.days:
            continue
        month = month_of(day)
        if month not in present.months and month not in flat_months:
            connection.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {month_name(day)} PARTITION OF events "
                    f"FOR VALUES FROM ('{day_start(month).isoformat()}') "
                    f"TO ('{month_end(month).isoformat()}') PARTITION BY RANGE (occurred_at)"
                )
            )
            present.months[month] = []
        parent = "events" if month in flat_months else month_name(day)
        connection.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {parent} "
                f"FOR VALUES FROM ('{day_start(day).isoformat()}') "
                f"TO ('{day_end(day).isoformat()}')"
            )
        )
        if parent == "events":
            present.flat.add(day)
        else:
            present.months[month].append(day)
        created.append(day)
    return created


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``, the inclusive lower bound of its partition."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def day_end(day: date) -> datetime:
    """The first instant after ``day`` (UTC), the exclusive upper bound of its partition."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def detach_partitions(
    connection: Connection, present: Layout, days: Sequence[date], before: datetime
) -> None:
    """Take the days' partitions out of ``events`` (catalogue changes: no row is read) and set
    them aside under names of their own, for :func:`drop_detached` to drop; each name is free
    again at once, should a late event of a longer-kept organization need it. A month that
    ended by ``before`` and none of whose days stay goes whole, in one detach."""
    going = set(days)
    statements = []
    for month, its_days in sorted(present.months.items()):
        if month_end(month) > before or not going.issuperset(its_days):
            continue
        statements.append(f"ALTER TABLE events DETACH PARTITION {month_name(month)}")
        aside = [month_name(month), *(partition_name(day) for day in sorted(its_days))]
        statements.extend(
            f"ALTER TABLE {name} RENAME TO {_DETACHED_PREFIX}{name}" for name in aside
        )
        going.difference_update(its_days)
    for day in sorted(going):
        name = partition_name(day)
        statements.append(f"ALTER TABLE {present.parent(day)} DETACH PARTITION {name}")
        statements.append(f"ALTER TABLE {name} RENAME TO {_DETACHED_PREFIX}{name}")
    if statements:
        connection.exec_driver_sql("; ".join(statements))


def drop_detached(connection: Connection) -> int:
    """Drop every partition :func:`detach_partitions` set aside; returns how many days'.

    Separate from detaching because dropping a table removes its files and its indexes' at
    commit, which on some file systems takes far longer than the detach: the events are out of
    the log at the detach, and their storage is given back here, as VACUUM gives back what a
    DELETE leaves.
    """
    rows = connection.execute(
        text(
            "SELECT relname, relispartition FROM pg_class "
            "WHERE relkind IN ('r', 'p') AND relname LIKE :pattern ORDER BY relname"
        ),
        {"pattern": f"{_DETACHED_PREFIX}events_p%"},
    ).all()
    days = 0
    top = []  # a detached month's days go with it
    for name, is_partition in rows:
        own = name.removeprefix(_DETACHED_PREFIX)
        if _DAY.match(own):
            days += 1
        if (_DAY.match(own) or _MONTH.match(own)) and not is_partition:
            top.append(name)
    if top:
        connection.execute(text(f"DROP TABLE {', '.join(top)}"))
    return days
