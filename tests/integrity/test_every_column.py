"""Every stored value of the log is evidence: editing any one of them fails ``verify``.

The columns come from the database itself (reflection of the migrated schema), so a column
added later is covered without touching this test; the only exceptions are listed below, each
with the reason it is not evidence. For every column of every log table, on SQLite and on
PostgreSQL, one value is changed with raw SQL past the append-only triggers (and past foreign
keys), and ``verify`` of the organizations must fail, naming the row: its sequence number (or,
for a checkpoint, its tree size). Each value is put back before the next edit, and the table
must then hold exactly what it held before, so every edit meets the same database.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, inspect, select

from auditledger.core.cosignature import cosign, witness_key_of
from auditledger.core.keys import SigningKey
from auditledger.core.note import parse_note
from auditledger.integrity.verify import VerifyReport
from auditledger.services import Services, build_services
from auditledger.settings import Settings, WitnessEndpoint
from auditledger.store.engine import sqlite_path
from auditledger.store.schema import organizations
from auditledger_client.core.clock import FrozenClock
from tests.support.helpers import FixedLocator, make_org, sample_event
from tests.support.integrity import ingest, verify

# Tables holding an organization's data that are not evidence of its log.
NOT_LOG_TABLES = {
    "memberships": "who may read the log (access control), not what it holds",
    "credentials": "API credentials (access control), not what the log holds",
    "purge_authorizations": "empty at rest: filled and emptied inside one purge transaction",
    "purges": "retention's purge records: checked against their attested purge event by "
    "retention.records (auditledger verify's purge_record findings), tests/retention",
    "purge_attestations": "the purge events' canonical bytes: checked against the leaf hash "
    "by retention.records (auditledger verify's purge_record findings), tests/retention",
    "purge_proofs": "expiry proofs of purged events (issue 15): each must lead to its leaf hash "
    "and show an expired time, checked by retention.audit (auditledger verify's purge_proof "
    "findings), tests/retention/test_forged_purge.py",
    "destinations": "streaming configuration and delivery cursors (issue 19), not what the log "
    "holds: each change is recorded as an audit_log event, and what a destination received "
    "is checked by auditledger verify-stream",
    "purge_proof_epochs": "the log size when expiry proofs began (issue 15): which purges must "
    "have proofs, checked by retention.audit with the purges, tests/retention",
    "event_runs": "PostgreSQL's runs of seqs per day's partition (store.runs): derived from the "
    "events by a trigger, read only to plan a purge; a wrong run makes a purge drop events it "
    "did not record (verify: missing) or record seqs it did not remove (GET /retention: its "
    "proofs fall short), tests/retention/test_purge_plan.py",
}
# Which of them exist on one engine only.
POSTGRES_ONLY_TABLES = {"event_runs"}

# Tables without an organization, so outside this test; each with the reason. A new one fails
# test_tables_without_an_organization_are_accounted_for until it is classified here.
NOT_ORG_TABLES = {
    "alembic_version": "the schema's migration revision",
    "organizations": "the tenants; the slug is in every checkpoint's signed origin line",
    "users": "people who may sign in (access control), not what a log holds",
    "sessions": "sign-in sessions (access control), not evidence",
    "sign_in_throttle": "failed sign-in counters (issue 16), not evidence",
    "signing_keys": "the instance's signing keys: a changed key signs notes that no trusted "
    "verifier key accepts (the checkpoints' signature findings)",
    "key_rotations": "signed rotation statements (issue 15): checked by their own signatures "
    "when verify follows the key chain (integrity.anchors), tests/integrity/test_trust_anchors.py",
    **{
        f"events_search{part}": "SQLite's full-text search index (issue 17): derived from the "
        "events, never read by verify; every search hit is re-checked against its event, "
        "tests/query/test_text_search.py"
        for part in ("", "_data", "_idx", "_config", "_docsize")
    },
}
# Which of the exceptions exist on one engine only (the search index differs by engine).
SQLITE_ONLY_TABLES = {t for t in NOT_ORG_TABLES if t.startswith("events_search")}

# Columns of log tables that are not evidence.
NOT_EVIDENCE_COLUMNS: dict[tuple[str, str], str] = {
    ("events", "search_vector"): "PostgreSQL's search words (issue 17): a generated column only "
    "the database writes, from the row's own columns; never read by verify, and every search "
    "hit is re-checked against the event, tests/query/test_text_search.py",
    ("cosignatures", "received_at"): "when this server stored a witness's cosignature: nothing "
    "reads it (the cosignature's own time is cosigned_at, checked against its line)",
}
POSTGRES_ONLY_COLUMNS = {("events", "search_vector")}

SEQ_TABLES = {"events", "leaves"}
CHECKPOINT_TABLES = {"checkpoints", "cosignatures"}  # rows named by a checkpoint's tree size
# A witness the deployment is configured with (so verify knows its key).
WITNESS = SigningKey("w1.example/witness", Ed25519PrivateKey.generate())


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The deployment asks ``WITNESS`` (never reached: its cosignatures are made here)."""
    return settings.replace(
        witnesses=(WitnessEndpoint("http://127.0.0.1:9", witness_key_of(WITNESS)),)
    )


