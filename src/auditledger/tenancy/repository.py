"""SQL for organizations, users, memberships, credentials and sessions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from auditledger.core.errors import Conflict, InvalidInput, NotFound, Problem
from auditledger.core.merkle import EMPTY_ROOT
from auditledger.store.database import Database
from auditledger.store.schema import (
    credentials,
    log_heads,
    memberships,
    organizations,
    sessions,
    users,
)
from auditledger.tenancy.model import (
    Credential,
    CredentialKind,
    Membership,
    Organization,
    Role,
    User,
)

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,256}$")


def _org(row: Any) -> Organization:
    return Organization(
        id=row.id,
        slug=row.slug,
        name=row.name,
        created_at=row.created_at,
        retention_days=row.retention_days,
        legal_hold=bool(row.legal_hold),
        legal_hold_reason=row.legal_hold_reason,
    )


def _user(row: Any) -> User:
    return User(row.id, row.username, row.display_name, row.created_at, row.disabled_at)


def _credential(row: Any) -> Credential:
    return Credential(
        id=row.id,
        public_id=row.public_id,
        kind=CredentialKind(row.kind),
        name=row.name,
        org_id=row.org_id,
        role=Role(row.role) if row.role else None,
        user_id=row.user_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


# How stale a session's last use may be before it is noted again (bounds the writes).
SESSION_TOUCH = timedelta(minutes=1)


class TenancyRepository:
    """Reads and writes tenancy records."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- organizations -------------------------------------------------------------------------

    def create_org(self, slug: str, name: str, now: datetime) -> Organization:
        """A new organization with an empty log. The slug is permanent: it names the log."""
        if not SLUG.match(slug):
            raise InvalidInput(
                "invalid organization slug",
                [
                    Problem(
                        "slug",
                        "use 1-64 lowercase letters, digits and hyphens, "
                        "starting and ending with a letter or digit",
                    )
                ],
            )
        try:
            with self.db.write() as connection:
                org_id = connection.execute(
                    insert(organizations)
                    .values(slug=slug, name=name, created_at=now, legal_hold=False)
                    .returning(organizations.c.id)
                ).scalar_one()
                connection.execute(
                    insert(log_heads).values(org_id=org_id, tree_size=0, root_hash=EMPTY_ROOT)
                )
        except IntegrityError:
            raise Conflict(f"an organization with slug {slug!r} already exists") from None
        return self.org_by_id(org_id)

    def org_by_slug(self, slug: str) -> Organization:
        """The organization, or :class:`NotFound`."""
        with self.db.read() as connection:
            row = connection.execute(
                select(organizations).where(organizations.c.slug == slug)
            ).first()
        if row is None:
            raise NotFound(f"no organization {slug!r}")
        return _org(row)

    def org_by_id(self, org_id: int) -> Organization:
        """The organization, or :class:`NotFound`."""
        with self.db.read() as connection:
            row = connection.execute(
                select(organizations).where(organizations.c.id == org_id)
            ).first()
        if row is None:
            raise NotFound(f"no organization {org_id}")
        return _org(row)

    def list_orgs(self) -> list[Organization]:
        """Every organization, by slug."""
        with self.db.read() as connection:
            rows = connection.execute(select(organizations).order_by(organizations.c.slug))
            return [_org(r) for r in rows]

    def set_retention(self, org_id: int, days: int | None) -> None:
        """Set (or, with None, reset to the deployment default) an organization's retention."""
        with self.db.write() as connection:
            connection.execute(
                update(organizations)
                .where(organizations.c.id == org_id)
                .values(retention_days=days)
            )

    def set_legal_hold(self, org_id: int, hold: bool, reason: str | None) -> None:
        """Place or release a legal hold."""
        with self.db.write() as connection:
            connection.execute(
                update(organizations)
                .where(organizations.c.id == org_id)
                .values(legal_hold=hold, legal_hold_reason=reason if hold else None)
            )

    # -- users and memberships -----------------------------------------------------------------

    def create_user(
        self, username: str, display_name: str, password_hash: str | None, now: datetime
    ) -> User:
        """A new user."""
        if not USERNAME.match(username):
            raise InvalidInput(
                "invalid username",
                [Problem("username", "use 1-256 letters, digits and . _ @ + -")],
            )
        try:
            with self.db.write() as connection:
                user_id = connection.execute(
                    insert(users)
                    .values(
                        username=username,
                        display_name=display_name,
                        password_hash=password_hash,
                        created_at=now,
                    )
                    .returning(users.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict(f"a user named {username!r} already exists") from None
        return self.user_by_id(user_id)

    def user_by_id(self, user_id: int) -> User:
        """The user, or :class:`NotFound`."""
        with self.db.read() as connection:
            row = connection.execute(select(users).where(users.c.id == user_id)).first()
        if row is None:
            raise NotFound(f"no user {user_id}")
        return _user(row)

    def user_by_username(self, username: str) -> tuple[User, str | None] | None:
        """The user and their password hash, or None."""
        with self.db.read() as connection:
            row = connection.execute(select(users).where(users.c.username == username)).first()
        return (_user(row), row.password_hash) if row is not None else None

    def set_password(self, user_id: int, password_hash: str) -> None:
        """Replace a user's password hash."""
        with self.db.write() as connection:
            connection.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )

    def list_users(self, org_id: int | None = None) -> list[tuple[User, Role | None]]:
        """Users (of one organization, with their role there, when ``org_id`` is given)."""
        with self.db.read() as connection:
            if org_id is None:
                rows = connection.execute(select(users).order_by(users.c.username))
                return [(_user(r), None) for r in rows]
            rows = connection.execute(
                select(users, memberships.c.role)
                .join(memberships, memberships.c.user_id == users.c.id)
                .where(memberships.c.org_id == org_id)
                .order_by(users.c.username)
            )
            return [(_user(r), Role(r.role)) for r in rows]

    def set_membership(self, org_id: int, user_id: int, role: Role) -> None:
        """Make the user a member or admin of the organization (replacing any earlier role)."""
        with self.db.write() as connection:
            connection.execute(
                delete(memberships).where(
                    memberships.c.org_id == org_id, memberships.c.user_id == user_id
                )
            )
            connection.execute(
                insert(memberships).values(org_id=org_id, user_id=user_id, role=role.value)
            )

    def remove_membership(self, org_id: int, user_id: int) -> bool:
        """Remove the user from the organization; False if they were not in it."""
        with self.db.write() as connection:
            result = connection.execute(
                delete(memberships).where(
                    memberships.c.org_id == org_id, memberships.c.user_id == user_id
                )
            )
            return bool(result.rowcount)

    def memberships_of(self, user_id: int) -> tuple[Membership, ...]:
        """Every organization the user belongs to."""
        with self.db.read() as connection:
            rows = connection.execute(select(memberships).where(memberships.c.user_id == user_id))
            return tuple(Membership(r.org_id, r.user_id, Role(r.role)) for r in rows)

    # -- credentials ---------------------------------------------------------------------------

    def create_credential(
        self,
        *,
        public_id: str,
        secret_digest: bytes,
        kind: CredentialKind,
        name: str,
        org_id: int | None,
        role: Role | None,
        user_id: int | None,
        now: datetime,
        expires_at: datetime | None,
    ) -> Credential:
        """Store a credential's public id and secret digest."""
        with self.db.write() as connection:
            credential_id = connection.execute(
                insert(credentials)
                .values(
                    public_id=public_id,
                    kind=kind.value,
                    name=name,
                    org_id=org_id,
                    role=role.value if role else None,
                    user_id=user_id,
                    secret_hash=secret_digest,
                    created_at=now,
                    expires_at=expires_at,
                )
                .returning(credentials.c.id)
            ).scalar_one()
            row = connection.execute(
                select(credentials).where(credentials.c.id == credential_id)
            ).one()
        return _credential(row)

    def credential_by_public_id(self, public_id: str) -> tuple[Credential, bytes] | None:
        """The credential and its secret digest, or None."""
        with self.db.read() as connection:
            row = connection.execute(
                select(credentials).where(credentials.c.public_id == public_id)
            ).first()
        return (_credential(row), row.secret_hash) if row is not None else None

    def list_credentials(self, org_id: int | None = None) -> list[Credential]:
        """Credentials (of one organization when ``org_id`` is given), oldest first."""
        query = select(credentials).order_by(credentials.c.id)
        if org_id is not None:
            query = query.where(credentials.c.org_id == org_id)
        with self.db.read() as connection:
            return [_credential(r) for r in connection.execute(query)]

    def revoke_credential(self, public_id: str, now: datetime) -> bool:
        """Revoke a credential from ``now`` on; False if there is no such credential."""
        with self.db.write() as connection:
            result = connection.execute(
                update(credentials)
                .where(credentials.c.public_id == public_id, credentials.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return bool(result.rowcount)

    # -- sessions --------------------------------------------------------------------------------

    def create_session(
        self, token_hash: bytes, user_id: int, csrf_token: str, now: datetime, expires_at: datetime
    ) -> None:
        """Store a signed-in session."""
        with self.db.write() as connection:
            connection.execute(
                insert(sessions).values(
                    token_hash=token_hash,
                    user_id=user_id,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    def session(self, token_hash: bytes, now: datetime, idle: timedelta) -> tuple[int, str] | None:
        """(user id, CSRF token) of a live session, or None: past its absolute lifetime, or
        unused for ``idle``. A live session's last use is noted (at most once a minute, so a
        busy page does not write on every request)."""
        last_used = func.coalesce(sessions.c.last_seen_at, sessions.c.created_at)
        with self.db.read() as connection:
            row = connection.execute(
                select(sessions.c.user_id, sessions.c.csrf_token, last_used.label("used")).where(
                    sessions.c.token_hash == token_hash,
                    sessions.c.expires_at > now,
                    last_used > now - idle,
                )
            ).first()
        if row is None:
            return None
        if now - row.used >= SESSION_TOUCH:
            with self.db.write() as connection:
                connection.execute(
                    sessions.update()
                    .where(sessions.c.token_hash == token_hash)
                    .values(last_seen_at=now)
                )
        return row.user_id, row.csrf_token

    def delete_session(self, token_hash: bytes) -> None:
        """Sign out."""
        with self.db.write() as connection:
            connection.execute(delete(sessions).where(sessions.c.token_hash == token_hash))

    def delete_expired_sessions(self, now: datetime) -> int:
        """Housekeeping; returns how many went."""
        with self.db.write() as connection:
            return int(
                connection.execute(delete(sessions).where(sessions.c.expires_at <= now)).rowcount
            )
