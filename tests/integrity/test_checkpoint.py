"""Signed notes and checkpoints: byte-exact with the Go reference, strict when reading."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditledger.errors import InvalidInput
from auditledger.integrity.checkpoint import (
    Checkpoint,
    open_checkpoint,
    parse_body,
    sign_checkpoint,
    split_notes,
)
from auditledger.integrity.keys import SigningKey, parse_vkey
from auditledger.integrity.merkle import EMPTY_ROOT
from auditledger.integrity.note import open_note, parse_note, sign_note
from tests.support.keys import PETER_VKEY, peter

# golang.org/x/mod/sumdb/note note_test.go (TestSign, TestOpen).
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
PETER_SIG = f"— PeterNeumann {PETER_B64}\n"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
ENOCH_SIG = (
    "— EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)


def test_signing_reproduces_the_go_reference_byte_for_byte() -> None:
    # Ed25519 is deterministic, so the same key and text give the same note.
    assert sign_note(TEXT, [peter()]) == TEXT + "\n" + PETER_SIG


def test_unknown_signatures_are_ignored_and_known_ones_verified() -> None:
    opened = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [parse_vkey(PETER_VKEY)])
    assert opened.text == TEXT
    assert [k.name for k in opened.verified_by] == ["PeterNeumann"]
    assert [s.name for s in opened.unknown] == ["EnochRoot"]
    both = open_note(
        TEXT + "\n" + PETER_SIG + ENOCH_SIG, [parse_vkey(ENOCH_VKEY), peter().verifier]
    )
    assert {k.name for k in both.verified_by} == {"PeterNeumann", "EnochRoot"}


def test_a_note_with_no_trusted_signature_is_rejected() -> None:
    with pytest.raises(InvalidInput) as raised:
        open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    assert "no signature from a trusted key" in raised.value.problems[0].message


def test_a_failing_signature_from_a_known_key_rejects_the_note() -> None:
    forged = TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(InvalidInput, match="does not verify"):
        open_note(forged, [parse_vkey(PETER_VKEY)])
    with pytest.raises(InvalidInput, match="does not verify"):
        open_note(
            TEXT.replace("cryptography", "cryptographY") + "\n" + PETER_SIG, [peter().verifier]
        )


def test_same_name_other_key_is_not_trusted() -> None:
    impostor = SigningKey("PeterNeumann", Ed25519PrivateKey.generate())
    note = sign_note(TEXT, [impostor])
    with pytest.raises(InvalidInput) as raised:
        open_note(note, [parse_vkey(PETER_VKEY)])
    assert "no signature from a trusted key" in raised.value.problems[0].message


@pytest.mark.parametrize(
    "note",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + f"— Bad Name {PETER_B64}\n",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + "— PeterNeumann AAAA\n",
        TEXT + "\n" + f"- PeterNeumann {PETER_B64}\n",
        TEXT + "\n" + PETER_SIG * 101,
    ],
    ids=[
        "no signatures",
        "blank line only",
        "no final newline",
        "control character",
        "space in key name",
        "line after signatures",
        "signature too short",
        "hyphen instead of em dash",
        "too many signatures",
    ],
)
def test_malformed_notes_are_rejected(note: str) -> None:
    with pytest.raises(InvalidInput, match="malformed"):
        parse_note(note)


def root() -> bytes:
    return bytes(range(32))


def test_checkpoint_body_is_the_c2sp_format() -> None:
    checkpoint = Checkpoint("audit.example.com/acme", 20852163, root())
    assert checkpoint.body() == (
        "audit.example.com/acme\n20852163\n" + base64.b64encode(root()).decode() + "\n"
    )
    assert parse_body(checkpoint.body()) == checkpoint
    assert parse_body("log\n0\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n").tree_size == 0


@pytest.mark.parametrize(
    "body",
    [
        "origin\n20\n",
        "origin\n020\nAAAA\n",
        "origin\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n1e3\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n20\n" + base64.b64encode(bytes(31)).decode() + "\n",
        "origin\n20\n" + base64.b64encode(bytes(32)).decode().rstrip("=") + "\n",
        "\n20\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "origin\n20\n" + base64.b64encode(bytes(32)).decode(),
    ],
    ids=[
        "no root",
        "leading zero",
        "negative",
        "exponent",
        "short root",
        "unpadded root",
        "empty origin",
        "no final newline",
    ],
)
def test_malformed_checkpoint_bodies_are_rejected(body: str) -> None:
    with pytest.raises(InvalidInput, match="malformed checkpoint"):
        parse_body(body)


def test_checkpoint_signed_and_opened_for_its_origin_only() -> None:
    key = peter()
    note = sign_checkpoint(Checkpoint("audit.example.com/acme", 7, root()), key)
    opened = open_checkpoint(note, [key.verifier], origin="audit.example.com/acme")
    assert (opened.tree_size, opened.root_hash) == (7, root())
    with pytest.raises(InvalidInput) as raised:
        open_checkpoint(note, [key.verifier], origin="audit.example.com/globex")
    assert "not of 'audit.example.com/globex'" in raised.value.problems[0].message


def test_files_with_several_notes_are_split() -> None:
    key = peter()
    first = sign_checkpoint(Checkpoint("log/acme", 7, root()), key)
    second = sign_checkpoint(Checkpoint("log/acme", 9, root()), key)
    assert split_notes(first) == [first]
    assert split_notes(first + second) == [first, second]
    assert split_notes(first + "\n\n" + second + "\n") == [first, second]
    assert split_notes("\n" + first) == [first]