@dataclass(frozen=True)
class Edit:
    """One changed value, and the row it belongs to."""

    table: str
    column: str
    org_id: int
    seq: int | None  # the row's sequence number, where it has one
    tree_size: int | None  # a checkpoint's
    before: Any
    after: Any


def populate(services: Services) -> None:
    """Two organizations; the first with events of every shape a column can take, and two
    checkpoints, each cosigned by ``WITNESS``."""
    services.checkpoints.ensure_key()
    first = make_org(services, "acme").org
    second = make_org(services, "globex").org

    def shapes() -> list[dict[str, Any]]:
        bare = sample_event()
        del bare["project"], bare["source"]
        return [
            sample_event(),
            sample_event("model_version", "create"),
            bare,
            sample_event(timestamp="2026-11-25T11:00:00+00:00"),
            sample_event("model_version", "approve", timestamp="2026-11-25T11:30:00+00:00"),
        ]

    ingest(services, first, shapes() + shapes())
    services.checkpoints.checkpoint(first.id, first.slug)
    ingest(services, first, shapes() + shapes())
    services.checkpoints.checkpoint(first.id, first.slug)
    ingest(services, second, [sample_event() for _ in range(3)])
    repo = services.checkpoints.repo
    for stored in repo.list_checkpoints(first.id, before=None, limit=10):
        line = cosign(WITNESS, parse_note(stored.note).text, 1_780_000_000).line()
        witness = witness_key_of(WITNESS)
        repo.insert_cosignature(
            first.id, stored.tree_size, witness, 1_780_000_000, line, services.clock.now()
        )
    for org in (first, second):
        assert verify(services, org).ok


def log_columns(url: str) -> list[tuple[str, str]]:
    """(table, column) of every table that holds an organization's log, from the database."""
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        partitions: set[str] = set()
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                partitions = set(
                    connection.exec_driver_sql(
                        "SELECT relname FROM pg_class WHERE relispartition"
                    ).scalars()
                )
        found = []
        for table in sorted(inspector.get_table_names()):
            columns = [c["name"] for c in inspector.get_columns(table)]
            if table in partitions or "org_id" not in columns or table in NOT_LOG_TABLES:
                continue
            found.extend(
                (table, column) for column in columns if (table, column) not in NOT_EVIDENCE_COLUMNS
            )
        return found
    finally:
        engine.dispose()


