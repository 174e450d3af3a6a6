"""Retention purge of expired events on PostgreSQL, against DELETE of the same rows."""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg

from auditledger.bench import data
from auditledger.bench.env import NOW, BenchDatabase, clone_postgres, drop_postgres, open_services
from auditledger.bench.model import Figure
from auditledger.retention import policy


def measure(database: BenchDatabase, count: int) -> Figure:
    """Load ``count`` events that expired long ago, clone the database, purge one copy with
    auditledger and DELETE the same rows from the other."""
    services = open_services(database)
    try:
        org = services.tenancy.create_org("expired", "Expired")
        # Thirty days of events that ended 200 days ago: all past the 180-day retention now.
        data.load(services, org, count, end=NOW - timedelta(days=200), days=30, seed=5)
        org_id = org.id
    finally:
        services.stop()
    cutoff = policy.cutoff(NOW, 180)
    copy_url = clone_postgres(database.url)
    try:
        with psycopg.connect(copy_url.replace("postgresql+psycopg", "postgresql")) as conn:
            # Plain DELETE, the triggers that guard the table switched off: the fastest a
            # row-by-row removal of the same rows can be.
            conn.execute("SET session_replication_role = replica")
            started = time.perf_counter()
            deleted = conn.execute(
                "DELETE FROM events WHERE org_id = %s AND occurred_at < %s", (org_id, cutoff)
            ).rowcount
            conn.commit()
            delete_seconds = time.perf_counter() - started
    finally:
        drop_postgres(copy_url)
    services = open_services(database)
    try:
        started = time.perf_counter()
        report = services.retention.purge()
        purge_seconds = time.perf_counter() - started
    finally:
        services.stop()
    item = report.orgs[0]
    speedup = delete_seconds / purge_seconds
    return Figure(
        database.engine,
        f"retention purge of {item.count:,} expired events",
        purge_seconds,
        "s",
        delete_seconds,
        f"DELETE of the same {deleted:,} rows",
        ">= 20 x faster than baseline",
        speedup >= 20,
        f"{speedup:.1f} x faster; {item.partitions_dropped} daily partitions dropped, "
        f"{item.rows_deleted:,} rows deleted; purge recorded and attested in the log",
        extra={"speedup": speedup},
    )
