"""Tenancy operations: what the CLI and the web layer call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from auditledger.core.errors import Forbidden, InvalidInput, NotFound, Problem, Unauthenticated
from auditledger.tenancy import tokens
from auditledger.tenancy.cache import TTLCache
from auditledger.tenancy.model import (
    Credential,
    CredentialKind,
    Organization,
    Principal,
    Role,
    User,
)
from auditledger.tenancy.passwords import check_password
from auditledger.tenancy.repository import TenancyRepository
from auditledger_client.core.clock import Clock


@dataclass(frozen=True)
class NewCredential:
    """A credential just issued, with its token (shown once, never stored)."""

    credential: Credential
    token: str


@dataclass(frozen=True)
class NewSession:
    """A signed-in session: the cookie value and the CSRF token its forms must carry."""

    token: str
    csrf_token: str
    user: User
    expires_at: datetime


class TenancyService:
    """Organizations, users, credentials and sign-in."""

    def __init__(
        self,
        repo: TenancyRepository,
        clock: Clock,
        session_ttl: timedelta,
        *,
        cache_seconds: float = 5.0,
        session_idle: timedelta = timedelta(minutes=30),
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.session_ttl = session_ttl
        self.session_idle = session_idle
        # Every API request authenticates and looks its organization up; a few seconds of
        # caching takes both queries off the hot path.
        self._credentials: TTLCache[str, Credential] = TTLCache(cache_seconds)
        self._orgs: TTLCache[str, Organization] = TTLCache(cache_seconds)

    def create_org(self, slug: str, name: str | None = None) -> Organization:
        """A new organization with an empty audit log."""
        return self.repo.create_org(slug, name or slug, self.clock.now())

    def org(self, slug: str) -> Organization:
        """The organization named by ``slug``, or :class:`NotFound` (cached a few seconds)."""
        cached = self._orgs.get(slug)
        if cached is not None:
            return cached
        org = self.repo.org_by_slug(slug)
        self._orgs.put(slug, org)
        return org

    def forget_cached(self) -> None:
        """Drop cached organizations and credentials (after a change in this process)."""
        self._orgs.clear()
        self._credentials.clear()

    def create_user(self, username: str, display_name: str | None, password: str | None) -> User:
        """A user who can sign in with ``password`` (or who cannot sign in, without one)."""
        if password is not None:
            check_password(password)
        password_hash = tokens.hash_password(password) if password is not None else None
        return self.repo.create_user(
            username, display_name or username, password_hash, self.clock.now()
        )

    def user(self, username: str) -> User:
        """The user, or :class:`NotFound`."""
        found = self.repo.user_by_username(username)
        if found is None:
            raise NotFound(f"no user {username!r}")
        return found[0]

    def add_member(self, org: Organization, user: User, role: Role) -> None:
        """Give ``user`` the ``role`` in ``org``."""
        self.repo.set_membership(org.id, user.id, role)

    def issue_credential(
        self,
        kind: CredentialKind,
        name: str,
        *,
        org: Organization | None,
        role: Role | None = None,
        user: User | None = None,
        expires_in: timedelta | None = None,
    ) -> NewCredential:
        """A new API credential. Ingest credentials without ``org`` may write for every org."""
        if kind is CredentialKind.READ and (org is None or role is None):
            raise InvalidInput(
                "a read credential needs an organization and a role",
                [Problem("role", "choose admin or member, and an organization")],
            )
        if kind is CredentialKind.INGEST and role is not None:
            raise InvalidInput(
                "ingest credentials have no role", [Problem("role", "only for read credentials")]
            )
        issued = tokens.issue_token(kind)
        now = self.clock.now()
        credential = self.repo.create_credential(
            public_id=issued.public_id,
            secret_digest=issued.secret_digest,
            kind=kind,
            name=name,
            org_id=org.id if org else None,
            role=role,
            user_id=user.id if user else None,
            now=now,
            expires_at=now + expires_in if expires_in else None,
        )
        return NewCredential(credential, issued.token)

    def revoke_credential(self, public_id: str) -> None:
        """Revoke a credential: at once in this process, within the cache time elsewhere."""
        if not self.repo.revoke_credential(public_id, self.clock.now()):
            raise NotFound(f"no active credential {public_id!r}")
        self._credentials.clear()

    def cached_principal(self, token: str) -> Principal | None:
        """The principal of a token checked recently, without touching the database (so the
        caller need not leave the event loop); None when it must be checked."""
        credential = self._credentials.get(token)
        return self._principal(credential) if credential is not None else None

    def cached_org(self, slug: str) -> Organization | None:
        """An organization looked up recently, without touching the database, or None."""
        return self._orgs.get(slug)

    def authenticate_token(self, token: str) -> Principal:
        """The principal a bearer token acts for, or :class:`Unauthenticated`."""
        credential = self._credentials.get(token)
        if credential is None:
            credential = self._check_token(token)
            self._credentials.put(token, credential)
        return self._principal(credential)

    def _principal(self, credential: Credential) -> Principal:
        if not credential.is_active(self.clock.now()):
            raise Unauthenticated("the credential has expired or been revoked")
        return Principal(
            kind=credential.kind.value,
            label=f"credential {credential.public_id} ({credential.name})",
            org_id=credential.org_id,
            role=credential.role,
            credential_id=credential.public_id,
        )

    def _check_token(self, token: str) -> Credential:
        parsed = tokens.parse_token(token)
        found = self.repo.credential_by_public_id(parsed.public_id) if parsed else None
        if parsed is None or found is None:
            # Do the same work as a real check so timing does not tell ids apart.
            tokens.same_digest(token, b"\x00" * 32)
            raise Unauthenticated("the credential is not valid")
        credential, stored = found
        if not tokens.same_digest(parsed.secret, stored) or parsed.kind != credential.kind.value:
            raise Unauthenticated("the credential is not valid")
        return credential

    def sign_in(self, username: str, password: str) -> NewSession:
        """Check a password and open a session, or raise :class:`Unauthenticated`."""
        found = self.repo.user_by_username(username)
        password_hash = found[1] if found else None
        valid = tokens.check_password(password, password_hash)
        if found is None or not valid or found[0].disabled_at is not None:
            raise Unauthenticated("unknown username or wrong password")
        user = found[0]
        token = tokens.new_session_token()
        csrf = tokens.new_csrf_token()
        now = self.clock.now()
        expires_at = now + self.session_ttl
        self.repo.create_session(tokens.digest(token), user.id, csrf, now, expires_at)
        return NewSession(token, csrf, user, expires_at)

    def session_principal(self, token: str) -> tuple[Principal, str] | None:
        """The principal of a session cookie and its CSRF token, or None if not signed in."""
        found = self.repo.session(tokens.digest(token), self.clock.now(), self.session_idle)
        if found is None:
            return None
        user_id, csrf = found
        user = self.repo.user_by_id(user_id)
        if user.disabled_at is not None:
            return None
        principal = Principal(
            kind="session",
            label=f"user {user.username}",
            user=user,
            memberships=self.repo.memberships_of(user.id),
        )
        return principal, csrf

    def sign_out(self, token: str) -> None:
        """End a session."""
        self.repo.delete_session(tokens.digest(token))


def org_for_reading(principal: Principal, org: Organization) -> Role:
    """The principal's role in ``org``: :class:`NotFound` if unrelated, :class:`Forbidden` if
    related only as a writer."""
    if not principal.relates_to(org.id):
        raise NotFound(f"no organization {org.slug!r}")
    role = principal.role_in(org.id)
    if role is None:
        raise Forbidden("this credential may only write events; use a read credential")
    return role


def org_for_ingest(principal: Principal, org: Organization) -> None:
    """Allow writing to ``org``, or raise :class:`NotFound` / :class:`Forbidden`."""
    if not principal.relates_to(org.id):
        raise NotFound(f"no organization {org.slug!r}")
    if not principal.may_ingest(org.id):
        raise Forbidden(
            "this credential may only read; events are written with an ingest credential"
        )