def changed(value: Any) -> Any:
    """A different value of the same kind as ``value`` (as the driver returns it)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1000
    if isinstance(value, str):
        if len(value) == 32 and all(c in "0123456789abcdef" for c in value):
            return uuid.uuid4().hex
        if len(value) == 8 and all(c in "0123456789abcdef" for c in value):
            return f"{(int(value, 16) + 1) % 2**32:08x}"  # a key id (of the same width)
        return value + "x"
    if isinstance(value, uuid.UUID):
        return uuid.uuid4()
    if isinstance(value, datetime):
        return value + timedelta(milliseconds=1)
    if isinstance(value, bytes | memoryview):
        data = bytearray(value)
        if not data:
            return b"\x00" * 32
        data[0] ^= 0x01
        return bytes(data)
    raise AssertionError(f"no edit for a value of type {type(value).__name__}")


class RawDatabase:
    """The database as an attacker sees it: a driver connection, no triggers, no foreign keys."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")

    @contextmanager
    def connect(self) -> Iterator[Any]:
        if self.sqlite:
            connection = sqlite3.connect(sqlite_path(self.url))  # foreign keys off by default
            try:
                for (name,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                ).fetchall():
                    connection.execute(f'DROP TRIGGER "{name}"')
                yield connection
                connection.commit()
            finally:
                connection.close()
        else:
            with psycopg.connect(self.url.replace("postgresql+psycopg", "postgresql")) as conn:
                # Replica mode: neither the append-only triggers nor foreign keys fire.
                conn.execute("SET session_replication_role = replica")
                yield conn

    def mark(self) -> str:
        return "?" if self.sqlite else "%s"


def key_columns(url: str, table: str) -> list[str]:
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        primary = inspector.get_pk_constraint(table)["constrained_columns"]
        return list(primary) or [c["name"] for c in inspector.get_columns(table)]
    finally:
        engine.dispose()


def rows_of(connection: Any, table: str, keys: list[str]) -> list[tuple[Any, ...]]:
    """Every row of ``table``, in key order."""
    return [
        tuple(row)
        for row in connection.execute(
            f"SELECT * FROM {table} ORDER BY {', '.join(keys)}"
        ).fetchall()
    ]


