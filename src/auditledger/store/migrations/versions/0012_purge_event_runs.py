"""PostgreSQL: ``event_runs``, which seqs each day's partition holds per organization.

The purge planned from the expired partitions themselves (their first and last seq and their
count per day, or every run of a day whose seqs were not one), which read every expired
event's index entry: a purge of a million events spent longer planning than a DELETE of them
took. ``event_runs`` holds the same runs, kept by a statement trigger on ``events`` as rows
arrive, so the plan reads a few rows per day. Filled here from the events already stored.
See ``auditledger.store.runs``. Nothing on SQLite, whose purge deletes rows.

Revision ID: 0012_purge_event_runs
Revises: 0011_i15w_cosignatures
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from auditledger.store import runs

revision = "0012_purge_event_runs"
down_revision = "0011_i15w_cosignatures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        runs.create(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
