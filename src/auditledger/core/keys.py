"""Ed25519 signing keys: key ids, verifier keys and the private key file.

A key is known to verifiers by its *name* and its *key id*, as the C2SP signed-note format
defines them: ``key id = SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]``. A verifier
key is written ``<name>+<key id, 8 hex digits>+<base64(0x01 || public key)>``, the format Go's
``golang.org/x/mod/sumdb/note`` reads, so auditors can use standard tools.

The private key lives in a PKCS#8 PEM file readable only by its owner. auditledger names the
key after ``log_origin``; the same file under another name is another key id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from auditledger.core.errors import InvalidInput, Problem

ED25519 = 0x01  # the signed-note signature type byte for Ed25519
KEY_ID_SIZE = 4
PUBLIC_KEY_SIZE = 32
# Key names are non-empty and contain neither '+' nor any Unicode space (signed-note spec).
_BAD_NAME = re.compile(r"[\s+]")


def check_key_name(name: str, field: str = "log_origin") -> str:
    """``name`` if it can name a signed-note key, else :class:`InvalidInput` naming ``field``."""
    if not name or _BAD_NAME.search(name) or any(ord(c) < 0x20 for c in name):
        raise InvalidInput(
            "invalid key name",
            [
                Problem(
                    field,
                    f"{name!r} cannot name a key: use a non-empty name without spaces "
                    "or '+', such as audit.example.com",
                )
            ],
        )
    return name


def key_id(name: str, public_key: bytes, algorithm: int = ED25519) -> bytes:
    """The 4-byte key id of a key under ``name``: ``SHA-256(name || 0x0A || algorithm ||
    public key)[:4]`` (``algorithm`` 0x01 signs notes, 0x04 cosigns checkpoints)."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([algorithm]) + public_key)
    return digest.digest()[:KEY_ID_SIZE]


@dataclass(frozen=True)
class NamedKey:
    """An Ed25519 public key under a name, as signed notes name it: a key id and a vkey, both
    over the signature type ``ALGORITHM`` (0x01 signs notes, 0x04 cosigns checkpoints)."""

    ALGORITHM: ClassVar[int] = ED25519

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        """The 4-byte key id."""
        return key_id(self.name, self.public_key, self.ALGORITHM)

    @property
    def key_id_hex(self) -> str:
        """The key id as 8 lowercase hex digits (how the registry and vkeys write it)."""
        return self.key_id.hex()

    def vkey(self) -> str:
        """``<name>+<key id hex>+<base64(type || public key)>``."""
        encoded = base64.b64encode(bytes([self.ALGORITHM]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id_hex}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class VerifierKey(NamedKey):
    """A public key under a name: what a checkpoint's signature line refers to."""


def parse_vkey(text: str, field: str = "public_key") -> VerifierKey:
    """A verifier key from its ``name+keyid+base64`` text; :class:`InvalidInput` if malformed."""
    name, public_key = parse_vkey_parts(text, field, ED25519)
    return VerifierKey(name, public_key)


def parse_vkey_parts(text: str, field: str, algorithm: int) -> tuple[str, bytes]:
    """(name, 32-byte Ed25519 public key) of a ``name+keyid+base64(algorithm || key)`` vkey
    whose key id matches; :class:`InvalidInput` naming ``field`` otherwise."""

    def bad(why: str) -> InvalidInput:
        return InvalidInput("invalid verifier key", [Problem(field, f"{text[:120]!r}: {why}")])

    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise bad("expected <name>+<key id>+<base64 key>")
    name, hex_id, encoded = parts
    check_key_name(name, field)
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise bad("the key id must be 8 lowercase hex digits")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise bad("the key is not valid base64") from None
    if len(raw) != 1 + PUBLIC_KEY_SIZE or raw[0] != algorithm:
        raise bad(f"only Ed25519 keys (type 0x{algorithm:02x}, 32 bytes) are supported here")
    expected = key_id(name, raw[1:], algorithm).hex()
    if expected != hex_id:
        raise bad(f"the key id does not match the key (it should be {expected})")
    return name, raw[1:]


@dataclass(frozen=True)
class SigningKey:
    """A private key under a name."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        """The raw 32-byte Ed25519 public key (named as a note signer by :attr:`verifier`, as
        a witness by ``cosignature.witness_key_of``)."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def verifier(self) -> VerifierKey:
        """Its public half."""
        return VerifierKey(self.name, self.public_bytes)

    def sign(self, message: bytes) -> bytes:
        """The Ed25519 signature of ``message`` (deterministic, RFC 8032)."""
        return self.private_key.sign(message)

    def pem(self) -> bytes:
        """The private key as PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def generate_key(name: str) -> SigningKey:
    """A fresh Ed25519 key named ``name``."""
    return SigningKey(check_key_name(name), Ed25519PrivateKey.generate())


def read_key_file(path: Path, name: str) -> SigningKey:
    """The key in ``path`` (PKCS#8 PEM), named ``name``. OSError if unreadable; ValueError if
    it holds no Ed25519 key."""
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return SigningKey(check_key_name(name), loaded)
