"""Fresh databases and services for a benchmark run, on each engine."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from auditledger.services import Services, build_services
from auditledger.settings import load_settings
from auditledger_client.core.clock import FrozenClock

POSTGRES_ADMIN_URL = os.environ.get(
    "AUDITLEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# A fixed "now", so every run measures the same data.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def postgres_version() -> str | None:
    """The server's version, or None if it cannot be reached."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else None
    except psycopg.Error:
        return None


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


@dataclass
class BenchDatabase:
    """A throwaway database of one engine."""

    engine: str
    url: str
    workdir: Path


@contextmanager
def fresh_database(engine: str) -> Iterator[BenchDatabase]:
    """A new, empty database; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="auditledger-bench-") as tmp:
        workdir = Path(tmp)
        if engine == "sqlite":
            yield BenchDatabase(engine, f"sqlite:///{workdir / 'bench.db'}", workdir)
            return
        name = f"auditledger_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield BenchDatabase(engine, _with_db(POSTGRES_ADMIN_URL, name), workdir)
        finally:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def clone_postgres(url: str, suffix: str = "copy") -> str:
    """A copy of a PostgreSQL database (same data, same files): for a same-data baseline."""
    source = url.rsplit("/", 1)[1]
    name = f"{source}_{suffix}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (source,),
        )
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return _with_db(POSTGRES_ADMIN_URL, name)


def drop_postgres(url: str) -> None:
    """Drop a database made by :func:`clone_postgres`."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def open_services(database: BenchDatabase, clock: FrozenClock | None = None) -> Services:
    """Started services on the database, migrated, with a frozen clock."""
    settings = load_settings(
        environ={},
        database_url=database.url,
        signing_key_file=database.workdir / "signing.key",
        ingest_queue_events=200_000,
    )
    services = build_services(settings, clock=clock or FrozenClock(NOW))
    services.db.migrate()
    services.start()
    return services
