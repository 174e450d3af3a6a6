"""Witness cosignatures of checkpoints (C2SP tlog-cosignature), append-only.

Revision ID: 0011_i15w_cosignatures
Revises: 0010_i17_search
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditledger.store.types import UTCDateTime

revision = "0011_i15w_cosignatures"
down_revision = "0010_i17_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cosignatures",
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("witness_name", sa.String(256), nullable=False),
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("cosigned_at", sa.BigInteger, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id", "tree_size", "witness_name", "key_id", name="pk_cosignatures"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_cosignatures_org_id_organizations"
        ),
    )
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER cosignatures_append_only_{action.lower()} BEFORE {action} "
                "ON cosignatures BEGIN SELECT RAISE(ABORT, 'auditledger: cosignatures are "
                "append-only'); END"
            )
        return
    op.execute(
        "CREATE TRIGGER cosignatures_append_only BEFORE UPDATE OR DELETE ON cosignatures "
        "FOR EACH ROW EXECUTE FUNCTION auditledger_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER cosignatures_append_only_truncate BEFORE TRUNCATE ON cosignatures "
        "FOR EACH STATEMENT EXECUTE FUNCTION auditledger_refuse_change()"
    )


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
