"""The database schema, as SQLAlchemy Core tables. Migrations create it; queries use it.

Two tables carry the log. ``events`` holds what happened; on PostgreSQL it is range-partitioned
by occurrence time so retention can drop whole partitions. ``leaves`` holds, per event, its
Merkle leaf hash, the tree nodes it completed and the digest used for idempotency; it is small,
never partitioned and never purged, so proofs and duplicate detection outlive event contents.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)

from auditledger.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

organizations = Table(
    "organizations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(256), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # None means "the deployment's default retention".
    Column("retention_days", Integer, nullable=True),
    Column("legal_hold", Boolean, nullable=False, default=False),
    Column("legal_hold_reason", String(1024), nullable=True),
)

# The head of each organization's log. Appending locks this row, which is what keeps sequence
# numbers dense and the Merkle tree single across several server processes.
log_heads = Table(
    "log_heads",
    metadata,
    Column("org_id", Integer, ForeignKey("organizations.id"), primary_key=True),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(256), nullable=False, unique=True),
    Column("display_name", String(256), nullable=False),
    Column("password_hash", String(256), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
)

memberships = Table(
    "memberships",
    metadata,
    Column("org_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("role", String(16), nullable=False),
    PrimaryKeyConstraint("org_id", "user_id"),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # "ingest" or "read"
    Column("name", String(256), nullable=False),
    # None with kind "ingest": a platform-wide credential that may write for any organization.
    Column("org_id", Integer, ForeignKey("organizations.id"), nullable=True),
    Column("role", String(16), nullable=True),  # for "read": "admin" or "member"
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("secret_hash", LargeBinary(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", LargeBinary(32), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    # For the idle timeout; NULL until first used after sign-in (then created_at counts).
    Column("last_seen_at", UTCDateTime, nullable=True),
)

events = Table(
    "events",
    metadata,
    Column("org_id", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("category", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("subject_type", String(64), nullable=False),
    Column("subject_id", String(256), nullable=False),
    Column("subject_name", String(1024), nullable=True),
    Column("parent_type", String(64), nullable=True),
    Column("parent_id", String(256), nullable=True),
    Column("parent_name", String(1024), nullable=True),
    # Derived from the subject (the model itself, or a model version's model): indexed so the
    # model view finds a model's events and its versions' events in one range scan.
    Column("model_id", String(256), nullable=True),
    Column("properties", Text, nullable=False),  # canonical JSON
    Column("project_id", String(256), nullable=True),
    Column("project_name", String(1024), nullable=True),
    Column("actor_type", String(16), nullable=False),
    Column("actor_id", String(256), nullable=False),
    Column("actor_name", String(1024), nullable=False),
    Column("source_ip", String(64), nullable=True),
    Column("source_location", Text, nullable=True),  # canonical JSON of a Location
    # The partition key must be part of every unique key of a partitioned PostgreSQL table;
    # (org_id, seq) alone is kept unique by leaves' primary key.
    PrimaryKeyConstraint("org_id", "seq", "occurred_at"),
    Index("ix_events_org_time", "org_id", "occurred_at", "seq"),
    Index("ix_events_project", "org_id", "project_id", "occurred_at", "seq"),
    Index("ix_events_model", "org_id", "model_id", "occurred_at", "seq"),
    Index("ix_events_subject", "org_id", "subject_id", "occurred_at", "seq"),
    Index("ix_events_type", "org_id", "category", "type", "occurred_at", "seq"),
    Index("ix_events_category", "org_id", "category", "occurred_at", "seq"),
    Index("ix_events_actor", "org_id", "actor_id", "occurred_at", "seq"),
    postgresql_partition_by="RANGE (occurred_at)",
)

leaves = Table(
    "leaves",
    metadata,
    Column("org_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    # Hashes of the perfect subtrees this leaf completed, level 1 first (see core.merkle).
    Column("nodes", LargeBinary, nullable=False),
    # SHA-256 of the event as the platform sent it: a re-send with the same id is a duplicate
    # when this matches and a conflict when it does not.
    Column("request_digest", LargeBinary(32), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    # The event's expiry proof (core.expiry), computed at ingest in the same pass as the leaf
    # hash: what proves, after a purge removed the event, that it had expired. Null only for
    # leaves written before migration 0009 (their purge computes the proof from the row).
    Column("expiry_prefix_len", Integer, nullable=True),
    Column("expiry_midstate", LargeBinary(32), nullable=True),
    Column("expiry_suffix", LargeBinary, nullable=True),
    PrimaryKeyConstraint("org_id", "seq"),
    UniqueConstraint("org_id", "event_id"),
    # Finds the few leaves without an ingest-time proof without reading the others.
    Index(
        "ix_leaves_without_expiry",
        "org_id",
        "seq",
        postgresql_where=text("expiry_midstate IS NULL"),
        sqlite_where=text("expiry_midstate IS NULL"),
    ),
)

# What the filters offer: the projects, models, versions and actors seen in an organization's
# events, with their latest names. Kept up to date at ingest so pages need not scan events.
directory = Table(
    "directory",
    metadata,
    Column("org_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("ref_id", String(256), nullable=False),
    Column("name", String(1024), nullable=True),
    Column("parent_id", String(256), nullable=True),
    Column("last_seen", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("org_id", "kind", "ref_id"),
    # One model's versions, for the filter form (a registry may hold tens of thousands).
    Index("ix_directory_parent", "org_id", "kind", "parent_id"),
)

# One row per sign-in throttle key (a username, an address, a username at an address).
sign_in_throttle = Table(
    "sign_in_throttle",
    metadata,
    Column("key", String(400), nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("last_failure", UTCDateTime, nullable=False),
    # Whether a throttled refusal of this window is already in the audit log, and how many
    # throttled refusals since the last recorded one were not (the next record carries it).
    Column("reported", Boolean, nullable=False),
    Column("unreported", Integer, nullable=False),
    PrimaryKeyConstraint("key"),
    Index("ix_sign_in_throttle_last_failure", "last_failure"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("org_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),  # the signed note, verbatim
    Column("key_name", String(256), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("org_id", "tree_size"),
)

# Witnesses' cosignatures of checkpoints (C2SP tlog-cosignature), each verified against the
# configured witness key before it is stored; served as extra signature lines of the
# checkpoint's note. Append-only.
cosignatures = Table(
    "cosignatures",
    metadata,
    Column("org_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("witness_name", String(256), nullable=False),
    Column("key_id", String(8), nullable=False),  # hex of the 4-byte cosignature key id
    Column("cosigned_at", BigInteger, nullable=False),  # the cosignature's POSIX timestamp
    Column("line", Text, nullable=False),  # the signature line, verbatim
    Column("received_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("org_id", "tree_size", "witness_name", "key_id"),
)

# Filled and emptied inside the retention purge's own transaction: the events table's delete
# trigger lets a row go only when an authorization here covers it.
purge_authorizations = Table(
    "purge_authorizations",
    metadata,
    Column("org_id", Integer, primary_key=True),
    Column("cutoff", UTCDateTime, nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("key_id", String(8), primary_key=True),  # hex of the 4-byte signed-note key id
    Column("name", String(256), nullable=False),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime, nullable=True),
)

# One row per purge of one organization, written *before* any event is removed, so a crash can
# leave a recorded purge whose rows still exist (harmless: the next purge removes them) but never
# removed rows without a record.
purges = Table(
    "purges",
    metadata,
    Column("org_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("purge_id", Uuid, nullable=False),
    Column("ran_at", UTCDateTime, nullable=False),
    Column("cutoff", UTCDateTime, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("ranges", Text, nullable=False),  # JSON list of [first, last] sequence numbers
    PrimaryKeyConstraint("org_id", "purge_id"),
)

# The canonical bytes of each purge's ``audit_log.purge`` event, kept after that event itself
# expires: their leaf hash in ``leaves`` proves the purge record is the one the log holds.
purge_attestations = Table(
    "purge_attestations",
    metadata,
    Column("org_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("purge_id", Uuid, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("canonical", LargeBinary, nullable=False),
    PrimaryKeyConstraint("org_id", "purge_id"),
)

# What a purge keeps of each event it removes: the SHA-256 state after most of the event's
# leaf preimage and the tail holding its occurrence time (core.expiry), so verify can
# check that the event had expired without keeping its content. Append-only.
purge_proofs = Table(
    "purge_proofs",
    metadata,
    Column("org_id", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("purge_id", Uuid, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),  # what the tail says; verify checks it
    Column("prefix_len", Integer, nullable=False),
    Column("midstate", LargeBinary(32), nullable=False),
    Column("suffix", LargeBinary, nullable=False),
    PrimaryKeyConstraint("org_id", "purge_id", "seq"),
    Index("ix_purge_proofs_seq", "org_id", "seq"),
)

# Each organization's log size when expiry proofs were introduced: purges attested below it
# predate them (reported as unproven rather than as tampering).
purge_proof_epochs = Table(
    "purge_proof_epochs",
    metadata,
    Column("org_id", Integer, primary_key=True),
    Column("tree_size", BigInteger, nullable=False),
)

# One row per `auditledger keys rotate`: a signed note naming the old and the new verifier key,
# signed by both (integrity.anchors), so a verifier who trusts either key can follow the chain
# offline. Append-only.
key_rotations = Table(
    "key_rotations",
    metadata,
    Column("new_key_id", String(8), primary_key=True),
    Column("old_key_id", String(8), nullable=False),
    Column("statement", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Streaming destinations (see auditledger.streaming): configuration, the durable cursor
# (``next_seq``: every earlier event is acknowledged) and the delivery lease, in one row so that
# advancing the cursor and holding the lease are checked in one conditional UPDATE.
destinations = Table(
    "destinations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("transport", String(16), nullable=False),  # webhook, syslog or nats
    Column("settings", Text, nullable=False),  # canonical JSON, no secrets
    Column("secrets", Text, nullable=False),  # JSON; write-only through every interface
    Column("filters", Text, nullable=False),  # JSON list of [name, value] filter items
    Column("include_source", Boolean, nullable=False),
    Column("state", String(16), nullable=False),  # active, paused or dead (dead letter)
    Column("next_seq", BigInteger, nullable=False),
    # Where the range the next batch declares starts: batches chain exactly, so a receiver can
    # tell that nothing between two batches was left out.
    Column("batch_from", BigInteger, nullable=False),
    Column("last_tree_size", BigInteger, nullable=True),  # checkpoint size of the last batch
    Column("delivered", BigInteger, nullable=False),
    Column("failed", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),  # consecutive failures of the current batch
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_delivered_at", UTCDateTime, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "name"),
)
