"""Database engines for SQLite and PostgreSQL, configured for durability.

SQLite: WAL journal with ``synchronous=FULL`` so a committed transaction survives power loss,
and a busy timeout so readers and the CLI wait for the writer instead of failing. Two engines
share the file: the writer's transactions start with ``BEGIN IMMEDIATE`` (take the write lock up
front, no deadlock-prone lock upgrade); readers' start with a plain ``BEGIN`` so a long export
reads one consistent snapshot.

PostgreSQL: psycopg 3; committed means ``COMMIT`` returned with the server's default
``synchronous_commit = on``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

DEFAULT_BUSY_TIMEOUT_MS = 10_000


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` URLs and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url: str) -> bool:
    """Whether ``url`` names a SQLite database."""
    return make_url(normalise_url(url)).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for in-memory)."""
    database = make_url(normalise_url(url)).database
    return Path(database) if database and database != ":memory:" else None


def _configure_sqlite(engine: Engine, begin: str, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


@dataclass
class Engines:
    """The engines one process uses: ``writer`` for appends, ``reader`` for everything else."""

    url: str
    writer: Engine
    reader: Engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.writer.dialect.name

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def create_engines(
    url: str, *, pool_size: int = 10, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> Engines:
    """Engines for ``url`` (``sqlite:///path.db`` or ``postgresql://...``)."""
    url = normalise_url(url)
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None and path.parent != Path():
            path.parent.mkdir(parents=True, exist_ok=True)
        if path is None:
            # An in-memory database exists per connection: share one so both engines see it.
            writer = create_engine(url, poolclass=StaticPool)
            _configure_sqlite(writer, "BEGIN IMMEDIATE", busy_timeout_ms)
            return Engines(url, writer, writer)
        writer = create_engine(url, pool_size=2, max_overflow=4)
        _configure_sqlite(writer, "BEGIN IMMEDIATE", busy_timeout_ms)
        reader = create_engine(url, pool_size=pool_size, max_overflow=pool_size)
        _configure_sqlite(reader, "BEGIN", busy_timeout_ms)
        return Engines(url, writer, reader)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"connect_timeout": 5, "application_name": "auditledger"},
    )
    return Engines(url, engine, engine)
