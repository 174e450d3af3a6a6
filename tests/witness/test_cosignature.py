"""The cosignature format against the texts of c2sp.org/tlog-cosignature and tlog-witness.

The fixed vectors are the specs' own examples; the round trips check a cosignature with
``cryptography`` directly, written from the spec text rather than through auditledger's code.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditledger.core.add_checkpoint import parse_request, request_body
from auditledger.core.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from auditledger.core.cosignature import (
    Cosignature,
    as_cosignature,
    check_cosignatures,
    cosign,
    cosigned_message,
    parse_witness_vkey,
    policy_problems,
    witness_key_of,
)
from auditledger.core.errors import InvalidInput
from auditledger.core.keys import SigningKey, parse_vkey
from auditledger.core.note import parse_note

# c2sp.org/tlog-cosignature: "an example of a checkpoint that contains a cosignature".
SPEC_NOTE = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dl"
    "rDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
# The same spec's signed-message example, for that checkpoint at timestamp 1679315147.
SPEC_MESSAGE = (
    "cosignature/v1\n"
    "time 1679315147\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
# RFC 8032 section 7.1, test 1: a published Ed25519 secret key.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")


def witness_signing_key(name: str = "witness.example.com/w1") -> SigningKey:
    return SigningKey(name, Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET))


def log_note() -> tuple[SigningKey, str, str]:
    """A checkpoint signed by a fresh log key: the key, the signed note and its text."""
    log_key = SigningKey("log.example", Ed25519PrivateKey.generate())
    note = sign_checkpoint(
        Checkpoint("log.example/acme", 5, hashlib.sha256(b"r").digest()), log_key
    )
    return log_key, note, parse_note(note).text


def test_the_spec_example_line_reads_as_its_timestamp_and_key_id() -> None:
    note = parse_note(SPEC_NOTE)
    log_signature, witness_signature = note.signatures
    assert as_cosignature(log_signature) is None  # 64 bytes: a note signature, not a cosignature
    cosignature = as_cosignature(witness_signature)
    assert cosignature is not None
    assert cosignature.name == "witness.example.com/w1"
    assert cosignature.key_id.hex() == "8d66cf3f"
    assert cosignature.timestamp == 1679315147  # the example message's "time" line
    assert len(cosignature.signature) == 64
    # Re-encoding gives the spec's line byte for byte.
    assert cosignature.line() == SPEC_NOTE.splitlines(keepends=True)[-1]


def test_the_signed_message_is_the_specs_example() -> None:
    text = parse_note(SPEC_NOTE).text
    assert cosigned_message(text, 1679315147) == SPEC_MESSAGE.encode()


def test_the_key_id_uses_type_0x04() -> None:
    key = witness_key_of(witness_signing_key())
    expected = hashlib.sha256(
        b"witness.example.com/w1" + b"\n" + b"\x04" + key.public_key
    ).digest()[:4]
    assert key.key_id == expected
    # The same key as a note signer (type 0x01) has another id: one cannot stand for the other.
    signer = witness_signing_key().verifier
    assert signer.public_key == key.public_key
    assert signer.key_id != key.key_id


def test_a_cosignature_verifies_as_the_spec_describes() -> None:
    key = witness_signing_key()
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    line = cosign(key, text, 1679315147).line()
    assert line.startswith("\u2014 witness.example.com/w1 ")
    raw = base64.b64decode(line.split(" ")[2])
    # key id (4) || timestamp (8, big-endian) || Ed25519 signature (64)
    assert len(raw) == 4 + 8 + 64
    assert raw[:4] == witness_key_of(key).key_id
    assert int.from_bytes(raw[4:12], "big") == 1679315147
    public = key.private_key.public_key()
    public.verify(raw[12:], SPEC_MESSAGE.encode())  # raises if it does not verify


def test_vkeys_round_trip_and_keep_their_types_apart() -> None:
    key = witness_key_of(witness_signing_key())
    vkey = key.vkey()
    name, key_id, encoded = vkey.split("+", 2)
    assert (name, key_id) == ("witness.example.com/w1", key.key_id_hex)
    assert base64.b64decode(encoded)[0] == 0x04
    assert parse_witness_vkey(vkey) == key
    with pytest.raises(InvalidInput) as raised:
        parse_vkey(vkey)
    assert "type 0x01" in raised.value.problems[0].message
    with pytest.raises(InvalidInput) as raised:
        parse_witness_vkey(witness_signing_key().verifier.vkey())
    assert "type 0x04" in raised.value.problems[0].message
    with pytest.raises(InvalidInput) as raised:
        parse_witness_vkey(f"{name}+00000000+{encoded}")
    assert "key id does not match" in raised.value.problems[0].message


def test_a_cosigned_checkpoint_verifies_and_counts_its_witnesses() -> None:
    log_key, note, text = log_note()
    w1, w2, stranger = (
        witness_signing_key("w1.example"),
        SigningKey("w2.example", Ed25519PrivateKey.generate()),
        SigningKey("w3.example", Ed25519PrivateKey.generate()),
    )
    cosigned = note + cosign(w1, text, 100).line() + cosign(stranger, text, 101).line()
    # The log key alone still opens it: witness lines are unknown signatures, ignored.
    assert open_checkpoint(cosigned, [log_key.verifier]).tree_size == 5
    trusted = [witness_key_of(w1), witness_key_of(w2)]
    check = check_cosignatures(text, parse_note(cosigned).signatures, trusted)
    assert check.witnesses() == {witness_key_of(w1)}
    assert check.valid == ((witness_key_of(w1), 100),)
    assert check.invalid == ()
    # A cosignature of another checkpoint (or an altered one) is reported, never counted.
    other = cosign(w2, text.replace("\n5\n", "\n6\n"), 102).line()
    check = check_cosignatures(text, parse_note(note + other).signatures, trusted)
    assert check.valid == ()
    assert check.invalid == (f"w2.example+{witness_key_of(w2).key_id_hex}",)


def test_witnesses_are_counted_once_each() -> None:
    _, note, text = log_note()
    w1 = witness_signing_key("w1.example")
    w1_new = SigningKey("w1.example", Ed25519PrivateKey.generate())  # w1's next key
    line = cosign(w1, text, 100).line()
    # One line twice, and the same witness under two keys: one witness.
    cosigned = note + line + line + cosign(w1_new, text, 101).line()
    trusted = [witness_key_of(w1), witness_key_of(w1_new)]
    check = check_cosignatures(text, parse_note(cosigned).signatures, trusted)
    assert check.names() == {"w1.example"}
    assert check.invalid == ()


def test_the_witness_policy_reports_forged_lines_and_a_shortfall() -> None:
    _, note, text = log_note()
    w1 = witness_signing_key("w1.example")
    w2 = SigningKey("w2.example", Ed25519PrivateKey.generate())
    forged = as_cosignature(parse_note(note + cosign(w2, text, 100).line()).signatures[1])
    assert forged is not None
    as_w1 = Cosignature(w1.name, witness_key_of(w1).key_id, 100, forged.signature)
    given = [witness_key_of(w1), witness_key_of(w2)]
    signatures = parse_note(note + as_w1.line() + cosign(w2, text, 101).line()).signatures
    problems = policy_problems("checkpoint 5", text, signatures, given, 2)
    assert [(p.kind, p.message) for p in problems] == [
        (
            "cosignature",
            f"checkpoint 5: the cosignature by witness w1.example+{witness_key_of(w1).key_id_hex} "
            "does not verify (forged, or made for another checkpoint)",
        ),
        (
            "witnesses",
            "checkpoint 5 has 1 valid cosignatures of the 2 required from the 2 given witnesses "
            "(none from: w1.example)",
        ),
    ]
    assert policy_problems("checkpoint 5", text, signatures[2:], given, 1) == []


def test_the_spec_example_request_parses_and_round_trips() -> None:
    # c2sp.org/tlog-witness, "Example request body" (its checkpoint with one signature).
    proof_lines = [
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",
        "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=",
        "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=",
        "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=",
    ]
    note = SPEC_NOTE.rsplit("\u2014 witness", 1)[0]
    body = ("old 20852014\n" + "".join(p + "\n" for p in proof_lines) + "\n" + note).encode()
    request = parse_request(body)
    assert request.old_size == 20852014
    assert [base64.b64encode(p).decode() for p in request.proof] == proof_lines
    assert request.note == note
    assert request_body(request.old_size, request.proof, request.note) == body
    assert parse_request(request_body(0, [], note)).proof == ()


@pytest.mark.parametrize(
    "body",
    [
        b"old 01\n\nx",
        b"old -1\n\nx",
        b"new 3\n\nx",
        b"old 3\nnot-base64!\n\nx",
        b"old 3\nAAAA\n\nx",
        b"old 3\n",
        ("old 3\n" + "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n" * 64 + "\nx").encode(),
        b"\xff\xfe",
    ],
)
def test_malformed_requests_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_request(body)
