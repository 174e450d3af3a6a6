"""The ``destinations`` table: configuration, the durable cursor and the delivery lease.

Cursor and lease live in one row so that acknowledging a batch is a single conditional UPDATE
that succeeds only for the lease holder: a process whose lease ran out (it stalled, another took
over) cannot move the cursor behind the new holder's back.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update

from auditledger.store.database import Database
from auditledger.store.schema import destinations
from auditledger.streaming.model import Destination, State, Transport, dumps


def _destination(row: Any) -> Destination:
    m = row._mapping
    return Destination(
        id=m["id"],
        org_id=m["org_id"],
        name=m["name"],
        transport=Transport(m["transport"]),
        settings=json.loads(m["settings"]),
        secrets=json.loads(m["secrets"]),
        filters=tuple((str(a), str(b)) for a, b in json.loads(m["filters"])),
        include_source=bool(m["include_source"]),
        state=State(m["state"]),
        next_seq=m["next_seq"],
        batch_from=m["batch_from"],
        last_tree_size=m["last_tree_size"],
        delivered=m["delivered"],
        failed=m["failed"],
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        last_error=m["last_error"],
        last_delivered_at=m["last_delivered_at"],
        lease_owner=m["lease_owner"],
        lease_expires=m["lease_expires"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


class DestinationRepository:
    """Reads and writes of destinations."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(self, values: dict[str, Any]) -> None:
        """Store a new destination (``values`` has every column)."""
        with self.db.write() as connection:
            connection.execute(insert(destinations).values(**values))

    def get(self, org_id: int, destination_id: uuid.UUID) -> Destination | None:
        """One destination of an organization, or None."""
        with self.db.read() as connection:
            row = connection.execute(
                select(destinations).where(
                    destinations.c.org_id == org_id, destinations.c.id == destination_id
                )
            ).first()
        return _destination(row) if row is not None else None

    def by_name(self, org_id: int, name: str) -> Destination | None:
        """The destination named ``name`` in an organization, or None."""
        with self.db.read() as connection:
            row = connection.execute(
                select(destinations).where(
                    destinations.c.org_id == org_id, destinations.c.name == name
                )
            ).first()
        return _destination(row) if row is not None else None

    def list(self, org_id: int | None = None) -> list[Destination]:
        """Every destination (of one organization), by name."""
        query = select(destinations).order_by(destinations.c.org_id, destinations.c.name)
        if org_id is not None:
            query = query.where(destinations.c.org_id == org_id)
        with self.db.read() as connection:
            return [_destination(row) for row in connection.execute(query)]

    def change(self, destination_id: uuid.UUID, **values: Any) -> None:
        """Update configuration columns (no lease check: administrators win)."""
        for key in ("settings", "secrets", "filters"):
            if key in values and not isinstance(values[key], str):
                values[key] = dumps(values[key])
        with self.db.write() as connection:
            connection.execute(
                update(destinations).where(destinations.c.id == destination_id).values(**values)
            )

    def delete(self, destination_id: uuid.UUID) -> None:
        """Remove a destination and its cursor."""
        with self.db.write() as connection:
            connection.execute(delete(destinations).where(destinations.c.id == destination_id))

    # -- delivery --------------------------------------------------------------------------------

    def acquire(
        self, destination_id: uuid.UUID, owner: str, now: datetime, until: datetime
    ) -> bool:
        """Take or renew the lease; False while another live process holds it."""
        with self.db.write() as connection:
            result = connection.execute(
                update(destinations)
                .where(
                    destinations.c.id == destination_id,
                    or_(
                        destinations.c.lease_owner.is_(None),
                        destinations.c.lease_owner == owner,
                        destinations.c.lease_expires < now,
                    ),
                )
                .values(lease_owner=owner, lease_expires=until)
            )
            return result.rowcount == 1

    def release(self, destination_id: uuid.UUID, owner: str) -> None:
        """Give the lease up (a clean shutdown hands over at once)."""
        with self.db.write() as connection:
            connection.execute(
                update(destinations)
                .where(destinations.c.id == destination_id, destinations.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires=None)
            )

    def as_holder(self, destination_id: uuid.UUID, owner: str, **values: Any) -> bool:
        """Update delivery columns if ``owner`` still holds the lease; whether it did."""
        with self.db.write() as connection:
            result = connection.execute(
                update(destinations)
                .where(destinations.c.id == destination_id, destinations.c.lease_owner == owner)
                .values(**values)
            )
            return result.rowcount == 1
