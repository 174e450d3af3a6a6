"""Helpers for integrity tests: ingest events, verify a log, and tamper with the database the
way an attacker with direct database access would (past the append-only triggers)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from auditledger.core.canonical import TimestampText, canonical_bytes, leaf_hash
from auditledger.core.columns import ColumnCheck, digests_of
from auditledger.core.cosignature import WitnessKey
from auditledger.core.expiry import make_proof
from auditledger.core.keys import VerifierKey
from auditledger.core.merkle import Frontier
from auditledger.integrity.source import SqlLogSource, open_source
from auditledger.integrity.verify import SavedCheckpoint, VerifyReport, verify_log
from auditledger.services import Services
from auditledger.store.log import Receipt
from auditledger.store.rows import row_to_event
from auditledger.store.schema import directory, events, leaves, log_heads
from auditledger.tenancy.model import Organization
from auditledger_client.core.validate import parse_event
from tests.support.helpers import sample_event

SQLITE_TRIGGERS = [
    f"{table}_append_only_{action}"
    for table in ("events", "leaves", "checkpoints", "log_heads", "signing_keys", "cosignatures")
    for action in ("update", "delete")
] + ["signing_keys_retire_only"]


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
    witnesses: Sequence[WitnessKey] = (),
    witnesses_required: int = 0,
) -> VerifyReport:
    """Verify the organization's stored log as `auditledger verify` does (with the configured
    witnesses' keys for the stored cosignatures)."""
    with open_source(services.db, org.id) as source:
        return verify_log(
            source,
            org_slug=org.slug,
            origin=services.checkpoints.origin(org.slug),
            verifiers=verifiers if verifiers is not None else services.checkpoints.verifiers(),
            against=against,
            witnesses=witnesses,
            witnesses_required=witnesses_required,
            known_witnesses=[w.key for w in services.settings.witnesses],
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
    """Change the event at ``seq`` and rewrite every leaf hash, expiry proof, tree node,
    idempotency digest, directory entry and the head to match: what an attacker who knows the
    format would do to hide the change from every check but the signed checkpoints."""
    with tampering(services) as connection:
        before = SqlLogSource(connection, org.id, services.db).event_rows(seq, seq + 1)[0]
        connection.execute(
            update(events).where(events.c.org_id == org.id, events.c.seq == seq).values(**changes)
        )
        _rewrite_digest(services, connection, org, seq, before)
        _rewrite_directory(services, connection, org)
        rows = connection.execute(
            select(events).where(events.c.org_id == org.id).order_by(events.c.seq)
        ).all()
        frontier = Frontier()
        for row in rows:
            canonical = canonical_bytes(row_to_event(org.slug, row))
            leaf = leaf_hash(canonical)
            proof = make_proof(row.seq, canonical)
            nodes = frontier.append(leaf)
            connection.execute(
                update(leaves)
                .where(leaves.c.org_id == org.id, leaves.c.seq == row.seq)
                .values(
                    leaf_hash=leaf,
                    nodes=nodes,
                    expiry_prefix_len=proof.prefix_len,
                    expiry_midstate=proof.midstate,
                    expiry_suffix=proof.suffix,
                )
            )
        connection.execute(
            update(log_heads).where(log_heads.c.org_id == org.id).values(root_hash=frontier.root())
        )


def _rewrite_digest(
    services: Services, connection: Connection, org: Organization, seq: int, before: Any
) -> None:
    """Give the leaf at ``seq`` the digest of its changed event (same timestamp rule)."""
    stored = connection.execute(
        select(leaves.c.request_digest).where(leaves.c.org_id == org.id, leaves.c.seq == seq)
    ).scalar_one()
    variant = digests_of(before, TimestampText()).index(stored)
    after = SqlLogSource(connection, org.id, services.db).event_rows(seq, seq + 1)[0]
    connection.execute(
        update(leaves)
        .where(leaves.c.org_id == org.id, leaves.c.seq == seq)
        .values(request_digest=digests_of(after, TimestampText())[variant])
    )


def _rewrite_directory(services: Services, connection: Connection, org: Organization) -> None:
    """Replace the organization's directory with the one its stored events imply."""
    replay = ColumnCheck()
    source = SqlLogSource(connection, org.id, services.db)
    _, end = source.seq_span()
    replay.page([], source.event_rows(0, end))
    connection.execute(delete(directory).where(directory.c.org_id == org.id))
    for entry in replay.expected_directory():
        connection.execute(
            insert(directory).values(
                org_id=org.id,
                kind=entry.kind,
                ref_id=entry.ref_id,
                name=entry.name,
                parent_id=entry.parent_id,
                last_seen=_typed_time(entry.last_seen),
            )
        )


def _typed_time(raw: Any) -> datetime:
    """A raw stored time (integer microseconds, as the verifier's source reads it on both
    engines, or a datetime)."""
    if isinstance(raw, datetime):
        return raw
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=raw)
