"""How many matching events happened per day (or per hour), for the histogram above the table.

One statement over the same conditions as the view (:mod:`auditledger.query.search`): a count
per bar, each bounded by the bar's edges, the viewer's local midnights (or hours) computed in
Python as UTC instants, so local days come out exact, daylight saving included, with no
time-zone arithmetic in SQL. Each count is a range of the index the view itself reads (no
expression per row, no grouping): a month of a million-event log is some 180,000 rows to
count, which a grouped count of computed buckets made several times slower than the page's
own query. On PostgreSQL each bar's constant bounds leave only its own day's partitions to
plan.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, and_, bindparam, func, select

from auditledger.query.filters import EventFilter
from auditledger.query.search import check_source_access, filter_conditions
from auditledger.store.schema import events

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


@functools.lru_cache(maxsize=256)
def _per_bar_counts(org_id: int, flt: EventFilter, strict: tuple[bool, ...]) -> Select[Any]:
    """The statement counting each bar, its bounds left as parameters (``low_N``, ``high_N``;
    ``strict``: whether a bar's upper bound is exclusive). Kept: a page views the same filter
    again and again, and building a hundred subqueries costs more than counting a month."""
    matching = and_(*filter_conditions(org_id, flt))  # built once, shared by every bar
    at = events.c.occurred_at

    def bound(name: str) -> Any:
        return bindparam(name, type_=at.type)

    return select(
        *[
            select(func.count())
            .select_from(events)
            .where(
                matching,
                at >= bound(f"low_{index}"),
                at < bound(f"high_{index}") if exclusive else at <= bound(f"high_{index}"),
            )
            .scalar_subquery()
            .label(f"bar_{index}")
            for index, exclusive in enumerate(strict)
        ]
    )


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
    bounds = [edge.astimezone(UTC) for edge in edges]
    # One lower and one upper bound per bar: given two upper bounds, SQLite may range over
    # the looser one and count the rest of the range for every bar.
    strict = tuple(high <= until for high in bounds[1:])
    values: dict[str, datetime] = {}
    for index, (low, high) in enumerate(itertools.pairwise(bounds)):
        values[f"low_{index}"] = max(low, since)
        values[f"high_{index}"] = high if strict[index] else until
    # The bars' bounds hold the filter's own dates (``since``, ``until``): left out of the
    # conditions, so each count has one range to scan.
    statement = _per_bar_counts(org_id, replace(flt, since=None, until=None), strict)
    counts = [int(n) for n in connection.execute(statement, values).one()]
    bars = [Bar(edges[i], edges[i + 1], counts[i]) for i in range(len(counts))]
    return Activity(bars, hourly)