@contextmanager
def edited(url: str, table: str, column: str, orgs: list[int]) -> Iterator[Edit]:
    """One value of ``table.column`` in the first organization's rows changed and committed;
    afterwards the value is put back and the table must hold exactly what it held before, so
    the next edit starts from the same database (one database instead of a copy per edit)."""
    raw = RawDatabase(url)
    p = raw.mark()
    keys = key_columns(url, table)
    located = (
        ["seq"] if table in SEQ_TABLES else ["tree_size"] if table in CHECKPOINT_TABLES else []
    )
    names = list(dict.fromkeys([*keys, column, *located]))
    with raw.connect() as connection:
        original = rows_of(connection, table, keys)
        rows = connection.execute(
            f"SELECT {', '.join(names)} FROM {table} WHERE org_id = {p} ORDER BY {', '.join(keys)}",
            (orgs[0],),
        ).fetchall()
        assert rows, f"{table} has no rows to edit"
        # A row where the column holds something, when one does (empty values edit too).
        non_null = [r for r in rows if r[names.index(column)] not in (None, b"", "")]
        row = dict(zip(names, (non_null or rows)[len(non_null or rows) // 2], strict=True))
        before = row[column]
        # Another organization's id when its keys allow, else one that does not exist.
        candidates = (
            [orgs[1], 9999]
            if column == "org_id"
            else [changed(before) if before is not None else "x"]
        )
        where = " AND ".join(f"{k} = {p}" for k in keys)
        for after in candidates:
            try:
                cursor = connection.execute(
                    f"UPDATE {table} SET {column} = {p} WHERE {where}",
                    (after, *(row[k] for k in keys)),
                )
                assert cursor.rowcount == 1, f"{table}.{column}: {cursor.rowcount} rows edited"
                break
            except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
                connection.rollback()
                if not raw.sqlite:
                    connection.execute("SET session_replication_role = replica")
        else:
            raise AssertionError(f"could not edit {table}.{column}")
    checkpoint = row["tree_size"] if table in CHECKPOINT_TABLES else None
    yield Edit(table, column, orgs[0], row.get("seq"), checkpoint, before, after)
    # Put it back where the edited row now is (the edit may have changed one of its keys).
    now_at = [after if k == column else row[k] for k in keys]
    with raw.connect() as connection:
        cursor = connection.execute(
            f"UPDATE {table} SET {column} = {p} WHERE {where}", (before, *now_at)
        )
        assert cursor.rowcount == 1, f"{table}.{column} not restored"
        assert rows_of(connection, table, keys) == original, f"{table}.{column} not restored"


def names_the_row(edit: Edit, reports: list[VerifyReport]) -> bool:
    """Whether some report fails and points at the edited row."""
    findings = [f for report in reports for f in report.findings]
    if edit.seq is not None:
        return any(f.seqs is not None and edit.seq in f.seqs.seqs() for f in findings)
    if edit.tree_size is not None:
        sizes = {edit.tree_size, edit.after if edit.column == "tree_size" else edit.tree_size}
        return any(f.checkpoint in sizes for f in findings)
    # A log head or a directory entry: the head finding, or the directory's (whose seq is the
    # latest event naming the entry, see test_columns.py).
    return bool(findings)


def verify_all(settings: Settings, url: str, clock: FrozenClock) -> list[VerifyReport]:
    services = build_services(
        replace(settings, database_url=url), clock=clock, locator=FixedLocator()
    )
    try:
        with services.db.read() as connection:
            slugs = connection.execute(select(organizations.c.slug)).scalars().all()
        return [verify(services, services.tenancy.org(slug)) for slug in slugs]
    finally:
        services.stop()


@pytest.mark.slow
def test_every_stored_column_of_the_log_is_verified(settings: Settings, clock: FrozenClock) -> None:
    services = build_services(settings, clock=clock, locator=FixedLocator())
    services.start()
    try:
        populate(services)
        with services.db.read() as connection:
            orgs = sorted(connection.execute(select(organizations.c.id)).scalars())
    finally:
        services.stop()
    url = settings.database_url
    targets = log_columns(url)
    # The tables this test is about are really there (the schema is read, not assumed).
    assert {"events", "leaves", "checkpoints", "log_heads", "directory"} <= {t for t, _ in targets}
    undetected = []
    for table, column in targets:
        with edited(url, table, column, orgs) as edit:
            if not names_the_row(edit, verify_all(settings, url, clock)):
                undetected.append(f"{table}.{column} ({edit.before!r} -> {edit.after!r})")
    assert not undetected, "edits verify did not catch: " + "; ".join(undetected)
    # Every edit was put back: the database verifies again.
    assert all(report.ok for report in verify_all(settings, url, clock))


def test_tables_without_an_organization_are_accounted_for(database_url: str) -> None:
    # Tables without org_id escape the edit test above; none may do so unclassified.
    engine = create_engine(database_url)
    try:
        inspector = inspect(engine)
        without = {
            table
            for table in inspector.get_table_names()
            if "org_id" not in {c["name"] for c in inspector.get_columns(table)}
        }
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                partitions = set(
                    connection.exec_driver_sql(
                        "SELECT relname FROM pg_class WHERE relispartition"
                    ).scalars()
                )
            without -= partitions
        expected = set(NOT_ORG_TABLES)
        if engine.dialect.name != "sqlite":
            expected -= SQLITE_ONLY_TABLES
    finally:
        engine.dispose()
    assert without == expected


def test_exceptions_name_real_tables_and_columns(database_url: str) -> None:
    # A stale exception would silently exempt a future column of the same name.
    engine = create_engine(database_url)
    try:
        inspector = inspect(engine)
        tables = set(inspector.get_table_names())
        expected = set(NOT_LOG_TABLES)
        if engine.dialect.name != "postgresql":
            expected -= POSTGRES_ONLY_TABLES
        assert expected <= tables
        for table, column in NOT_EVIDENCE_COLUMNS:
            if (table, column) in POSTGRES_ONLY_COLUMNS and engine.dialect.name != "postgresql":
                continue
            assert column in {c["name"] for c in inspector.get_columns(table)}
    finally:
        engine.dispose()
