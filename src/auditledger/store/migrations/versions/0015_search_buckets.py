"""SQLite: the search index gets a second column, ``bucket``: each event's month, day and hour.

FTS5 orders hits by rowid, which is the sequence number; a search wants the newest by time.
When many events were recorded out of time order (several sources' backlogs loaded one after
another), the hits newest by sequence said little about the newest by time, and finding
those read most of a common word's postings. With its time buckets as words, a search reads
its hits month by month, day by day or hour by hour, newest first, and stops once a page is
full. The table is recreated and refilled from the events (seconds per million events);
nothing changes on PostgreSQL.

Revision ID: 0015_search_buckets
Revises: 0014_directory_parent_index
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from auditledger.store import search_index

revision = "0015_search_buckets"
down_revision = "0014_directory_parent_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        return
    # A database made by 0010 after this change already has the column: rebuilt the same way.
    for statement in search_index.SQLITE_DROP:
        connection.exec_driver_sql(statement)
    search_index.create(connection)


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
