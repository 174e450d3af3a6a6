"""Checkpoints served by auditledger verify with an independent reading of the published formats.

The verifier below is written from the specification texts (c2sp.org/signed-note,
c2sp.org/tlog-checkpoint, the verifier-key encoding of golang.org/x/mod/sumdb/note and
RFC 6962 section 2.1) using only ``cryptography`` and the standard library. It shares no code
with auditledger's parser, so a misreading of the format in one shows up as a disagreement.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from auditledger.services import Services
from tests.support.helpers import make_org
from tests.support.integrity import ingest_many


def spec_open_checkpoint(note: bytes, vkey: str) -> tuple[str, int, bytes]:
    """(origin, tree size, root hash) of a checkpoint signed by ``vkey``; AssertionError or a
    cryptography exception otherwise."""
    # signed-note: "Signed notes MUST be valid UTF-8 and MUST NOT contain any ASCII control
    # characters (those below U+0020) other than newline."
    text = note.decode("utf-8", errors="strict")
    assert all(c == "\n" or ord(c) >= 0x20 for c in text)
    # "a text ending in newline (U+000A), followed by a blank line (only a newline), followed
    # by one or more signature lines ... the text is separated from the signatures by the last
    # empty line in the note." The note text includes the final newline.
    split = text.rindex("\n\n")
    body, signature_block = text[: split + 1], text[split + 2 :]
    assert signature_block.endswith("\n")
    lines = signature_block[:-1].split("\n")
    assert lines

    # sumdb/note verifier key: <name>+<hash>+<keydata>, keydata = base64(alg byte || key).
    name, key_hash, key_data = vkey.split("+", 2)
    raw = base64.b64decode(key_data)
    assert raw[0] == 0x01
    assert len(raw) == 33
    public_key = raw[1:]
    # "key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]"
    key_id = hashlib.sha256(name.encode() + b"\x0a" + b"\x01" + public_key).digest()[:4]
    assert int.from_bytes(key_id, "big") == int(key_hash, 16)

    verified = 0
    for line in lines:
        # "em dash (U+2014), space (U+0020), key name, space, base64-encoded signature"
        assert line.startswith("\u2014 ")
        signer, encoded = line[2:].split(" ")
        signature = base64.b64decode(encoded, validate=True)
        # "The first four bytes in the signature are the uint32 key ID stored in big-endian
        # order"; signatures from unknown keys are ignored.
        if signer == name and signature[:4] == key_id:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature[4:], body.encode())
            verified += 1
    assert verified >= 1, "no signature from the trusted key"

    # tlog-checkpoint: origin, decimal tree size without leading zeros, base64 root hash.
    body_lines = body.split("\n")[:-1]
    assert len(body_lines) >= 3
    assert all(body_lines)
    origin, size, root = body_lines[0], body_lines[1], body_lines[2]
    assert re.fullmatch(r"0|[1-9][0-9]*", size)
    root_hash = base64.b64decode(root, validate=True)
    assert len(root_hash) == 32
    return origin, int(size), root_hash


def rfc6962_root(leaf_hashes: list[bytes]) -> bytes:
    """MTH over leaves given by their leaf hashes (RFC 6962 2.1)."""
    if not leaf_hashes:
        return hashlib.sha256(b"").digest()
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < len(leaf_hashes):
        k *= 2
    left, right = rfc6962_root(leaf_hashes[:k]), rfc6962_root(leaf_hashes[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def test_served_checkpoints_verify_independently(client: TestClient, services: Services) -> None:
    access = make_org(services)
    services.checkpoints.ensure_key()
    leaf_hashes: list[bytes] = []
    vkey = services.checkpoints.signing_key().verifier.vkey()
    for batch in (1, 6, 13):
        leaf_hashes += [r.leaf_hash for r in ingest_many(services, access.org, batch)]
        client.post("/api/v1/orgs/acme/checkpoints", headers=access.headers(access.admin))
        served = client.get("/api/v1/orgs/acme/checkpoint", headers=access.headers(access.member))
        origin, size, root = spec_open_checkpoint(served.content, vkey)
        assert origin == "auditledger.local/acme"
        assert size == len(leaf_hashes)
        assert root == rfc6962_root(leaf_hashes)
    # The verifier key as published without a credential is the same key.
    published = [k["vkey"] for k in client.get("/api/v1/keys").json()["keys"]]
    assert published == [vkey]


def test_independent_verifier_rejects_a_changed_checkpoint(
    client: TestClient, services: Services
) -> None:
    access = make_org(services)
    services.checkpoints.ensure_key()
    ingest_many(services, access.org, 3)
    client.post("/api/v1/orgs/acme/checkpoints", headers=access.headers(access.admin))
    note = client.get("/api/v1/orgs/acme/checkpoint", headers=access.headers(access.admin)).text
    vkey = services.checkpoints.signing_key().verifier.vkey()
    forged = note.replace("\n3\n", "\n4\n", 1).encode()
    with pytest.raises(InvalidSignature):
        spec_open_checkpoint(forged, vkey)
