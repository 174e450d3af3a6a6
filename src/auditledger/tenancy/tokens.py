"""Making and checking secrets: API tokens, session tokens and passwords.

API and session tokens are long random strings, so a single SHA-256 is the right way to store
them (a slow hash adds nothing against brute force of 160 random bits). Passwords are chosen by
people and get argon2id. Every comparison of a secret is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from auditledger.tenancy.model import CredentialKind

TOKEN_PREFIX = "al"  # noqa: S105 - a public prefix, not a secret
# argon2-cffi's defaults are RFC 9106's second recommended profile (t=3, 64 MiB, 4 lanes).
PRODUCTION_HASHER = PasswordHasher()
_hasher = PRODUCTION_HASHER


def _random_base32(nbytes: int) -> str:
    return base64.b32encode(secrets.token_bytes(nbytes)).decode("ascii").rstrip("=").lower()


def digest(secret: str) -> bytes:
    """SHA-256 of a high-entropy secret, as stored."""
    return hashlib.sha256(secret.encode("utf-8")).digest()


def same_digest(secret: str, stored: bytes) -> bool:
    """Constant-time check of ``secret`` against a stored digest."""
    return hmac.compare_digest(digest(secret), stored)


@dataclass(frozen=True)
class IssuedToken:
    """A freshly made API token: shown once, then only its digest is kept."""

    token: str
    public_id: str
    secret_digest: bytes


def issue_token(kind: CredentialKind) -> IssuedToken:
    """``al_<kind>_<public id>_<secret>``; the public id finds the row, the secret proves it."""
    public_id = _random_base32(8)[:12]
    secret = _random_base32(20)
    return IssuedToken(
        f"{TOKEN_PREFIX}_{kind.value}_{public_id}_{secret}", public_id, digest(secret)
    )


@dataclass(frozen=True)
class ParsedToken:
    """The parts of a presented token."""

    kind: str
    public_id: str
    secret: str


def parse_token(token: str) -> ParsedToken | None:
    """Split a presented token, or None if it is not shaped like one of ours."""
    parts = token.strip().split("_")
    if len(parts) != 4 or parts[0] != TOKEN_PREFIX or not all(parts):
        return None
    if len(token) > 200:
        return None
    return ParsedToken(parts[1], parts[2], parts[3])


def new_session_token() -> str:
    """A session cookie value."""
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    """A per-session token that forms must echo back."""
    return secrets.token_urlsafe(24)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def check_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; False for users without a password."""
    if not stored:
        # Spend the same time as a real check so timing does not reveal the account state.
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Hash new passwords with ``hasher``: only the test suite calls this, with cheap parameters.

    A stored hash names its own parameters, so checking it never depends on this choice; no
    setting or environment variable reaches it, so a deployment cannot weaken its hashes.
    """
    global _hasher
    _hasher = hasher


def generate_password() -> str:
    """A strong password for generated accounts (the demo, ``users create`` without one)."""
    return secrets.token_urlsafe(12)
