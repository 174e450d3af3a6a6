"""Test databases: where PostgreSQL is, and fresh databases cloned from a migrated template."""

from __future__ import annotations

import os
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


def fresh_postgres(pg_admin_url: str, template: str) -> Iterator[str]:
    """A new database cloned from the template; dropped afterwards."""
    name = f"al_test_{uuid.uuid4().hex[:12]}"
    admin_execute(pg_admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield with_database(pg_admin_url, name)
    finally:
        admin_execute(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
