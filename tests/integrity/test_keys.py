"""Signing keys: key ids and verifier keys as C2SP and Go's sumdb/note define them; the key file."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditledger.errors import InvalidInput, Unavailable
from auditledger.integrity.keyfile import KeyFile
from auditledger.integrity.keys import VerifierKey, check_key_name, parse_vkey
from tests.support.keys import PETER_VKEY, peter


def test_key_id_and_vkey_match_the_go_reference() -> None:
    key = peter().verifier
    assert key.key_id.hex() == "c74f20a3"
    assert key.vkey() == PETER_VKEY
    assert parse_vkey(PETER_VKEY) == key


def test_mangled_verifier_keys_are_refused() -> None:
    # As the Go tests do: every proper substring and every single-byte change is refused.
    refused = 0
    for i in range(len(PETER_VKEY)):
        changed = PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :]
        with pytest.raises(InvalidInput):
            parse_vkey(changed)
        refused += 1
    for cut in (10, 21, 22, 40, len(PETER_VKEY) - 1):
        with pytest.raises(InvalidInput):
            parse_vkey(PETER_VKEY[:cut])
        with pytest.raises(InvalidInput):
            parse_vkey(PETER_VKEY[cut:])
    # A key of another type, with a key id computed to match it.
    with pytest.raises(InvalidInput) as raised:
        parse_vkey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    assert "only Ed25519 keys" in raised.value.problems[0].message
    assert refused == len(PETER_VKEY)


@pytest.mark.parametrize("name", ["", "has space", "plus+sign", "tab\there", "nbsp\u00a0x"])
def test_bad_key_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_key_name(name)
    assert raised.value.problems[0].field == "log_origin"


def test_signatures_verify_only_for_their_message() -> None:
    key = peter()
    signature = key.sign(b"hi")
    assert key.verifier.verify(b"hi", signature)
    assert not key.verifier.verify(b"ho", signature)
    assert not key.verifier.verify(b"hi", bytes([signature[0] ^ 1]) + signature[1:])
    assert not VerifierKey("PeterNeumann", b"\x00" * 31).verify(b"hi", signature)


def test_key_file_is_created_private_and_pkcs8(tmp_path: Path) -> None:
    keys = KeyFile(tmp_path / "keys" / "signing.key", "audit.example.com")
    key, created = keys.ensure()
    assert created
    mode = stat.S_IMODE(keys.path.stat().st_mode)
    assert mode == 0o600
    pem = keys.path.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert keys.ensure() == (key, False)
    assert key.verifier.name == "audit.example.com"


def test_key_file_created_once_by_concurrent_processes(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        key, _ = KeyFile(path, "audit.example.com").ensure()
        results.append(key.verifier.public_key)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["signing.key"]


def test_missing_or_broken_key_file_says_what_to_do(tmp_path: Path) -> None:
    keys = KeyFile(tmp_path / "signing.key", "audit.example.com")
    with pytest.raises(Unavailable, match="auditledger init"):
        keys.current()
    keys.path.write_text("not a key")
    with pytest.raises(Unavailable, match="cannot be read"):
        keys.current()


def test_rotation_keeps_the_old_file_and_changes_the_key(tmp_path: Path) -> None:
    keys = KeyFile(tmp_path / "signing.key", "audit.example.com")
    first, _ = keys.ensure()
    old, new = keys.rotate()
    assert old == first
    assert new.verifier != old.verifier
    retired = tmp_path / f"signing.key.retired-{old.verifier.key_id_hex}"
    assert KeyFile(retired, "audit.example.com").current().verifier == old.verifier
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600
    # Another process holding a KeyFile notices the swap without a restart.
    assert KeyFile(keys.path, "audit.example.com").current().verifier == new.verifier
    assert keys.current().verifier == new.verifier


def test_directory_that_cannot_hold_a_key_is_detected(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    keys = KeyFile(blocker / "signing.key", "audit.example.com")
    assert not keys.can_create()
    with pytest.raises(FileExistsError):
        keys.ensure()
