"""The initial schema: organizations, people, credentials, the event log and its Merkle leaves.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditledger.store.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Appending is the only write the log tables accept. Deleting events is allowed only for rows
# older than a cutoff that the retention purge authorizes inside its own transaction (the row
# in purge_authorizations is never committed, so no other transaction ever sees it).
SQLITE_TRIGGERS = [
    """CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'auditledger: events are append-only'); END""",
    """CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
       WHEN NOT EXISTS (SELECT 1 FROM purge_authorizations p
                        WHERE p.org_id = OLD.org_id AND OLD.occurred_at < p.cutoff)
       BEGIN SELECT RAISE(ABORT, 'auditledger: events are append-only'); END""",
    """CREATE TRIGGER leaves_append_only_update BEFORE UPDATE ON leaves
       BEGIN SELECT RAISE(ABORT, 'auditledger: leaves are append-only'); END""",
    """CREATE TRIGGER leaves_append_only_delete BEFORE DELETE ON leaves
       BEGIN SELECT RAISE(ABORT, 'auditledger: leaves are append-only'); END""",
    """CREATE TRIGGER checkpoints_append_only_update BEFORE UPDATE ON checkpoints
       BEGIN SELECT RAISE(ABORT, 'auditledger: checkpoints are append-only'); END""",
    """CREATE TRIGGER checkpoints_append_only_delete BEFORE DELETE ON checkpoints
       BEGIN SELECT RAISE(ABORT, 'auditledger: checkpoints are append-only'); END""",
]

POSTGRES_TRIGGERS = [
    """CREATE FUNCTION auditledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'auditledger: % is append-only', TG_TABLE_NAME
           USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE FUNCTION auditledger_guard_event_delete() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF EXISTS (SELECT 1 FROM purge_authorizations p
                    WHERE p.org_id = OLD.org_id AND OLD.occurred_at < p.cutoff) THEN
           RETURN OLD;
         END IF;
         RAISE EXCEPTION 'auditledger: events are append-only'
           USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
       FOR EACH ROW EXECUTE FUNCTION auditledger_refuse_change()""",
    """CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
       FOR EACH ROW EXECUTE FUNCTION auditledger_guard_event_delete()""",
    """CREATE TRIGGER events_append_only_truncate BEFORE TRUNCATE ON events
       FOR EACH STATEMENT EXECUTE FUNCTION auditledger_refuse_change()""",
]
for _table in ("leaves", "checkpoints"):
    POSTGRES_TRIGGERS += [
        f"""CREATE TRIGGER {_table}_append_only BEFORE UPDATE OR DELETE ON {_table}
            FOR EACH ROW EXECUTE FUNCTION auditledger_refuse_change()""",
        f"""CREATE TRIGGER {_table}_append_only_truncate BEFORE TRUNCATE ON {_table}
            FOR EACH STATEMENT EXECUTE FUNCTION auditledger_refuse_change()""",
    ]


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("retention_days", sa.Integer, nullable=True),
        sa.Column("legal_hold", sa.Boolean, nullable=False),
        sa.Column("legal_hold_reason", sa.String(1024), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_organizations"),
        sa.UniqueConstraint("slug", name="uq_organizations_slug"),
    )
    op.create_table(
        "log_heads",
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("org_id", name="pk_log_heads"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_log_heads_org_id_organizations"
        ),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("disabled_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "memberships",
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "user_id", name="pk_memberships"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_memberships_org_id_organizations"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_memberships_user_id_users"),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("org_id", sa.Integer, nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_credentials"),
        sa.UniqueConstraint("public_id", name="uq_credentials_public_id"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_credentials_org_id_organizations"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_credentials_user_id_users"),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_sessions"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_sessions_user_id_users"),
    )
    op.create_table(
        "events",
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(64), nullable=False),
        sa.Column("subject_id", sa.String(256), nullable=False),
        sa.Column("subject_name", sa.String(1024), nullable=True),
        sa.Column("parent_type", sa.String(64), nullable=True),
        sa.Column("parent_id", sa.String(256), nullable=True),
        sa.Column("parent_name", sa.String(1024), nullable=True),
        sa.Column("model_id", sa.String(256), nullable=True),
        sa.Column("properties", sa.Text, nullable=False),
        sa.Column("project_id", sa.String(256), nullable=True),
        sa.Column("project_name", sa.String(1024), nullable=True),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(256), nullable=False),
        sa.Column("actor_name", sa.String(1024), nullable=False),
        sa.Column("source_ip", sa.String(64), nullable=True),
        sa.Column("source_location", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("org_id", "seq", "occurred_at", name="pk_events"),
        postgresql_partition_by="RANGE (occurred_at)",
    )
    for name, columns in [
        ("ix_events_org_time", ["org_id", "occurred_at", "seq"]),
        ("ix_events_project", ["org_id", "project_id", "occurred_at", "seq"]),
        ("ix_events_model", ["org_id", "model_id", "occurred_at", "seq"]),
        ("ix_events_subject", ["org_id", "subject_id", "occurred_at", "seq"]),
        ("ix_events_type", ["org_id", "category", "type", "occurred_at", "seq"]),
        ("ix_events_actor", ["org_id", "actor_id", "occurred_at", "seq"]),
    ]:
        op.create_index(name, "events", columns)
    op.create_table(
        "leaves",
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("nodes", sa.LargeBinary, nullable=False),
        sa.Column("request_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "seq", name="pk_leaves"),
        sa.UniqueConstraint("org_id", "event_id", name="uq_leaves_org_id_event_id"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_leaves_org_id_organizations"
        ),
    )
    op.create_table(
        "directory",
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ref_id", sa.String(256), nullable=False),
        sa.Column("name", sa.String(1024), nullable=True),
        sa.Column("parent_id", sa.String(256), nullable=True),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "kind", "ref_id", name="pk_directory"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_directory_org_id_organizations"
        ),
    )
    op.create_table(
        "checkpoints",
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("key_name", sa.String(256), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "tree_size", name="pk_checkpoints"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_checkpoints_org_id_organizations"
        ),
    )
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("retired_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_signing_keys"),
    )
    op.create_table(
        "purge_authorizations",
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("cutoff", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("org_id", name="pk_purge_authorizations"),
    )
    statements = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRES_TRIGGERS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
