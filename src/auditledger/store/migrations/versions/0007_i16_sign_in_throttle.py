"""The sign-in throttle's counters, in the database; sessions remember when they were used.

In memory, each process counted alone and dropped its oldest keys beyond 100,000, so a large
address pool reset a username's counter. A row per throttle key survives restarts, is shared
by every process, and goes only when its window has long expired.

Revision ID: 0007_i16
Revises: 0006_i15_key_rotations
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditledger.store.types import UTCDateTime

revision = "0007_i16"
down_revision = "0006_i15_key_rotations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("window_start", UTCDateTime, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure", UTCDateTime, nullable=False),
        sa.Column("reported", sa.Boolean, nullable=False),
        sa.Column("unreported", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_sign_in_throttle"),
    )
    op.create_index("ix_sign_in_throttle_last_failure", "sign_in_throttle", ["last_failure"])
    # Idle timeout: when the session was last used (NULL: not since it was created).
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("last_seen_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
