"""Helpers for integrity tests: ingest events, verify a log, and tamper with the database the
way an attacker with direct database access would (past the append-only triggers)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, select, update

from auditledger.ingest.validate import parse_event
from auditledger.integrity.canonical import event_leaf_hash
from auditledger.integrity.keys import VerifierKey
from auditledger.integrity.merkle import Frontier
from auditledger.integrity.source import open_source
from auditledger.integrity.verify import SavedCheckpoint, VerifyReport, verify_log
from auditledger.services import Services
from auditledger.store.log import Receipt
from auditledger.store.rows import row_to_event
from auditledger.store.schema import events, leaves, log_heads
from auditledger.tenancy.model import Organization
from tests.support.helpers import sample_event

SQLITE_TRIGGERS = [
    f"{table}_append_only_{action}"
    for table in ("events", "leaves", "checkpoints")
    for action in ("update", "delete")
]


def ingest(
    services: Services, org: Organization, events: Sequence[dict[str, Any]]
) -> list[Receipt]:
    """Store ``events`` (wire format) through the real ingest path."""
    now = services.clock.now()
    drafts = [parse_event(e, received_at=now) for e in events]
    return services.ingest.ingest_blocking(org, drafts, now)


def ingest_many(services: Services, org: Organization, count: int) -> list[Receipt]:
    """``count`` varied sample events."""
    return ingest(services, org, [sample_event() for _ in range(count)])


def verify(
    services: Services,
    org: Organization,
    *,
    against: Sequence[SavedCheckpoint] = (),
    verifiers: Sequence[VerifierKey] | None = None,
) -> VerifyReport:
    """Verify the organization's stored log as `auditledger verify` does."""
    with open_source(services.db, org.id) as source:
        return verify_log(
            source,
            org_slug=org.slug,
            origin=services.checkpoints.origin(org.slug),
            verifiers=verifiers if verifiers is not None else services.checkpoints.verifiers(),
            against=against,
        )


@contextmanager
def tampering(services: Services) -> Iterator[Connection]:
    """A write transaction in which the append-only triggers do not fire."""
    with services.db.write() as connection:
        if services.db.is_postgres:
            # Superuser only: replica mode skips ordinary triggers for this transaction.
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            for trigger in SQLITE_TRIGGERS:
                connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        yield connection


def event_row(connection: Connection, org_id: int, seq: int) -> dict[str, Any]:
    """The stored ``events`` row at ``seq``, as typed values (datetimes, UUIDs)."""
    row = connection.execute(
        select(events).where(events.c.org_id == org_id, events.c.seq == seq)
    ).one()
    return dict(row._mapping)


def rewrite_event(services: Services, org: Organization, seq: int, **changes: Any) -> None:
    """Change the event at ``seq`` and rewrite every leaf hash, tree node and the head to match:
    what an attacker who knows the format would do to hide the change from a hash check."""
    with tampering(services) as connection:
        connection.execute(
            update(events).where(events.c.org_id == org.id, events.c.seq == seq).values(**changes)
        )
        rows = connection.execute(
            select(events).where(events.c.org_id == org.id).order_by(events.c.seq)
        ).all()
        frontier = Frontier()
        for row in rows:
            leaf = event_leaf_hash(row_to_event(org.slug, row))
            nodes = frontier.append(leaf)
            connection.execute(
                update(leaves)
                .where(leaves.c.org_id == org.id, leaves.c.seq == row.seq)
                .values(leaf_hash=leaf, nodes=nodes)
            )
        connection.execute(
            update(log_heads).where(log_heads.c.org_id == org.id).values(root_hash=frontier.root())
        )
