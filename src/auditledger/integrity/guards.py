"""Whether the database's append-only guards are in place and switched on.

The triggers are a guard, not a proof: whoever owns the database can drop or disable them, and
``verify``'s hashes and signatures are what catch a change. But a guard that is gone means the
next mistake or intrusion meets no resistance, so ``verify`` reports it like any other problem.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

# Each guarded table and the triggers that guard it, per engine (created by the migrations).
_TABLES = (
    "leaves",
    "checkpoints",
    "purges",
    "purge_attestations",
    "purge_proofs",
    "purge_proof_epochs",
    "key_rotations",
    "cosignatures",
)
SQLITE_GUARDS: dict[str, tuple[str, ...]] = {
    "events": ("events_append_only_update", "events_append_only_delete"),
    **{t: (f"{t}_append_only_update", f"{t}_append_only_delete") for t in _TABLES},
    "signing_keys": ("signing_keys_retire_only", "signing_keys_append_only_delete"),
    "log_heads": ("log_heads_append_only_update", "log_heads_append_only_delete"),
}
POSTGRES_GUARDS: dict[str, tuple[str, ...]] = {
    "events": (
        "events_append_only_update",
        "events_append_only_delete",
        "events_append_only_truncate",
    ),
    **{t: (f"{t}_append_only", f"{t}_append_only_truncate") for t in _TABLES},
    "signing_keys": ("signing_keys_retire_only", "signing_keys_append_only_truncate"),
    "log_heads": ("log_heads_append_only", "log_heads_append_only_truncate"),
}
# pg_trigger.tgenabled: 'O' fires normally, 'A' always; 'D' is disabled and 'R' fires only on
# replicas (so not on the primary that takes writes).
_PG_ENABLED = {"O", "A"}


def guard_problems(connection: Connection, is_postgres: bool) -> list[str]:
    """One line per append-only guard that is missing, disabled or defanged."""
    if is_postgres:
        return _postgres_problems(connection)
    rows = connection.execute(
        text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
    ).all()
    found = {row.name: (row.tbl_name, row.sql or "") for row in rows}
    problems = []
    for table, names in SQLITE_GUARDS.items():
        for name in names:
            where, sql = found.get(name, (None, ""))
            if where != table:
                problems.append(f"append-only guard {name} on {table} is missing")
            elif "RAISE(ABORT" not in sql.replace(" ", "").upper():
                problems.append(f"append-only guard {name} on {table} no longer refuses changes")
    return problems


def _postgres_problems(connection: Connection) -> list[str]:
    rows = connection.execute(
        text(
            "SELECT t.tgname, c.relname, t.tgenabled, p.prosrc FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE NOT t.tgisinternal AND t.tgparentid = 0"
        )
    ).all()
    found = {(row.relname, row.tgname): (str(row.tgenabled), row.prosrc or "") for row in rows}
    problems = []
    for table, names in POSTGRES_GUARDS.items():
        for name in names:
            state = found.get((table, name))
            if state is None:
                problems.append(f"append-only guard {name} on {table} is missing")
            elif state[0] not in _PG_ENABLED:
                problems.append(f"append-only guard {name} on {table} is disabled")
            elif "RAISE EXCEPTION" not in " ".join(state[1].upper().split()):
                problems.append(f"append-only guard {name} on {table} no longer refuses changes")
    return problems
