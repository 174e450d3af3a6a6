"""How many matching events happened per day (or per hour), for the histogram above the table.

One grouped count over the same conditions as the view (:mod:`auditledger.query.search`),
in 15-minute buckets of UTC; the buckets are then summed into the viewer's local days or
hours in Python. Every time zone's offset is a multiple of 15 minutes, so local days come out
exact, daylight saving included, with no time-zone arithmetic in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from auditledger.query.filters import EventFilter
from auditledger.query.search import check_source_access, filter_conditions
from auditledger.store.schema import events
from auditledger.store.types import epoch_seconds

QUARTER = 900  # seconds per SQL bucket
DEFAULT_DAYS = 30  # the range shown when the filter has no start
HOURLY_UP_TO = timedelta(hours=48)  # shorter ranges are shown per hour
MAX_BARS = 120


@dataclass(frozen=True)
class Bar:
    """One bar: a local day or hour and how many events it holds."""

    start: datetime  # local, in the viewer's zone
    end: datetime
    count: int


@dataclass(frozen=True)
class Activity:
    """The bars of a range, oldest first."""

    bars: list[Bar]
    hourly: bool

    @property
    def total(self) -> int:
        """Events in the range."""
        return sum(b.count for b in self.bars)

    @property
    def peak(self) -> int:
        """The largest bar (at least 1, so heights can be scaled by it)."""
        return max([b.count for b in self.bars] or [0]) or 1


def _edges(since: datetime, until: datetime, zone: ZoneInfo) -> tuple[list[datetime], bool]:
    local_start, local_end = since.astimezone(zone), until.astimezone(zone)
    if until - since <= HOURLY_UP_TO:
        first = local_start.replace(minute=0, second=0, microsecond=0)
        edges = [first]
        while edges[-1] <= local_end and len(edges) <= MAX_BARS:
            # Steps in UTC: a local hour repeated or skipped by daylight saving stays one hour.
            edges.append((edges[-1].astimezone(UTC) + timedelta(hours=1)).astimezone(zone))
        return edges, True
    day = local_start.date()
    last = local_end.date()
    days = (last - day).days + 1
    step = max(1, -(-days // MAX_BARS))  # whole days per bar
    edges = []
    while day <= last + timedelta(days=step - 1):
        edges.append(datetime.combine(day, time(), tzinfo=zone))
        day += timedelta(days=step)
    edges.append(datetime.combine(day, time(), tzinfo=zone))
    return edges, False


def activity(
    connection: Connection,
    org_id: int,
    flt: EventFilter,
    zone: str,
    now: datetime,
    *,
    include_source: bool = False,
) -> Activity:
    """Counts per local day (per hour up to 48 hours) across the filter's range; without a
    start, the last :data:`DEFAULT_DAYS` days."""
    check_source_access(flt, include_source)
    tz = ZoneInfo(zone)
    until = min(flt.until, now) if flt.until is not None else now
    since = flt.since or datetime.combine(
        (now.astimezone(tz) - timedelta(days=DEFAULT_DAYS - 1)).date(), time(), tzinfo=tz
    )
    if since > until:
        return Activity([], hourly=False)
    edges, hourly = _edges(since, until, tz)
    low, high = edges[0].astimezone(UTC), edges[-1].astimezone(UTC)
    origin = int(low.timestamp())
    seconds = epoch_seconds(events.c.occurred_at, connection.dialect.name)
    bucket = func.floor((seconds - origin) / QUARTER).label("bucket")
    query = (
        select(bucket, func.count().label("n"))
        .where(
            *filter_conditions(org_id, flt),
            events.c.occurred_at >= max(low, since),
            events.c.occurred_at <= until,
            events.c.occurred_at < high,
        )
        .group_by(bucket)
    )
    per_quarter = {int(row.bucket): int(row.n) for row in connection.execute(query)}
    counts = [0] * (len(edges) - 1)
    starts = [int(e.astimezone(UTC).timestamp()) for e in edges]
    index = 0
    for quarter in sorted(per_quarter):
        at = origin + quarter * QUARTER
        while index + 1 < len(starts) - 1 and at >= starts[index + 1]:
            index += 1
        counts[index] += per_quarter[quarter]
    bars = [Bar(edges[i], edges[i + 1], counts[i]) for i in range(len(counts))]
    return Activity(bars, hourly)
