"""Append-only guards for the trust tables: signing keys and log heads.

``signing_keys`` rows may only be retired (``retired_at`` set once, nothing else changed) and
never removed: a key that could be swapped in place would let whoever writes to the database
re-sign history. ``log_heads`` may only move forward along the append path: the size grows
(never shrinks), the root changes only with it, and only to a size whose last leaf is stored.

Revision ID: 0004_i15_guards
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0004_i15_guards"
down_revision = "0003"
branch_labels = None
depends_on = None

_KEY_RETIRE_ONLY = """OLD.retired_at IS NULL AND NEW.retired_at IS NOT NULL
       AND NEW.key_id = OLD.key_id AND NEW.name = OLD.name
       AND NEW.public_key = OLD.public_key AND NEW.created_at = OLD.created_at"""
_HEAD_APPENDS = """NEW.org_id = OLD.org_id AND (
         (NEW.tree_size = OLD.tree_size AND NEW.root_hash = OLD.root_hash)
         OR (NEW.tree_size > OLD.tree_size AND EXISTS (
               SELECT 1 FROM leaves l
               WHERE l.org_id = NEW.org_id AND l.seq = NEW.tree_size - 1)))"""

SQLITE = [
    f"""CREATE TRIGGER signing_keys_retire_only BEFORE UPDATE ON signing_keys
       WHEN NOT ({_KEY_RETIRE_ONLY})
       BEGIN SELECT RAISE(ABORT, 'auditledger: signing keys are only ever retired'); END""",
    """CREATE TRIGGER signing_keys_append_only_delete BEFORE DELETE ON signing_keys
       BEGIN SELECT RAISE(ABORT, 'auditledger: signing keys are only ever retired'); END""",
    f"""CREATE TRIGGER log_heads_append_only_update BEFORE UPDATE ON log_heads
       WHEN NOT ({_HEAD_APPENDS})
       BEGIN SELECT RAISE(ABORT, 'auditledger: a log head only grows by appending'); END""",
    """CREATE TRIGGER log_heads_append_only_delete BEFORE DELETE ON log_heads
       BEGIN SELECT RAISE(ABORT, 'auditledger: a log head only grows by appending'); END""",
]

POSTGRES = [
    f"""CREATE FUNCTION auditledger_guard_signing_key() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND {_KEY_RETIRE_ONLY} THEN
           RETURN NEW;
         END IF;
         RAISE EXCEPTION 'auditledger: signing keys are only ever retired'
           USING ERRCODE = 'insufficient_privilege';
       END $$""",
    f"""CREATE FUNCTION auditledger_guard_log_head() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND {_HEAD_APPENDS} THEN
           RETURN NEW;
         END IF;
         RAISE EXCEPTION 'auditledger: a log head only grows by appending'
           USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER signing_keys_retire_only BEFORE UPDATE OR DELETE ON signing_keys
       FOR EACH ROW EXECUTE FUNCTION auditledger_guard_signing_key()""",
    """CREATE TRIGGER signing_keys_append_only_truncate BEFORE TRUNCATE ON signing_keys
       FOR EACH STATEMENT EXECUTE FUNCTION auditledger_refuse_change()""",
    """CREATE TRIGGER log_heads_append_only BEFORE UPDATE OR DELETE ON log_heads
       FOR EACH ROW EXECUTE FUNCTION auditledger_guard_log_head()""",
    """CREATE TRIGGER log_heads_append_only_truncate BEFORE TRUNCATE ON log_heads
       FOR EACH STATEMENT EXECUTE FUNCTION auditledger_refuse_change()""",
]


def upgrade() -> None:
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("auditledger migrations only go forward")
