"""One object per process that owns the engines and hides the few SQLite/PostgreSQL differences."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import Connection, Select, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from auditledger.store import migrate, partitions
from auditledger.store.engine import DEFAULT_BUSY_TIMEOUT_MS, Engines, create_engines, sqlite_path


class Database:
    """The database: a writer for appends, readers for queries, and dialect helpers."""

    def __init__(
        self, url: str, *, pool_size: int = 10, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
    ) -> None:
        self.engines: Engines = create_engines(
            url, pool_size=pool_size, busy_timeout_ms=busy_timeout_ms
        )
        self._partition_days: set[date] | None = None
        self._partition_lock = threading.Lock()

    @property
    def url(self) -> str:
        """The database URL (with the driver auditledger uses)."""
        return self.engines.url

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engines.dialect

    @property
    def is_postgres(self) -> bool:
        """Whether this is PostgreSQL."""
        return self.dialect == "postgresql"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed on success and rolled back on error."""
        with self.engines.writer.begin() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot for everything read in it."""
        with self.engines.reader.connect() as connection:
            if self.is_postgres:
                connection.exec_driver_sql(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                )
            try:
                yield connection
            finally:
                connection.rollback()

    def migrate(self) -> None:
        """Create or upgrade the schema."""
        migrate.upgrade(self.engines.writer)

    def is_migrated(self) -> bool:
        """Whether the schema is current."""
        return migrate.is_current(self.engines.writer)

    def for_update(self, query: Select[Any]) -> Select[Any]:
        """Lock the selected rows until commit (PostgreSQL). SQLite's writer already holds
        the database's only write lock from ``BEGIN IMMEDIATE``."""
        return query.with_for_update() if self.is_postgres else query

    def insert_ignore(self, connection: Connection, table: Table, row: dict[str, Any]) -> bool:
        """``INSERT ... ON CONFLICT DO NOTHING`` on either engine; True if the row was inserted.

        RETURNING says so reliably (psycopg reports no row count for this statement).
        """
        dialect_insert = postgresql.insert if self.is_postgres else sqlite.insert
        key = next(iter(table.primary_key.columns))
        statement = dialect_insert(table).values(**row).on_conflict_do_nothing().returning(key)
        return connection.execute(statement).first() is not None

    def stored_form(self, column: str, kind: str) -> str:
        """SQL reading ``column`` in SQLite's stored form on either engine: an ``instant`` as
        integer microseconds since the epoch, a ``uuid`` as 32 lowercase hex digits.

        PostgreSQL converts its own types in the query, exactly (its instants have microsecond
        precision; its UUID text is the canonical one), which costs far less than a datetime
        or UUID object per value in Python: for readers of millions of raw rows."""
        if not self.is_postgres:
            return column
        if kind == "instant":
            return f"(extract(epoch FROM {column}) * 1000000)::bigint"
        if kind == "uuid":
            return f"replace({column}::text, '-', '')"
        raise ValueError(f"no stored form for {kind!r}")

    def raw_rows(self, connection: Connection, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """Rows of ``sql`` (positional ``?`` markers) through the driver's own cursor: plain
        tuples, for the few readers of millions of rows that SQLAlchemy's rows would slow."""
        if connection.dialect.paramstyle != "qmark":
            sql = sql.replace("?", "%s")
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, tuple(parameters))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    @contextmanager
    def try_exclusive(self, name: str, key: int) -> Iterator[bool]:
        """Hold a lock shared by every process of the deployment while the block runs; yields
        False (at once, without waiting) if another process holds it. PostgreSQL: the advisory
        lock ``key``; SQLite: a file lock beside the database file, ``<file>.<name>-lock``."""
        if self.is_postgres:
            with self.engines.writer.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                got = connection.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": key}
                ).scalar()
                try:
                    yield bool(got)
                finally:
                    if got:
                        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            return
        path = sqlite_path(self.url)
        if path is None:
            yield True
            return
        with open(f"{path}.{name}-lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def upsert(
        self,
        connection: Connection,
        table: Table,
        rows: Sequence[dict[str, Any]],
        keys: Sequence[str],
        update: dict[str, Any],
        where: Any = None,
    ) -> None:
        """``INSERT ... ON CONFLICT (keys) DO UPDATE SET update [WHERE where]`` on either engine.

        ``update`` values may refer to the proposed row as ``excluded(stmt)`` by being callables
        taking the insert statement's ``excluded`` namespace.
        """
        if not rows:
            return
        dialect_insert = postgresql.insert if self.is_postgres else sqlite.insert
        statement = dialect_insert(table)
        values = {k: v(statement.excluded) if callable(v) else v for k, v in update.items()}
        condition = where(statement.excluded) if callable(where) else where
        connection.execute(
            statement.on_conflict_do_update(index_elements=keys, set_=values, where=condition),
            list(rows),
        )

    def ensure_partitions(self, days: Sequence[date]) -> None:
        """Make sure the events table can take rows for ``days`` (PostgreSQL only)."""
        if not self.is_postgres:
            return
        with self._partition_lock:
            if self._partition_days is None:
                with self.engines.writer.connect() as connection:
                    self._partition_days = partitions.existing_partition_days(connection)
                    connection.rollback()
            missing = [d for d in days if d not in self._partition_days]
            if not missing:
                return
            with self.engines.writer.begin() as connection:
                partitions.create_partitions(connection, missing)
                self._partition_days = partitions.existing_partition_days(connection)

    def forget_partitions(self) -> None:
        """Drop the cached partition list (after a purge, or a 'no partition' error)."""
        with self._partition_lock:
            self._partition_days = None

    def analyze(self) -> None:
        """Do at once what autovacuum does in production after a load, for benchmarks that
        load millions of rows in minutes and cannot wait for it: refresh PostgreSQL's planner
        statistics and mark the loaded pages all-visible (without that, every index-only scan
        and count reads the table too, which a production log long past its load never does).
        SQLite keeps no statistics: its planner's heuristics pick the view's indexes
        (docs/query-plans.md)."""
        if not self.is_postgres:
            return
        with self.engines.writer.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.exec_driver_sql("VACUUM (ANALYZE)")

    def dispose(self) -> None:
        """Close all connections."""
        self.engines.dispose()


def is_missing_partition(error: DBAPIError) -> bool:
    """Whether a PostgreSQL error says no partition exists for a row."""
    return "no partition of relation" in str(error.orig)
