"""Full-text search over events: an FTS5 table on SQLite, a GIN index on PostgreSQL.

Derived data, filled here from the events already stored and kept in step from then on (SQLite:
triggers on insert and the purge's delete; PostgreSQL: an index on an immutable function of the
row). See ``auditledger.store.search_index``; ``auditledger search-index rebuild`` recreates it.

Revision ID: 0010_i17_search
Revises: 0009_i15p_leaf_expiry_proofs
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from auditledger.store import search_index

revision = "0010_i17_search"
down_revision = "0009_i15p_leaf_expiry_proofs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    search_index.create(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
