"""Test databases: where PostgreSQL is, and fresh databases cloned from a migrated template."""

from __future__ import annotations

import os
import queue
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg

PG_ADMIN_URL = os.environ.get(
    "AUDITLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("AUDITLEDGER_REQUIRE_POSTGRES") == "1"
NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3, autocommit=True):
            return None
    except psycopg.Error as exc:
        return str(exc).splitlines()[0]


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def admin_execute(admin_url: str, sql: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


class Dropper:
    """Drops finished test databases on a background thread, several at once.

    DROP DATABASE makes PostgreSQL run a checkpoint (it flushes and fsyncs before removing
    the files), and the workers' checkpoints queue behind each other: 0.1 s on a quiet disk,
    seconds on a busy one. The next test does not need the old database gone, so it does not
    wait; :meth:`drain` (at the end of the session) waits for every drop and reports failures.
    Drops that are waiting when the thread comes round run side by side: PostgreSQL serves
    the checkpoint requests that arrive together with one checkpoint, so a backlog built on a
    busy disk (and the one left at the end of the session) clears in a fraction of the time.
    """

    AT_ONCE = 8

    def __init__(self) -> None:
        self._pending: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._failures: list[str] = []

    def drop_later(self, admin_url: str, name: str) -> None:
        """Queue ``name`` for dropping."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="drop-test-databases")
            self._thread.daemon = True
            self._thread.start()
        self._pending.put((admin_url, name))

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._pending.get()]
            while len(batch) < self.AT_ONCE:
                try:
                    batch.append(self._pending.get_nowait())
                except queue.Empty:
                    break
            stopping = None in batch
            drops = [
                threading.Thread(target=self._drop, args=item, name=f"drop-{item[1]}")
                for item in batch
                if item is not None
            ]
            for drop in drops:
                drop.start()
            for drop in drops:
                drop.join()

    def _drop(self, admin_url: str, name: str) -> None:
        try:
            admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as exc:
            self._failures.append(f"{name}: {exc}")

    def drain(self) -> list[str]:
        """Wait until every queued database is dropped; the drops that failed."""
        if self._thread is not None:
            self._pending.put(None)
            self._thread.join()
            self._thread = None
        failures, self._failures = self._failures, []
        return failures


DROPPER = Dropper()


def fresh_postgres(pg_admin_url: str, template: str) -> Iterator[str]:
    """A new database cloned from the template; dropped afterwards (in the background)."""
    name = f"al_test_{uuid.uuid4().hex[:12]}"
    admin_execute(pg_admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield with_database(pg_admin_url, name)
    finally:
        DROPPER.drop_later(pg_admin_url, name)
