"""Signing in and out of the audit log, recorded in the audit log itself.

Every sign-in, sign-out and refused sign-in becomes an ``audit_log`` event in each organization
the account belongs to. A refusal for a username nobody has concerns no organization, so it only
goes to the service log. A sign-in is complete only once its event is committed: if the event
cannot be recorded, the session is withdrawn and the sign-in fails, so nobody reads the log
unaudited.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass

from auditledger.auth.throttle import Refusal, SignInThrottle, TooManyAttempts
from auditledger.core.errors import Unauthenticated
from auditledger.ingest.service import IngestService
from auditledger.tenancy.model import Organization, User
from auditledger.tenancy.service import NewSession, TenancyService
from auditledger_client.core.event import Actor, PropertyValue, Subject

log = logging.getLogger("auditledger.signin")

# Who refuses a sign-in: the person trying is, by definition, not known to be who they claim.
SIGN_IN_GUARD = Actor("system", "auditledger", "auditledger sign-in")
MAX_USERNAME = 256


def address_key(source_ip: str | None) -> str:
    """The throttle key of a client address: IPv4 by address, IPv6 by /64, the block one
    subscriber gets (counting single IPv6 addresses would give an attacker 2**64 of them)."""
    try:
        address = ipaddress.ip_address(source_ip or "")
    except ValueError:
        return f"ip:{source_ip or 'unknown'}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.ip_network((address, 64), strict=False)}"
    return f"ip:{address}"


class NotAMember(Unauthenticated):
    """The password was right but the account belongs to no organization."""


@dataclass(frozen=True)
class Account:
    """A known account and the organizations it belongs to."""

    user: User
    orgs: list[Organization]

    @property
    def actor(self) -> Actor:
        """The account as the actor of its own sign-in and sign-out."""
        return self.user.as_actor()

    @property
    def subject(self) -> Subject:
        """The account as the subject of events about it."""
        return Subject("user", self.user.actor_id, self.user.display_name)


class SignInService:
    """Sign-in with throttling, and the events that record it."""

    def __init__(
        self, tenancy: TenancyService, ingest: IngestService, throttle: SignInThrottle
    ) -> None:
        self.tenancy = tenancy
        self.ingest = ingest
        self.throttle = throttle

    def _account(self, username: str) -> Account | None:
        found = self.tenancy.repo.user_by_username(username)
        if found is None:
            return None
        user = found[0]
        orgs = [
            self.tenancy.repo.org_by_id(m.org_id) for m in self.tenancy.repo.memberships_of(user.id)
        ]
        return Account(user, orgs)

    async def _record(
        self,
        account: Account,
        type_: str,
        properties: dict[str, PropertyValue],
        actor: Actor,
        source_ip: str | None,
    ) -> None:
        received_at = self.ingest.clock.now()
        for org in account.orgs:
            draft = self.ingest.own_event(
                type_,
                subject=account.subject,
                properties=properties,
                actor=actor,
                source_ip=source_ip,
            )
            await self.ingest.ingest(org, [draft], received_at)

    async def _refuse(
        self,
        username: str,
        account: Account | None,
        reason: str,
        source_ip: str | None,
        refusal: Refusal | None = None,
    ) -> None:
        log.warning(
            "sign-in refused",
            extra={"username": username[:MAX_USERNAME], "reason": reason, "ip": source_ip},
        )
        if account is None or (refusal is not None and not refusal.record):
            # While throttled, one event per key and window: a flood of refused attempts must
            # not flood the log. The next recorded refusal carries how many were left out.
            return
        properties: dict[str, PropertyValue] = {
            "username": username[:MAX_USERNAME],
            "reason": reason,
        }
        if refusal is not None:
            properties.update(
                limit=refusal.limit,
                failures=refusal.failures,
                retry_after=refusal.retry_after,
                unrecorded=refusal.unreported,
            )
        await self._record(account, "sign_in_failure", properties, SIGN_IN_GUARD, source_ip)

    async def sign_in(self, username: str, password: str, source_ip: str | None) -> NewSession:
        """A new session, or :class:`Unauthenticated` / :class:`TooManyAttempts`; each outcome
        is recorded in the account's organizations."""
        username = username.strip()
        name, address = username[:MAX_USERNAME], address_key(source_ip)
        account = await asyncio.to_thread(self._account, username)
        refusal = await asyncio.to_thread(self.throttle.check, name, address)
        if refusal is not None:
            await self._refuse(username, account, "rate_limited", source_ip, refusal)
            wait = refusal.retry_after
            when = (
                f"about {max(1, round(wait / 60))} minute(s)" if wait >= 90 else f"{wait} seconds"
            )
            raise TooManyAttempts(
                f"too many failed sign-ins; try again in {when}", retry_after=wait
            )
        try:
            session = await asyncio.to_thread(self.tenancy.sign_in, username, password)
        except Unauthenticated:
            await asyncio.to_thread(self.throttle.fail, name, address)
            await self._refuse(username, account, "bad_credentials", source_ip)
            raise
        if account is None or not account.orgs:
            await asyncio.to_thread(self.tenancy.sign_out, session.token)
            await self._refuse(username, None, "not_a_member", source_ip)
            raise NotAMember("this account is not a member of any organization")
        try:
            await self._record(account, "sign_in", {"method": "password"}, account.actor, source_ip)
        except BaseException:
            await asyncio.to_thread(self.tenancy.sign_out, session.token)
            raise
        await asyncio.to_thread(self.throttle.succeeded, name, address)
        return session

    async def sign_out(self, user: User, token: str, source_ip: str | None) -> None:
        """End the session and record it."""
        await asyncio.to_thread(self.tenancy.sign_out, token)
        account = await asyncio.to_thread(self._account, user.username)
        if account is not None:
            await self._record(account, "sign_out", {}, account.actor, source_ip)
