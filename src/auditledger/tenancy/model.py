"""Tenancy records: organizations, users, memberships, credentials and who is calling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from auditledger_client.core.event import Actor


class Role(StrEnum):
    """What a person or read credential may see in an organization."""

    ADMIN = "admin"  # everything, including event sources (IP address, location)
    MEMBER = "member"  # everything except sources


class CredentialKind(StrEnum):
    """What a credential is for."""

    INGEST = "ingest"  # the platform, writing events
    READ = "read"  # people and scripts, reading and exporting


@dataclass(frozen=True)
class Organization:
    """An organization: one audit log."""

    id: int
    slug: str
    name: str
    created_at: datetime
    retention_days: int | None
    legal_hold: bool
    legal_hold_reason: str | None


USER_ACTOR_PREFIX = "auditledger-user:"


@dataclass(frozen=True)
class User:
    """A person who can sign in."""

    id: int
    username: str
    display_name: str
    created_at: datetime
    disabled_at: datetime | None

    @property
    def actor_id(self) -> str:
        """The person's one id in every event auditledger records about them or by them
        (sign-in, sign-out, exports, retention changes): namespaced, so an auditledger account
        never collides with a platform user id that happens to be the same string."""
        return f"{USER_ACTOR_PREFIX}{self.username}"

    def as_actor(self) -> Actor:
        """The person as the actor of auditledger's own events."""
        return Actor("user", self.actor_id, self.display_name)


@dataclass(frozen=True)
class Membership:
    """A user's role in an organization."""

    org_id: int
    user_id: int
    role: Role


@dataclass(frozen=True)
class Credential:
    """An API credential. Its secret is never stored, only a hash of it."""

    id: int
    public_id: str
    kind: CredentialKind
    name: str
    org_id: int | None  # None: a platform-wide ingest credential
    role: Role | None
    user_id: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def is_active(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class Principal:
    """Who is making a request, as far as access decisions go."""

    kind: str  # "ingest", "read" or "session"
    label: str  # for logs and for the audit log's own events
    org_id: int | None = None  # the credential's organization; None for platform-wide ingest
    role: Role | None = None
    user: User | None = None
    memberships: tuple[Membership, ...] = ()
    credential_id: str | None = None

    def role_in(self, org_id: int) -> Role | None:
        """The principal's reading role in ``org_id``, or None if it may not read there."""
        if self.kind == "read" and self.org_id == org_id:
            return self.role
        if self.kind == "session":
            for membership in self.memberships:
                if membership.org_id == org_id:
                    return membership.role
        return None

    def may_ingest(self, org_id: int) -> bool:
        """Whether this principal may write events for ``org_id``."""
        return self.kind == "ingest" and self.org_id in (None, org_id)

    def as_actor(self) -> Actor:
        """How this principal appears as the actor of auditledger's own events."""
        if self.user is not None:
            return self.user.as_actor()
        return Actor("system", f"credential:{self.credential_id}", self.label)

    def relates_to(self, org_id: int) -> bool:
        """Whether the principal has anything to do with ``org_id`` (else: it is a 404)."""
        return self.role_in(org_id) is not None or self.may_ingest(org_id)
