"""Retention purge of expired events, against a plain DELETE of the same rows, on each engine.

The data (:func:`load`) is an organization's log as a deployment with the default 180-day
retention has it: a month of events past retention, every day since the cutoff with events of
its own, and some of each day's events arriving a day late. It is loaded once through the
ingest path, then copied (PostgreSQL: a template clone; SQLite: the database file), so every
DELETE and every purge works on the same rows, each on a copy of its own.

The DELETE is the cheapest row-by-row removal there is: one statement, the tables' guard
triggers switched off, no record, on a connection already open. The purge is ``auditledger
purge`` until the events are out of the log: planning, the ``purges`` record, the attesting
``audit_log.purge`` event, and removal (on PostgreSQL the expired days' partitions are
detached; on SQLite rows are deleted by seq range in batches), in services that have answered a
dry run first, as a running server's connections are open. Each side starts after a
CHECKPOINT, so neither pays for the other's writes. Neither side's reclaiming of storage is in
the headline figure, and both are measured beside it: on PostgreSQL dropping the detached tables
(the rest of ``auditledger purge``) against a VACUUM of the DELETE's copy, so the detail also
gives the complete ratio. Each side runs ``rounds`` times and its best run counts: on a shared
machine the best is the one least disturbed. Times are wall clock, and CPU time of this process,
which runs SQLite in-process (PostgreSQL's own work shows only on the wall clock).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from auditledger.bench import data
from auditledger.bench.env import (
    NOW,
    POSTGRES_ADMIN_URL,
    BenchDatabase,
    clone_postgres,
    drop_postgres,
    open_services,
)
from auditledger.bench.model import Figure
from auditledger.retention import policy
from auditledger.retention.purge import OrgPurge
from auditledger.store.engine import sqlite_path
from auditledger.store.types import to_micros
from auditledger_client.core.event import EventDraft

TARGET = 20  # times faster than the DELETE
ROUNDS = 2  # runs of each side, each on its own copy; the best of each counts


@dataclass(frozen=True)
class Timing:
    """Wall-clock and own-process CPU seconds of one step."""

    wall: float
    cpu: float


@dataclass(frozen=True)
class Deletion:
    """One DELETE of the expired rows, and the VACUUM after it (PostgreSQL)."""

    timing: Timing
    deleted: int
    vacuum: float


@dataclass(frozen=True)
class Purged:
    """One purge until the events are out of the log, and the drop of what it detached."""

    timing: Timing
    item: OrgPurge
    reclaim: float
    reclaimed: int


EXPIRED_DAYS = 30  # the expired events' span: a month's worth, ending 20 days past retention
RETAINED_DAYS = 180  # the retention: every day since the cutoff holds events too
LATE = 0.01  # of each day's events arrive the next day, among that day's own


def load(database: BenchDatabase, count: int) -> int:
    """An organization's log as a deployment with the default 180-day retention has it, whose
    purge has ``count`` expired events to remove; returns the organization's id.

    ``count`` events over the 30 days that ended 200 days ago (all expired), then the 180 days
    since the cutoff and this morning, each with events (a twentieth as many in all: neither
    the DELETE nor the purge reads them, but every day's partition is there, as in
    production, for the purge's lock and the planner to see). One percent of each day's
    events arrive the next day, so sequence numbers do not follow time and every day holds
    several runs of them. Then a VACUUM ANALYZE: autovacuum has long been through a partition
    200 days old.
    """
    services = open_services(database)
    try:
        org = services.tenancy.create_org("expired", "Expired")
        expired_end = NOW - timedelta(days=RETAINED_DAYS + 20)
        data.load(services, org, count, end=expired_end, days=EXPIRED_DAYS, seed=5, late=LATE)
        retained = max(RETAINED_DAYS, count // 20)
        data.load(services, org, retained, end=NOW, days=RETAINED_DAYS, seed=6, late=LATE)
        # And the morning of the day the purge runs: where events arrive every day, today's
        # partition is there before the purge appends its own event.
        services.ingest.ingest_blocking(org, _this_morning(retained // RETAINED_DAYS, seed=7), NOW)
        return org.id
    finally:
        services.stop()
        if database.engine == "postgres":
            with psycopg.connect(_driver_url(database.url), autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")


def _this_morning(count: int, seed: int) -> list[EventDraft]:
    """Up to ``count`` of a day's events, those that occurred today before ``NOW``."""
    day = data.drafts_by_day(count, end=NOW + timedelta(days=1), days=1, seed=seed)
    return [draft for _, drafts in day for draft in drafts if draft.occurred_at < NOW]


def _driver_url(url: str) -> str:
    return url.replace("postgresql+psycopg", "postgresql")


def _checkpoint(database: BenchDatabase) -> None:
    if database.engine == "postgres":
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute("CHECKPOINT")


@contextmanager
def _copy(database: BenchDatabase, name: str) -> Iterator[BenchDatabase]:
    """A copy of the loaded database, removed afterwards."""
    if database.engine == "postgres":
        url = clone_postgres(database.url, name)
        try:
            yield BenchDatabase("postgres", url, database.workdir)
        finally:
            drop_postgres(url)
        return
    source = sqlite_path(database.url)
    assert source is not None
    target = source.with_name(f"{name}.db")
    shutil.copyfile(source, target)
    try:
        yield BenchDatabase("sqlite", f"sqlite:///{target}", database.workdir)
    finally:
        for path in target.parent.glob(f"{target.name}*"):
            path.unlink()


def _delete(database: BenchDatabase, org_id: int, cutoff: datetime, name: str) -> Deletion:
    """The DELETE of the expired rows, on a copy."""
    with _copy(database, name) as copy:
        if copy.engine == "postgres":
            return _delete_postgres(copy, org_id, cutoff)
        return _delete_sqlite(copy, org_id, cutoff)


def _delete_postgres(copy: BenchDatabase, org_id: int, cutoff: datetime) -> Deletion:
    with psycopg.connect(_driver_url(copy.url)) as conn:
        conn.execute("SET session_replication_role = replica")  # the guard triggers off
        conn.commit()
        _checkpoint(copy)
        wall, cpu = time.perf_counter(), time.process_time()
        deleted = conn.execute(
            "DELETE FROM events WHERE org_id = %s AND occurred_at < %s", (org_id, cutoff)
        ).rowcount
        conn.commit()
        timing = Timing(time.perf_counter() - wall, time.process_time() - cpu)
        conn.autocommit = True
        wall = time.perf_counter()
        conn.execute("VACUUM events")
        return Deletion(timing, deleted, time.perf_counter() - wall)


def _delete_sqlite(copy: BenchDatabase, org_id: int, cutoff: datetime) -> Deletion:
    path = sqlite_path(copy.url)
    assert path is not None
    conn = sqlite3.connect(path)
    try:
        conn.execute("DROP TRIGGER IF EXISTS events_append_only_delete")  # the guard off
        conn.commit()
        wall, cpu = time.perf_counter(), time.process_time()
        deleted = conn.execute(
            "DELETE FROM events WHERE org_id = ? AND occurred_at < ?",
            (org_id, to_micros(cutoff)),
        ).rowcount
        conn.commit()
        # SQLite's freed pages are reused at once; VACUUM would rebuild the whole file.
        return Deletion(Timing(time.perf_counter() - wall, time.process_time() - cpu), deleted, 0)
    finally:
        conn.close()


def _purge(database: BenchDatabase) -> Purged:
    """``auditledger purge`` in services already warm, as a running server's are."""
    services = open_services(database)
    try:
        # A running server is taking today's events and answering reads: its connections are
        # open and know today's partition.
        org = services.tenancy.org("expired")
        services.ingest.ingest_blocking(org, _this_morning(50, seed=8)[:1], NOW)
        services.retention.purge(dry_run=True)
        _checkpoint(database)
        wall, cpu = time.perf_counter(), time.process_time()
        report = services.retention.purge(reclaim=False)
        timing = Timing(time.perf_counter() - wall, time.process_time() - cpu)
        wall = time.perf_counter()
        reclaimed = services.retention.reclaim()
        return Purged(timing, report.orgs[0], time.perf_counter() - wall, reclaimed)
    finally:
        services.stop()


def measure(database: BenchDatabase, count: int, rounds: int = ROUNDS) -> Figure:
    """Load ``count`` expired events among retained ones (:func:`load`), then DELETE them from
    a copy and purge them from another, ``rounds`` times each (the last purge on the original)."""
    org_id = load(database, count)
    cutoff = policy.cutoff(NOW, RETAINED_DAYS)
    deletions: list[Deletion] = []
    purges: list[Purged] = []
    for round_ in range(rounds):
        deletions.append(_delete(database, org_id, cutoff, f"delete{round_}"))
        if round_ < rounds - 1:
            with _copy(database, f"purge{round_}") as copy:
                purges.append(_purge(copy))
        else:
            purges.append(_purge(database))
    baseline = min(deletions, key=lambda d: d.timing.wall)
    best = min(purges, key=lambda p: p.timing.wall)
    item = best.item
    if any(p.item.count != d.deleted for p in purges for d in deletions):
        raise RuntimeError(
            f"the purge removed {item.count:,} events, the DELETE {baseline.deleted:,}"
        )
    speedup = baseline.timing.wall / best.timing.wall
    complete = (baseline.timing.wall + baseline.vacuum) / (best.timing.wall + best.reclaim)
    runs = (
        f"best of {rounds}: DELETE {', '.join(f'{d.timing.wall:.2f}' for d in deletions)} s, "
        f"purge {', '.join(f'{p.timing.wall:.3f}' for p in purges)} s"
    )
    removal = (
        f"{item.partitions_dropped} daily partitions detached, {item.rows_deleted:,} rows "
        f"deleted; then dropping the {best.reclaimed} detached tables {best.reclaim:.2f} s "
        f"against VACUUM after the DELETE {baseline.vacuum:.2f} s: complete (DELETE + VACUUM) / "
        f"(purge + drop) = {complete:.1f} x"
        if database.engine == "postgres"
        else f"{item.rows_deleted:,} rows deleted by seq range"
    )
    return Figure(
        database.engine,
        f"retention purge of {item.count:,} expired events (until out of the log)",
        best.timing.wall,
        "s",
        baseline.timing.wall,
        f"one DELETE of the same {baseline.deleted:,} rows, guard triggers off, its VACUUM apart",
        f"<= {1 / TARGET:.2f} x baseline ({TARGET} x faster)",
        speedup >= TARGET,
        f"DELETE / purge = {speedup:.1f} x (wall; {runs}); {EXPIRED_DAYS} expired days among "
        f"{RETAINED_DAYS} retained ones, {LATE:.0%} of each day's events a day late, "
        f"{len(item.ranges):,} seq ranges; {removal}; recorded and attested in the log; CPU of "
        f"this process: purge {best.timing.cpu:.2f} s, DELETE {baseline.timing.cpu:.2f} s",
        extra={
            "speedup": speedup,
            "complete_speedup": complete,
            "delete_s": [d.timing.wall for d in deletions],
            "purge_s": [p.timing.wall for p in purges],
            "reclaim_s": best.reclaim,
            "vacuum_s": baseline.vacuum,
            "purge_cpu_s": best.timing.cpu,
            "delete_cpu_s": baseline.timing.cpu,
            "partitions_dropped": item.partitions_dropped,
            "rows_deleted": item.rows_deleted,
            "ranges": len(item.ranges),
        },
    )
