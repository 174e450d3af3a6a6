"""Alembic environment: runs migrations on the connection auditledger hands it."""

from __future__ import annotations

from alembic import context

from auditledger.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - auditledger always passes a connection
    raise RuntimeError("run migrations through `auditledger migrate`, which supplies a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
