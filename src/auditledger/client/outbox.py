"""A transactional outbox: the audit event is written in the platform's own database, in the
same transaction as the change it describes.

If the change rolls back, so does its event, and nothing is ever sent. If it commits, the event
is stored beside it, and a :class:`~auditledger.client.relay.Relay` (``auditledger relay``)
ships it to the service later, at least once, marking it sent; the service stores an event id
once, so a resend after a crash is harmless. The service being down loses nothing: rows wait.

Add the table to your own metadata, so your migrations create it with everything else::

    metadata = MetaData()
    outbox = Outbox.define(metadata, org="northwind")
    ...
    with engine.begin() as conn:
        conn.execute(models.update().where(...).values(name=new_name))
        outbox.writer(conn).model_rename(subject=Ref(model_id, new_name), old_name=...,
                                         new_name=new_name, actor=actor)

With the ORM, pass ``session.connection()``. Works on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    text,
)

from auditledger.clock import Clock, SystemClock

from .build import WireEvent, build_event, wire_event
from .events import EventMethods
from .model import Actor, Ref

DEFAULT_TABLE = "auditledger_outbox"


def outbox_table(metadata: MetaData, name: str = DEFAULT_TABLE) -> Table:
    """The outbox table, added to ``metadata``.

    ``id`` orders the events; ``sent_at`` is set once the service acknowledged an event;
    ``rejected_at`` and ``last_error`` mark one the service refused for good (a dead letter:
    kept, never retried, visible to whoever looks).
    """
    pending = text("sent_at IS NULL AND rejected_at IS NULL")
    return Table(
        name,
        metadata,
        Column(
            "id",
            BigInteger().with_variant(Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("org", String(255), nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Column("rejected_at", DateTime(timezone=True), nullable=True),
        Column("last_error", Text, nullable=True),
        # Only the pending rows are ever searched; a partial index stays small however many
        # sent rows are kept.
        Index(f"ix_{name}_pending", "id", postgresql_where=pending, sqlite_where=pending),
        sqlite_autoincrement=True,
    )


def pending_clause(table: Table) -> Any:
    """The rows still to be shipped."""
    return table.c.sent_at.is_(None) & table.c.rejected_at.is_(None)


class Outbox:
    """Records audit events into an outbox table within the caller's transaction."""

    def __init__(self, table: Table, *, org: str | None = None, clock: Clock | None = None) -> None:
        self.table = table
        self.org = org
        self.clock = clock or SystemClock()

    @classmethod
    def define(
        cls,
        metadata: MetaData,
        *,
        name: str = DEFAULT_TABLE,
        org: str | None = None,
        clock: Clock | None = None,
    ) -> Outbox:
        """An outbox whose table is added to ``metadata`` (created with the rest of it)."""
        return cls(outbox_table(metadata, name), org=org, clock=clock)

    def create(self, bind: Engine | Connection) -> None:
        """Create the table if it does not exist (for platforms without migrations)."""
        self.table.create(bind, checkfirst=True)

    def record(
        self,
        connection: Connection,
        event: Mapping[str, Any] | WireEvent,
        *,
        org: str | None = None,
    ) -> uuid.UUID:
        """Insert ``event`` (wire format, or built by the typed methods) in the transaction of
        ``connection``; it is validated first, so a bad event fails the caller's change."""
        wire = (
            event
            if isinstance(event, WireEvent)
            else wire_event(event, org=org or self.org or "", clock=self.clock)
        )
        connection.execute(
            insert(self.table).values(
                event_id=str(wire.id),
                org=wire.org,
                body=wire.body,
                created_at=self.clock.now(),
            )
        )
        return wire.id

    def writer(self, connection: Connection) -> OutboxWriter:
        """Typed methods (``model_rename`` ...) that record into this outbox on ``connection``."""
        return OutboxWriter(self, connection)

    def pending(self, connection: Connection) -> int:
        """How many events wait to be shipped."""
        query = select(func.count()).select_from(self.table).where(pending_clause(self.table))
        return int(connection.execute(query).scalar_one())

    def rejected(self, connection: Connection) -> list[tuple[uuid.UUID, str, str]]:
        """Events the service refused for good: (event id, organization, the service's reason)."""
        t = self.table
        rows = connection.execute(
            select(t.c.event_id, t.c.org, t.c.last_error)
            .where(t.c.rejected_at.is_not(None))
            .order_by(t.c.id)
        )
        return [(uuid.UUID(r.event_id), r.org, r.last_error or "") for r in rows]

    def prune(self, connection: Connection, sent_before: datetime) -> int:
        """Delete rows shipped before ``sent_before`` (the service has them); returns the count."""
        t = self.table
        result = connection.execute(
            t.delete().where(t.c.sent_at.is_not(None) & (t.c.sent_at < sent_before))
        )
        return int(result.rowcount)


class OutboxWriter(EventMethods[uuid.UUID]):
    """The typed event methods, writing into an outbox on one connection (one transaction).

    Each returns the event's id. ``wait`` does not apply: the event commits with your
    transaction, and the relay delivers it.
    """

    def __init__(self, outbox: Outbox, connection: Connection) -> None:
        self.outbox = outbox
        self.connection = connection

    def record(
        self,
        category: str,
        type_: str,
        /,
        *,
        subject: Ref,
        actor: Actor,
        parent: Ref | None = None,
        properties: Mapping[str, Any] | None = None,
        project: Ref | None = None,
        source_ip: str | None = None,
        timestamp: datetime | None = None,
        event_id: uuid.UUID | None = None,
        org: str | None = None,
        wait: bool = False,
    ) -> uuid.UUID:
        """Validate the event and insert it into the outbox in the connection's transaction."""
        if wait:
            raise ValueError(
                "wait=True does not apply to the outbox: the event commits with your "
                "transaction and the relay delivers it; use AuditClient to wait for a receipt"
            )
        event = build_event(
            category,
            type_,
            org=org or self.outbox.org or "",
            subject=subject,
            actor=actor,
            clock=self.outbox.clock,
            parent=parent,
            properties=properties,
            project=project,
            source_ip=source_ip,
            timestamp=timestamp,
            event_id=event_id,
        )
        return self.outbox.record(self.connection, event)
