"""A transactional outbox: the audit event is written in the platform's own database, in the
same transaction as the change it describes.

If the change rolls back, so does its event, and nothing is ever sent. If it commits, the event
is stored beside it, and a :class:`~auditledger_client.relay.Relay` (``auditledger relay``)
ships it to the service later, at least once, marking it sent; the service stores an event id
once, so a resend after a crash is harmless. The service being down loses nothing: rows wait.

Add the table to your own metadata, so your migrations create it with everything else::

    metadata = MetaData()
    outbox = Outbox.define(metadata, org="northwind")
    ...
    with engine.begin() as conn:
        conn.execute(models.update().where(...).values(name=new_name))
        outbox.writer(conn).record(ModelRename(old_name=old_name, new_name=new_name),
                                   subject=Ref(model_id, new_name), actor=actor)

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

from .build import WireEvent, wire_event
from .core.catalog import SEED, Catalog
from .core.clock import Clock, SystemClock
from .recording import Recorder

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

    def __init__(
        self,
        table: Table,
        *,
        org: str | None = None,
        clock: Clock | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.table = table
        self.org = org
        self.clock = clock or SystemClock()
        self.catalog = catalog or SEED

    @classmethod
    def define(
        cls,
        metadata: MetaData,
        *,
        name: str = DEFAULT_TABLE,
        org: str | None = None,
        clock: Clock | None = None,
        catalog: Catalog | None = None,
    ) -> Outbox:
        """An outbox whose table is added to ``metadata`` (created with the rest of it)."""
        return cls(outbox_table(metadata, name), org=org, clock=clock, catalog=catalog)

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
        """Insert ``event`` (wire format, or built by a writer's ``record``) in the transaction
        of ``connection``; it is validated first, so a bad event fails the caller's change."""
        wire = (
            event
            if isinstance(event, WireEvent)
            else wire_event(
                event, org=org or self.org or "", clock=self.clock, catalog=self.catalog
            )
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
        """A recorder (``record(ModelRename(...), subject=..., actor=...)``) that writes into this
        outbox on ``connection``."""
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


class OutboxWriter(Recorder[uuid.UUID]):
    """``record(event, subject=..., actor=...)`` into an outbox on one connection (one
    transaction); returns the event's id. There is no ``wait``: the event commits with your
    transaction, and the relay delivers it."""

    def __init__(self, outbox: Outbox, connection: Connection) -> None:
        self.outbox = outbox
        self.connection = connection
        self._org = outbox.org
        self._clock = outbox.clock
        self._catalog = outbox.catalog

    def _accept(self, wire: WireEvent) -> uuid.UUID:
        return self.outbox.record(self.connection, wire)
