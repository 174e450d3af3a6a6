"""Signatures are checked against keys the operator pins, never against keys the database alone
names (issue 15, attack 2), and a key file swapped without `keys rotate` is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.core.checkpoint import Checkpoint, sign_checkpoint
from auditledger.core.keys import generate_key
from auditledger.integrity.anchors import read_rotation
from auditledger.integrity.checkpointer import KeyChanged
from auditledger.services import Services, build_services
from auditledger.settings import Settings
from auditledger.store.schema import checkpoints, log_heads, signing_keys
from auditledger.web.app import create_app
from tests.support.helpers import make_org
from tests.support.integrity import ingest_many, rewrite_event, tampering

runner = CliRunner(env={"COLUMNS": "250"})


def verify(services: Services, *args: str, key_file: Path | None = None) -> tuple[int, str]:
    key = key_file if key_file is not None else services.settings.signing_key_file
    result = runner.invoke(
        app,
        ["verify", "--org", "acme", "--database-url", services.settings.database_url, *args],
        env={"AUDITLEDGER_SIGNING_KEY_FILE": str(key)},
    )
    return result.exit_code, result.output


@pytest.fixture
def signed(services: Services) -> Services:
    services.checkpoints.ensure_key()
    org = make_org(services, "acme").org
    ingest_many(services, org, 8)
    services.checkpoints.checkpoint(org.id, org.slug)
    return services


def test_history_re_signed_with_a_key_registered_in_the_database_fails(signed: Services) -> None:
    services = signed
    org = services.tenancy.org("acme")
    rewrite_event(services, org, 3, actor_name="Someone Else")
    fresh = generate_key(services.settings.log_origin)
    with services.db.read() as connection:
        head = connection.execute(select(log_heads).where(log_heads.c.org_id == org.id)).one()
    note = sign_checkpoint(
        Checkpoint(services.checkpoints.origin("acme"), head.tree_size, head.root_hash), fresh
    )
    with tampering(services) as connection:
        connection.execute(
            insert(signing_keys).values(
                key_id=fresh.verifier.key_id_hex,
                name=fresh.name,
                public_key=fresh.verifier.public_key,
                created_at=services.clock.now(),
                retired_at=None,
            )
        )
        connection.execute(delete(checkpoints).where(checkpoints.c.org_id == org.id))
        connection.execute(
            insert(checkpoints).values(
                org_id=org.id,
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                note=note,
                key_name=fresh.name,
                created_at=services.clock.now(),
            )
        )
    code, output = verify(services)  # plain verify, on the machine with the key file
    assert code == 1, output
    assert "checkpoint 8: no signature from a trusted key" in output
    assert f"signing key {fresh.verifier.vkey()} is in the database but no trust anchor" in output


def test_verify_without_any_anchor_says_so_and_fails(signed: Services, tmp_path: Path) -> None:
    code, output = verify(signed, key_file=tmp_path / "elsewhere" / "no.key")
    assert code == 1
    assert "no trust anchor" in output
    assert "--public-key" in output


def test_rotation_is_a_statement_signed_by_both_keys(signed: Services) -> None:
    services = signed
    old_vkey = services.checkpoints.signing_key().verifier
    old, new = services.checkpoints.rotate_key()
    org = services.tenancy.org("acme")
    ingest_many(services, org, 2)
    services.checkpoints.checkpoint(org.id, org.slug)
    (statement,) = services.checkpoints.repo.rotations()
    assert read_rotation(statement) == (old.verifier, new.verifier)
    tampered = statement.replace(new.verifier.vkey(), generate_key("x").verifier.vkey())
    assert read_rotation(tampered) is None
    # An auditor who pinned only the old key follows the rotation to the new one, offline.
    code, output = verify(services, "--public-key", old_vkey.vkey())
    assert code == 0, output


def test_a_swapped_key_file_is_not_a_second_active_key(
    signed: Services, settings: Settings
) -> None:
    key_file = settings.signing_key_file
    key_file.write_bytes(generate_key(settings.log_origin).pem())  # replaced, not rotated
    other = build_services(settings)
    try:
        with pytest.raises(KeyChanged, match="keys rotate"):
            other.checkpoints.signing_key()
        server = create_app(other, manage_services=False, checkpoints=True)
        with pytest.raises(KeyChanged, match="Put the original key file back"), TestClient(server):
            pass
        active = [r for r in other.checkpoints.repo.registered_keys() if r.retired_at is None]
        assert len(active) == 1
    finally:
        other.stop()
