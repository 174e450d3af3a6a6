"""Expiry proofs at ingest: every new leaf row carries its event's expiry proof.

A purge used to re-read every row it removed to compute each event's expiry proof, which cost
more than the deletion itself. The proof depends only on the event's canonical bytes, so the
append path now computes it with the leaf hash and stores it in ``leaves`` (which no purge
removes); a purge of whole expired days is then a partition drop plus one record. Leaves
written before this migration keep null columns; a partial index finds them, and a purge
computes their proofs from the rows as before (in ``purge_proofs``).

Revision ID: 0009_i15p_leaf_expiry_proofs
Revises: 0008_i19
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_i15p_leaf_expiry_proofs"
down_revision = "0008_i19"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Adding nullable columns touches no row, so the append-only triggers are not involved.
    with op.batch_alter_table("leaves", recreate="never") as batch:
        batch.add_column(sa.Column("expiry_prefix_len", sa.Integer, nullable=True))
        batch.add_column(sa.Column("expiry_midstate", sa.LargeBinary(32), nullable=True))
        batch.add_column(sa.Column("expiry_suffix", sa.LargeBinary, nullable=True))
    op.create_index(
        "ix_leaves_without_expiry",
        "leaves",
        ["org_id", "seq"],
        postgresql_where=sa.text("expiry_midstate IS NULL"),
        sqlite_where=sa.text("expiry_midstate IS NULL"),
    )


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
