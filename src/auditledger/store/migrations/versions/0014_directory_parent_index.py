"""An index for one model's versions in the directory: the filter form lists them.

The directory's key leads with (org_id, kind, ref_id), so the versions of one model were found
by reading every model version of the organization (tens of thousands in a large registry) on
each view of a page filtered by model.

Revision ID: 0014_directory_parent_index
Revises: 0013_search_index_direct
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0014_directory_parent_index"
down_revision = "0013_search_index_direct"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_directory_parent", "directory", ["org_id", "kind", "parent_id"])


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
