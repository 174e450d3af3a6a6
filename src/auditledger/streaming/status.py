"""Where each destination's delivery stands: lag in events and seconds, counters, last error.

Read from the database, so every process (and the CLI) reports the same figures whichever
process delivers; ``/metrics`` exports them through :class:`StreamCollector`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from auditledger.query.search import filter_conditions
from auditledger.store.database import Database
from auditledger.store.log import read_head
from auditledger.store.schema import events, organizations
from auditledger.streaming.model import Destination
from auditledger.streaming.repository import DestinationRepository


@dataclass(frozen=True)
class DestinationStatus:
    """One destination's delivery figures."""

    destination: Destination
    org_slug: str
    lag_events: int  # matching events not yet acknowledged
    lag_seconds: float  # age of the oldest of them (0 when caught up)


def destination_status(db: Database, destination: Destination, now: datetime) -> DestinationStatus:
    """The figures of one destination, from one snapshot."""
    with db.read() as connection:
        slug = connection.execute(
            select(organizations.c.slug).where(organizations.c.id == destination.org_id)
        ).scalar_one()
        size = read_head(connection, destination.org_id).tree_size
        pending = (
            *filter_conditions(destination.org_id, destination.event_filter),
            events.c.seq >= destination.next_seq,
            events.c.seq < size,
        )
        count, oldest = connection.execute(
            select(func.count(), func.min(events.c.received_at)).where(*pending)
        ).one()
    lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None and count else 0.0
    return DestinationStatus(destination, slug, int(count), lag)


class StreamCollector(Collector):
    """Prometheus metrics of every destination, computed at scrape time."""

    def __init__(
        self, db: Database, repo: DestinationRepository, now: Callable[[], datetime]
    ) -> None:
        self.db = db
        self.repo = repo
        self.now = now

    def collect(self) -> Iterator[Metric]:
        """Lag, counters and state of each destination (labels: organization, destination)."""
        labels = ["organization", "destination"]
        families = {
            "lag_events": GaugeMetricFamily(
                "auditledger_stream_lag_events", "Matching events not yet delivered.", labels=labels
            ),
            "lag_seconds": GaugeMetricFamily(
                "auditledger_stream_lag_seconds",
                "Age of the oldest undelivered matching event.",
                labels=labels,
            ),
            "delivered": GaugeMetricFamily(
                "auditledger_stream_delivered_events",
                "Events delivered and acknowledged (all processes).",
                labels=labels,
            ),
            "failed": GaugeMetricFamily(
                "auditledger_stream_failed_deliveries",
                "Failed delivery attempts (all processes).",
                labels=labels,
            ),
            "dead": GaugeMetricFamily(
                "auditledger_stream_dead_letter",
                "1 when the destination is dead-lettered and waits for a retry.",
                labels=labels,
            ),
            "error": GaugeMetricFamily(
                "auditledger_stream_last_error",
                "1 with the last delivery error as a label, while it is unresolved.",
                labels=[*labels, "error"],
            ),
        }
        try:
            every = self.repo.list()
            statuses = [destination_status(self.db, d, self.now()) for d in every]
        except Exception:  # a scrape during a database outage still answers the other metrics
            statuses = []
        for status in statuses:
            d = status.destination
            values = [status.org_slug, d.name]
            families["lag_events"].add_metric(values, status.lag_events)
            families["lag_seconds"].add_metric(values, status.lag_seconds)
            families["delivered"].add_metric(values, d.delivered)
            families["failed"].add_metric(values, d.failed)
            families["dead"].add_metric(values, 1 if d.state.value == "dead" else 0)
            if d.last_error:
                families["error"].add_metric([*values, d.last_error[:200]], 1)
        yield from families.values()
