"""Streaming destinations: where each organization's log is delivered, and how far.

One row per destination holds its configuration, its durable cursor (``next_seq``: every event
before it is acknowledged) and its delivery lease (``lease_owner`` until ``lease_expires``), so
one process at a time delivers it and a dead process's lease simply runs out.

Revision ID: 0008_i19
Revises: 0007_i16
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditledger.store.types import UTCDateTime

revision = "0008_i19"
down_revision = "0007_i16"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "destinations",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("secrets", sa.Text, nullable=False),
        sa.Column("filters", sa.Text, nullable=False),
        sa.Column("include_source", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("next_seq", sa.BigInteger, nullable=False),
        sa.Column("batch_from", sa.BigInteger, nullable=False),
        sa.Column("last_tree_size", sa.BigInteger, nullable=True),
        sa.Column("delivered", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_delivered_at", UTCDateTime, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_destinations"),
        sa.UniqueConstraint("org_id", "name", name="uq_destinations_org_id_name"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_destinations_org_id_organizations"
        ),
    )


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
