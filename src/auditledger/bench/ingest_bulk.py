"""Bulk ingest through the service path, against raw INSERT (SQLite) / COPY (PostgreSQL)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from auditledger.bench.data import BATCH, wire_events
from auditledger.bench.env import NOW, BenchDatabase, open_services
from auditledger.bench.model import Figure
from auditledger.store.schema import events
from auditledger.store.types import sqlite_value
from auditledger_client.core.validate import parse_event


def measure(database: BenchDatabase, count: int) -> Figure:
    """Events/s validated, sequenced, hashed and committed, vs the raw write of the same rows."""
    services = open_services(database)
    try:
        org = services.tenancy.create_org("bulk", "Bulk")
        raw_org = services.tenancy.create_org("raw", "Raw")
        days = list(wire_events(count, end=NOW - timedelta(days=1), days=20, seed=3))
        received = NOW - timedelta(hours=1)
        batches = [
            flat[i : i + BATCH]
            for flat in [[e for day in days for e in day]]
            for i in range(0, len(flat), BATCH)
        ]
        started = time.perf_counter()
        for batch in batches:
            drafts = [parse_event(e, received_at=received) for e in batch]
            services.ingest.ingest_blocking(org, drafts, received)
        service_seconds = time.perf_counter() - started
        total = sum(len(b) for b in batches)

        with services.db.read() as connection:
            rows = [
                dict(r._mapping)
                for r in connection.execute(select(events).where(events.c.org_id == org.id))
            ]
        columns = [c.name for c in events.columns]
        native = services.db.is_postgres
        tuples = [
            tuple(
                raw_org.id if c == "org_id" else row[c] if native else sqlite_value(row[c])
                for c in columns
            )
            for row in rows
        ]
        started = time.perf_counter()
        for offset in range(0, len(tuples), BATCH):
            _raw_write(services, columns, tuples[offset : offset + BATCH])
        raw_seconds = time.perf_counter() - started
    finally:
        services.stop()
    raw_label = "COPY" if database.engine == "postgres" else "executemany INSERT"
    value = total / service_seconds
    baseline = len(tuples) / raw_seconds
    return Figure(
        engine=database.engine,
        name="bulk ingest",
        value=value,
        unit="events/s",
        baseline=baseline,
        baseline_label=f"raw {raw_label} of the same rows, {BATCH} per transaction",
        target=">= 0.5 x baseline",
        met=value >= 0.5 * baseline,
        detail=f"{total:,} events in batches of {BATCH} (validation, sequencing, hashing, commit)",
    )


def _raw_write(services: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """The engine's fastest plain bulk write, on the driver connection, one transaction."""
    db = services.db
    names = ", ".join(columns)
    with db.write() as connection:
        driver = connection.connection.driver_connection
        if db.is_postgres:
            with (
                driver.cursor() as cursor,
                cursor.copy(f"COPY events ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join("?" for _ in columns)
            driver.executemany(f"INSERT INTO events ({names}) VALUES ({placeholders})", rows)
