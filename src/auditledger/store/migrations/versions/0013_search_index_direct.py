"""PostgreSQL: the search's GIN index takes each row into its tree at once (``fastupdate=off``).

With GIN's default pending list, rows wait in an unsorted list that every search reads through
until a vacuum merges it (or it reaches 4 MB): a day partition of a few thousand events kept
all of them there, and the planner rightly read such partitions sequentially instead, so a rare
word read every event of the log. Recreated here with the option (a partitioned index cannot
be altered; its partitions, present and future, take the option from it). Nothing on SQLite.

Revision ID: 0013_search_index_direct
Revises: 0012_purge_event_runs
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from auditledger.store import search_index

revision = "0013_search_index_direct"
down_revision = "0012_purge_event_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(f"DROP INDEX {search_index.INDEX}")
        op.get_bind().exec_driver_sql(search_index.POSTGRES_INDEX)


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
