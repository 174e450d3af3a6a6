"""The Go sumdb/note test suite's published key pair, for interoperability tests."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditledger.integrity.keys import SigningKey

# golang.org/x/mod/sumdb/note note_test.go: a published key pair.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"


def peter() -> SigningKey:
    """The Go test suite's signing key, from its ``PRIVATE+KEY+name+id+base64`` form."""
    # The base64 may itself hold '+': split off the four fields before it.
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:]
    return SigningKey("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed))
