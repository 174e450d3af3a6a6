"""Expiry proofs: what a retention purge keeps of each event it removes.

``purge_proofs`` holds, per removed event, the SHA-256 state after most of its leaf preimage
and the short tail holding its occurrence time (see ``core.expiry``), so a verifier
can check, long after the event is gone, that it had expired. ``purge_proof_epochs`` records
each organization's log size when this migration ran: purges attested below it were made
before proofs existed and are reported as unproven, not as tampering. Both are append-only.

Revision ID: 0005_i15_purge_proofs
Revises: 0004_i15_guards
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditledger.store.types import UTCDateTime

revision = "0005_i15_purge_proofs"
down_revision = "0004_i15_guards"
branch_labels = None
depends_on = None

TABLES = ("purge_proofs", "purge_proof_epochs")


def upgrade() -> None:
    op.create_table(
        "purge_proofs",
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("purge_id", sa.Uuid, nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("prefix_len", sa.Integer, nullable=False),
        sa.Column("midstate", sa.LargeBinary(32), nullable=False),
        sa.Column("suffix", sa.LargeBinary, nullable=False),
        # A purge that crashed before removing its events is planned again by the next one,
        # which proves the same events again under its own id.
        sa.PrimaryKeyConstraint("org_id", "purge_id", "seq", name="pk_purge_proofs"),
    )
    op.create_index("ix_purge_proofs_seq", "purge_proofs", ["org_id", "seq"])
    op.create_table(
        "purge_proof_epochs",
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("org_id", name="pk_purge_proof_epochs"),
    )
    op.execute(
        "INSERT INTO purge_proof_epochs (org_id, tree_size) SELECT org_id, tree_size FROM log_heads"
    )
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_append_only_{action.lower()} BEFORE {action} "
                    f"ON {table} BEGIN SELECT RAISE(ABORT, 'auditledger: {table} are "
                    "append-only'); END"
                )
        return
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
