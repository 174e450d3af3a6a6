"""Key rotation statements: each rotation is a signed note by the old key and the new one.

Revision ID: 0006_i15_key_rotations
Revises: 0005_i15_purge_proofs
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditledger.store.types import UTCDateTime

revision = "0006_i15_key_rotations"
down_revision = "0005_i15_purge_proofs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_rotations",
        sa.Column("new_key_id", sa.String(8), nullable=False),
        sa.Column("old_key_id", sa.String(8), nullable=False),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("new_key_id", name="pk_key_rotations"),
    )
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER key_rotations_append_only_{action.lower()} BEFORE {action} "
                "ON key_rotations BEGIN SELECT RAISE(ABORT, 'auditledger: key_rotations are "
                "append-only'); END"
            )
        return
    op.execute(
        "CREATE TRIGGER key_rotations_append_only BEFORE UPDATE OR DELETE ON key_rotations "
        "FOR EACH ROW EXECUTE FUNCTION auditledger_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER key_rotations_append_only_truncate BEFORE TRUNCATE ON key_rotations "
        "FOR EACH STATEMENT EXECUTE FUNCTION auditledger_refuse_change()"
    )


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
