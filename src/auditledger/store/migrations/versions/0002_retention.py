"""Retention: the record of every purge, and its attestation in the Merkle log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditledger.store.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("purges", "purge_attestations")


def upgrade() -> None:
    op.create_table(
        "purges",
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("purge_id", sa.Uuid, nullable=False),
        sa.Column("ran_at", UTCDateTime, nullable=False),
        sa.Column("cutoff", UTCDateTime, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("ranges", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "purge_id", name="pk_purges"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_purges_org_id_organizations"
        ),
    )
    op.create_table(
        "purge_attestations",
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("purge_id", sa.Uuid, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("canonical", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "purge_id", name="pk_purge_attestations"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_purge_attestations_org_id_organizations"
        ),
    )
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_append_only_{action.lower()} BEFORE {action} "
                    f"ON {table} BEGIN SELECT RAISE(ABORT, 'auditledger: {table} are "
                    "append-only'); END"
                )
    else:
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION auditledger_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_append_only_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION auditledger_refuse_change()"
            )


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
