"""Retention purge of expired events, against a plain DELETE of the same rows, on each engine.

The data is loaded once through the ingest path, then copied (PostgreSQL: a template clone;
SQLite: the database file), so the purge and the DELETE work on the same rows in the same run.
The DELETE is the cheapest row-by-row removal there is: one statement, the tables' guard
triggers switched off, no record. The purge is ``auditledger purge`` until the events are out
of the log: planning, the ``purges`` record, the attesting ``audit_log.purge`` event, and
removal (on PostgreSQL the expired days' partitions are detached; on SQLite rows are deleted by
seq range in batches). Neither side's reclaiming of storage is in the headline figure, and
both are measured beside it: on PostgreSQL dropping the detached tables (the rest of
``auditledger purge``) against a VACUUM of the DELETE's copy, so the detail also gives the
complete ratio. Times are wall clock, and CPU time of this process, which runs SQLite
in-process (PostgreSQL's own work shows only on the wall clock).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from auditledger.bench import data
from auditledger.bench.env import NOW, BenchDatabase, clone_postgres, drop_postgres, open_services
from auditledger.bench.model import Figure
from auditledger.retention import policy
from auditledger.store.engine import sqlite_path
from auditledger.store.types import to_micros

TARGET = 20  # times faster than the DELETE


@dataclass(frozen=True)
class Timing:
    """Wall-clock and own-process CPU seconds of one step."""

    wall: float
    cpu: float


def _delete_postgres(url: str, org_id: int, cutoff: datetime) -> tuple[Timing, int, float]:
    copy_url = clone_postgres(url)
    try:
        with psycopg.connect(copy_url.replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute("SET session_replication_role = replica")  # the guard triggers off
            wall, cpu = time.perf_counter(), time.process_time()
            deleted = conn.execute(
                "DELETE FROM events WHERE org_id = %s AND occurred_at < %s", (org_id, cutoff)
            ).rowcount
            conn.commit()
            delete = Timing(time.perf_counter() - wall, time.process_time() - cpu)
            conn.autocommit = True
            wall = time.perf_counter()
            conn.execute("VACUUM events")
            return delete, deleted, time.perf_counter() - wall
    finally:
        drop_postgres(copy_url)


def _delete_sqlite(url: str, org_id: int, cutoff: datetime) -> tuple[Timing, int, float]:
    source = sqlite_path(url)
    assert source is not None
    copy = source.with_name("delete-baseline.db")
    shutil.copyfile(source, copy)
    try:
        conn = sqlite3.connect(copy)
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
            return Timing(time.perf_counter() - wall, time.process_time() - cpu), deleted, 0.0
        finally:
            conn.close()
    finally:
        copy.unlink(missing_ok=True)


def measure(database: BenchDatabase, count: int) -> Figure:
    """Load ``count`` events that expired long ago, DELETE them from a copy, and purge them
    from the original with auditledger."""
    services = open_services(database)
    try:
        org = services.tenancy.create_org("expired", "Expired")
        # Thirty days of events that ended 200 days ago: all past the 180-day retention now.
        data.load(services, org, count, end=NOW - timedelta(days=200), days=30, seed=5)
        services.db.analyze()
        org_id = org.id
    finally:
        services.stop()
    cutoff = policy.cutoff(NOW, 180)
    if database.engine == "postgres":
        baseline, deleted, vacuum = _delete_postgres(database.url, org_id, cutoff)
    else:
        baseline, deleted, vacuum = _delete_sqlite(database.url, org_id, cutoff)
    services = open_services(database)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        report = services.retention.purge(reclaim=False)
        purge = Timing(time.perf_counter() - wall, time.process_time() - cpu)
        wall = time.perf_counter()
        reclaimed = services.retention.reclaim()
        reclaim = time.perf_counter() - wall
    finally:
        services.stop()
    item = report.orgs[0]
    speedup = baseline.wall / purge.wall
    complete = (baseline.wall + vacuum) / (purge.wall + reclaim)
    removal = (
        f"{item.partitions_dropped} daily partitions detached, {item.rows_deleted:,} rows "
        f"deleted; then dropping the {reclaimed} detached tables {reclaim:.2f} s against VACUUM "
        f"after the DELETE {vacuum:.2f} s: complete (DELETE + VACUUM) / (purge + drop) = "
        f"{complete:.1f} x"
        if database.engine == "postgres"
        else f"{item.rows_deleted:,} rows deleted by seq range"
    )
    return Figure(
        database.engine,
        f"retention purge of {item.count:,} expired events (until out of the log)",
        purge.wall,
        "s",
        baseline.wall,
        f"one DELETE of the same {deleted:,} rows, guard triggers off, its VACUUM apart",
        f"<= {1 / TARGET:.2f} x baseline ({TARGET} x faster)",
        speedup >= TARGET,
        f"DELETE / purge = {speedup:.1f} x (wall); {removal}; recorded and attested in the "
        f"log; CPU of this process: purge {purge.cpu:.2f} s, DELETE {baseline.cpu:.2f} s",
        extra={
            "speedup": speedup,
            "complete_speedup": complete,
            "reclaim_s": reclaim,
            "vacuum_s": vacuum,
            "purge_cpu_s": purge.cpu,
            "delete_cpu_s": baseline.cpu,
            "partitions_dropped": item.partitions_dropped,
            "rows_deleted": item.rows_deleted,
        },
    )
