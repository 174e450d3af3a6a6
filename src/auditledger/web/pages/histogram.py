"""The activity histogram above the table: server-rendered SVG, one link per bar.

Each bar is a link to the same filter narrowed to its day (or hour), so a click, or Tab and
Enter, zooms in; without JavaScript, and in any browser that shows SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from urllib.parse import urlencode

from auditledger.query.activity import Activity

WIDTH = 1000
HEIGHT = 56
GAP = 1


@dataclass(frozen=True)
class BarView:
    """One bar as drawn: geometry in the viewBox, its link and what it says."""

    x: float
    y: float
    width: float
    height: float
    href: str
    label: str
    count: int


@dataclass(frozen=True)
class Histogram:
    """The SVG's bars and its one-line description."""

    bars: list[BarView]
    width: int
    height: int
    summary: str


def histogram(
    found: Activity, action: str, items: Sequence[tuple[str, str]], zone: str
) -> Histogram | None:
    """The drawing of ``found``; each bar links to ``action`` with ``items`` narrowed to it."""
    if not found.bars:
        return None
    kept = [(k, v) for k, v in items if k not in ("from", "to", "tz", "cursor") and v.strip()]
    step = WIDTH / len(found.bars)
    bars = []
    for index, bar in enumerate(found.bars):
        if found.hourly:
            start = bar.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            # "to" is inclusive: the hour's last microsecond, so no event falls in two bars.
            end = (bar.end.astimezone(UTC) - timedelta(microseconds=1)).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            )
            when = bar.start.strftime("%Y-%m-%d %H:00")
            bounds = [("from", start), ("to", end)]
        else:
            # A bar ends at the local midnight after its last day.
            last = (bar.end - timedelta(days=1)).date()
            day = bar.start.date().isoformat()
            when = day if last == bar.start.date() else f"{day} to {last.isoformat()}"
            bounds = [("from", day), ("to", last.isoformat())]
        height = 0.0 if bar.count == 0 else max(2.0, (HEIGHT - 2) * bar.count / found.peak)
        bars.append(
            BarView(
                x=round(index * step, 2),
                y=round(HEIGHT - height, 2),
                width=round(max(1.0, step - GAP), 2),
                height=round(height, 2),
                href=action + "?" + urlencode([*kept, *bounds, ("tz", zone)]),
                label=f"{when}: {bar.count:,} event{'s' if bar.count != 1 else ''}",
                count=bar.count,
            )
        )
    unit = "hour" if found.hourly else "day"
    shown_from, shown_to = found.bars[0].start, found.bars[-1].start
    summary = (
        f"{found.total:,} matching events per {unit}, {shown_from:%Y-%m-%d} to "
        f"{shown_to:%Y-%m-%d} "
        f"({zone}); the highest bar is {found.peak:,}. Choose a bar to narrow the range to it."
    )
    return Histogram(bars, WIDTH, HEIGHT, summary)
