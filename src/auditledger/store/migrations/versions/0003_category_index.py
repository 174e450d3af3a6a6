"""An index for filtering by category alone, newest first.

``ix_events_type`` leads with (org_id, category, type), so it cannot return one category's
events in time order across its types; without this index SQLite walked the whole
organization for a rare category (see docs/query-plans.md).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_category", "events", ["org_id", "category", "occurred_at", "seq"])


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
