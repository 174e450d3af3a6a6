"""Tampering with the database directly (past the triggers) is detected and located.

Each case is its own test and runs on SQLite and PostgreSQL. The attacker has write access to
the database but not to the signing key, nor to checkpoints an auditor saved elsewhere.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, text

from auditledger.core.checkpoint import Checkpoint, sign_checkpoint
from auditledger.core.errors import Inconsistent
from auditledger.core.keys import SigningKey
from auditledger.integrity.verify import SavedCheckpoint, VerifyReport
from auditledger.services import Services, build_services
from auditledger.settings import Settings
from auditledger.store.engine import sqlite_path
from auditledger.store.schema import checkpoints, events, signing_keys
from auditledger.tenancy.model import Organization
from auditledger_client.core.clock import FrozenClock
from tests.support.databases import DROPPER, admin_execute, with_database
from tests.support.helpers import FixedLocator, make_org
from tests.support.integrity import event_row, ingest_many, rewrite_event, tampering, verify

SIZE = 20


@pytest.fixture
def org(services: Services) -> Organization:
    """An organization with 20 events and checkpoints at 10 and 20."""
    services.checkpoints.ensure_key()
    organization = make_org(services).org
    ingest_many(services, organization, 10)
    services.checkpoints.checkpoint(organization.id, organization.slug)
    ingest_many(services, organization, SIZE - 10)
    services.checkpoints.checkpoint(organization.id, organization.slug)
    assert verify(services, organization).ok
    return organization


def kinds(report: VerifyReport) -> set[str]:
    return {f.kind for f in report.findings}


def test_one_changed_byte_names_its_event(services: Services, org: Organization) -> None:
    with tampering(services) as connection:
        properties = event_row(connection, org.id, 7)["properties"]
        changed = properties.replace("value", "valuf", 1)
        assert len(changed.encode()) == len(properties.encode())
        connection.execute(
            text("UPDATE events SET properties = :p WHERE org_id = :o AND seq = 7"),
            {"p": changed, "o": org.id},
        )
    report = verify(services, org)
    assert kinds(report) == {"altered"}
    assert report.seqs("altered") == [7]
    assert "seq 7" in report.findings[0].describe()


def test_deleted_event_is_reported_missing(services: Services, org: Organization) -> None:
    with tampering(services) as connection:
        connection.execute(delete(events).where(events.c.org_id == org.id, events.c.seq == 4))
    report = verify(services, org)
    assert kinds(report) == {"missing"}
    assert report.seqs("missing") == [4]
    assert "missing (not covered by a purge)" in report.findings[0].describe()


def test_deleted_leaf_is_located(services: Services, org: Organization) -> None:
    with tampering(services) as connection:
        connection.execute(text("DELETE FROM leaves WHERE org_id = :o AND seq = 9"), {"o": org.id})
    report = verify(services, org)
    # The event still gives the leaf hash, so the tree and checkpoints check out around it.
    assert kinds(report) == {"leaf_missing"}
    assert report.seqs("leaf_missing") == [9]


@pytest.mark.parametrize("stored", ["'" + "ab" * 16 + "'", "5", "x'0102'"])
def test_a_leaf_hash_of_another_type_is_named(
    services: Services, org: Organization, stored: str
) -> None:
    # SQLite keeps whatever a hand-written UPDATE gives a column: text of a hash's length,
    # an integer, a short blob. Each is a wrong leaf hash to report, not a crash of verify.
    if services.db.is_postgres:
        pytest.skip("PostgreSQL's bytea column holds bytes only")
    with tampering(services) as connection:
        connection.execute(
            text(f"UPDATE leaves SET leaf_hash = {stored} WHERE org_id = :o AND seq = 9"),
            {"o": org.id},
        )
    report = verify(services, org)
    assert not report.ok
    assert report.seqs("altered") == [9]


def test_swapped_events_are_both_named(services: Services, org: Organization) -> None:
    columns = [c.name for c in events.columns if c.name not in ("org_id", "seq", "occurred_at")]
    with tampering(services) as connection:
        third, twelfth = event_row(connection, org.id, 3), event_row(connection, org.id, 12)
        for seq, source in ((3, twelfth), (12, third)):
            connection.execute(
                events.update()
                .where(events.c.org_id == org.id, events.c.seq == seq)
                .values({c: source[c] for c in columns})
            )
    report = verify(services, org)
    assert kinds(report) == {"altered"}
    assert report.seqs("altered") == [3, 12]


def test_forged_row_beside_a_real_one_is_named(services: Services, org: Organization) -> None:
    with tampering(services) as connection:
        forged = event_row(connection, org.id, 5)
        forged.update(
            event_id=uuid.uuid4(),
            actor_name="Mallory",
            occurred_at=forged["occurred_at"] + timedelta(microseconds=1),
        )
        connection.execute(insert(events).values(forged))
    report = verify(services, org)
    assert report.seqs("duplicate") == [5]
    assert report.seqs("altered") == [5]  # the forged one does not match the leaf
    assert kinds(report) == {"duplicate", "altered"}


def test_forged_row_past_the_head_is_named(services: Services, org: Organization) -> None:
    with tampering(services) as connection:
        forged = event_row(connection, org.id, 0)
        forged.update(seq=SIZE + 3, event_id=uuid.uuid4())
        connection.execute(insert(events).values(forged))
    report = verify(services, org)
    assert kinds(report) == {"beyond_head"}
    assert report.seqs("beyond_head") == [SIZE + 3]


def test_rewritten_history_contradicts_the_signed_checkpoints(
    services: Services, org: Organization
) -> None:
    # The attacker rewrites leaf hashes, tree nodes and head to match; only the signatures,
    # made before, still commit to the original events.
    rewrite_event(services, org, 13, actor_name="Mallory")
    report = verify(services, org)
    assert kinds(report) == {"checkpoint_root"}
    assert report.checkpoints("checkpoint_root") == [20]
    assert "within seq 10-19" in report.findings[0].describe()


@pytest.fixture
def snapshot(
    services: Services,
    engine_kind: str,
    database_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[str]:
    """A copy of the database as it is now (the "backup" it is later rolled back to)."""
    if engine_kind == "sqlite":
        path = sqlite_path(database_url)
        assert path is not None
        copy = tmp_path / "backup.db"
        with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        yield f"sqlite:///{copy}"
        return
    admin = request.getfixturevalue("pg_admin_url")
    name = f"al_backup_{uuid.uuid4().hex[:12]}"
    services.db.dispose()  # CREATE DATABASE ... TEMPLATE needs the source to be idle
    admin_execute(admin, f'CREATE DATABASE "{name}" TEMPLATE "{database_url.rsplit("/", 1)[1]}"')
    try:
        yield with_database(admin, name)
    finally:
        DROPPER.drop_later(admin, name)  # in the background, as the test databases are


def test_database_rolled_back_to_an_older_copy_is_detected(
    services: Services,
    org: Organization,
    snapshot: str,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    ingest_many(services, org, 5)
    latest, _ = services.checkpoints.checkpoint(org.id, org.slug)
    saved = SavedCheckpoint("auditor.txt", latest.note)  # an auditor kept this one
    assert latest.tree_size == SIZE + 5
    rolled = build_services(
        settings.replace(database_url=snapshot), clock=clock, locator=FixedLocator()
    )
    rolled.start()
    try:
        # On its own, the older copy is a fine log: the rollback shows only against copies kept
        # elsewhere.
        assert verify(rolled, org).ok
        report = verify(rolled, org, against=[saved])
        assert kinds(report) == {"against_beyond_log"}
        assert report.checkpoints() == [SIZE + 5]
        assert "auditor.txt" in report.findings[0].describe()
        # The server's witness copy, outside the database, refuses to sign the older log.
        ingest_many(rolled, org, 2)
        with pytest.raises(Inconsistent, match="rolled back"):
            rolled.checkpoints.checkpoint(org.id, org.slug)
    finally:
        rolled.stop()


def _resign(services: Services, org: Organization, key: SigningKey, register: bool) -> None:
    """Rewrite an event consistently and replace every checkpoint with ones signed by ``key``."""
    rewrite_event(services, org, 3, actor_name="Mallory")
    head = services.log.head(org.id)
    note = sign_checkpoint(Checkpoint(f"auditledger.local/{org.slug}", SIZE, head.root_hash), key)
    with tampering(services) as connection:
        connection.execute(delete(checkpoints).where(checkpoints.c.org_id == org.id))
        connection.execute(
            insert(checkpoints).values(
                org_id=org.id,
                tree_size=SIZE,
                root_hash=head.root_hash,
                note=note,
                key_name=key.name,
                created_at=services.clock.now(),
            )
        )
        if register:
            connection.execute(
                insert(signing_keys).values(
                    key_id=key.verifier.key_id_hex,
                    name=key.name,
                    public_key=key.verifier.public_key,
                    created_at=services.clock.now(),
                )
            )


def test_checkpoints_resigned_with_an_unknown_key_are_named(
    services: Services, org: Organization
) -> None:
    attacker = SigningKey("auditledger.local", Ed25519PrivateKey.generate())
    _resign(services, org, attacker, register=False)
    report = verify(services, org)
    assert kinds(report) == {"checkpoint_signature"}
    assert report.checkpoints() == [SIZE]
    assert "no signature from a trusted key" in report.findings[0].describe()


def test_history_resigned_with_a_registered_key_fails_the_auditors_key(
    services: Services, org: Organization
) -> None:
    genuine = services.checkpoints.signing_key().verifier
    saved = SavedCheckpoint(
        "auditor.txt",
        services.checkpoints.repo.checkpoint_at(org.id, SIZE).note,  # type: ignore[union-attr]
    )
    attacker = SigningKey("auditledger.local", Ed25519PrivateKey.generate())
    _resign(services, org, attacker, register=True)
    # An auditor verifies with the key they were given (`--public-key`), not the registry.
    report = verify(services, org, verifiers=[genuine])
    assert kinds(report) == {"checkpoint_signature"}
    assert report.checkpoints() == [SIZE]
    # And a checkpoint they saved earlier names where the history was changed.
    report = verify(services, org, verifiers=[genuine], against=[saved])
    assert report.checkpoints("against_root") == [SIZE]
    assert "within seq 0-19" in next(
        f.describe() for f in report.findings if f.kind == "against_root"
    )
