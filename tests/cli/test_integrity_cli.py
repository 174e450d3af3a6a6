"""`auditledger init`, `keys`, `checkpoint` and `verify` end to end."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from typer.testing import CliRunner

from auditledger.cli.integrity import witness_policy
from auditledger.cli.main import app
from auditledger.core.cosignature import witness_key_of
from auditledger.core.keys import SigningKey, parse_vkey
from auditledger.services import build_services
from auditledger.settings import load_settings
from tests.support.helpers import make_org
from tests.support.integrity import ingest_many, tampering

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"AUDITLEDGER_SIGNING_KEY_FILE": str(tmp_path / "keys" / "signing.key")}


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


def populate(database_url: str, env: dict[str, str], count: int = 12) -> None:
    """An organization `acme` with ``count`` events, through the services."""
    settings = load_settings(environ=env, database_url=database_url)
    services = build_services(settings)
    services.start()
    try:
        ingest_many(services, make_org(services).org, count)
    finally:
        services.stop()


def test_init_creates_a_private_key_and_registers_it(
    database_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    code, output = run(env, "init", "--database-url", database_url)
    assert code == 0, output
    key_file = tmp_path / "keys" / "signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "created signing key" in output
    code, public = run(env, "keys", "public", "--database-url", database_url)
    vkey = parse_vkey(public.strip())
    assert vkey.name == "auditledger.local"
    assert vkey.vkey() in output
    code, again = run(env, "init", "--database-url", database_url)
    assert code == 0
    assert "using signing key" in again
    assert vkey.vkey() in again


def test_init_fails_clearly_when_the_key_cannot_be_created(
    database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    env = {"AUDITLEDGER_SIGNING_KEY_FILE": str(tmp_path / "file" / "signing.key")}
    code, output = run(env, "init", "--database-url", database_url)
    assert code == 1
    assert "cannot create the signing key" in output


@pytest.mark.slow
def test_checkpoint_then_verify_is_clean(database_url: str, env: dict[str, str]) -> None:
    run(env, "init", "--database-url", database_url)
    populate(database_url, env)
    code, output = run(env, "checkpoint", "--org", "acme", "--database-url", database_url)
    assert code == 0, output
    assert "auditledger.local/acme\n12\n" in output
    code, output = run(env, "verify", "--org", "acme", "--database-url", database_url)
    assert code == 0, output
    assert "OK acme: 12 events" in output
    assert "events/s" in output


@pytest.mark.slow
def test_verify_names_the_altered_event_and_fails(database_url: str, env: dict[str, str]) -> None:
    run(env, "init", "--database-url", database_url)
    populate(database_url, env)
    run(env, "checkpoint", "--database-url", database_url)
    services = build_services(load_settings(environ=env, database_url=database_url))
    try:
        with tampering(services) as connection:
            connection.execute(
                text("UPDATE events SET actor_name = 'Mallory' WHERE seq IN (4, 5, 6, 9)")
            )
    finally:
        services.stop()
    code, output = run(env, "verify", "--database-url", database_url)
    assert code == 1
    assert "FAILED acme" in output
    assert "changed after it was recorded): 4 seqs 4-6, 9" in output


@pytest.mark.slow
def test_verify_against_saved_checkpoints_and_trusted_keys(
    database_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    run(env, "init", "--database-url", database_url)
    populate(database_url, env)
    _, note = run(env, "checkpoint", "--org", "acme", "--database-url", database_url)
    saved = tmp_path / "saved.txt"
    saved.write_text(note[note.index("auditledger.local/acme") :], encoding="utf-8")
    trusted = tmp_path / "trusted.pub"
    code, _ = run(env, "keys", "public", "-o", str(trusted), "--database-url", database_url)
    assert code == 0
    db = ["--database-url", database_url]
    args = ["verify", "--org", "acme", "--against", str(saved), "--public-key", str(trusted)]
    code, output = run(env, *args, *db)
    assert code == 0, output

    stranger = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    code, output = run(env, "verify", "--org", "acme", "--public-key", stranger, *db)
    assert code == 1
    assert "checkpoint 12: no signature from a trusted key" in output

    code, output = run(env, "verify", "--public-key", "not-a-key", *db)
    assert code == 1
    assert "invalid verifier key" in output
    code, output = run(env, "verify", "--against", str(saved), *db)
    assert code == 1
    assert "--against needs --org" in output


@pytest.mark.slow
def test_rotation_keeps_old_checkpoints_verifiable(
    database_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    db = ["--database-url", database_url]
    run(env, "init", *db)
    populate(database_url, env)
    _, before = run(env, "keys", "public", *db)
    run(env, "checkpoint", *db)
    code, output = run(env, "keys", "rotate", *db)
    assert code == 0, output
    old = parse_vkey(before.strip())
    assert (tmp_path / "keys" / f"signing.key.retired-{old.key_id_hex}").exists()
    populate_more = build_services(load_settings(environ=env, database_url=database_url))
    populate_more.start()
    try:
        ingest_many(populate_more, populate_more.tenancy.org("acme"), 3)
    finally:
        populate_more.stop()
    run(env, "checkpoint", *db)
    code, output = run(env, "verify", *db)
    assert code == 0, output
    code, listing = run(env, "keys", "public", "--all", *db)
    listed = [parse_vkey(line) for line in listing.split()]
    assert len(listed) == 2
    assert old in listed


def test_a_witness_given_twice_is_one_witness() -> None:
    w1 = SigningKey("w1.example/witness", Ed25519PrivateKey.generate())
    w1_next = SigningKey("w1.example/witness", Ed25519PrivateKey.generate())  # its next key
    w2 = SigningKey("w2.example/witness", Ed25519PrivateKey.generate())
    one, other, second = (witness_key_of(k).vkey() for k in (w1, w1_next, w2))
    # The default requires every witness given, counted once however often it is named.
    keys, required = witness_policy([one, one, other, second], None)
    assert keys == [witness_key_of(w1), witness_key_of(w1_next), witness_key_of(w2)]
    assert required == 2
    with pytest.raises(typer.Exit):
        witness_policy([one, other], 2)
