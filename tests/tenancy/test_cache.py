"""Credential and organization lookups are cached briefly, and changes still take effect."""

from __future__ import annotations

from datetime import timedelta

import pytest

from auditledger.core.errors import Unauthenticated
from auditledger.services import Services
from auditledger.tenancy.cache import TTLCache
from auditledger.tenancy.model import CredentialKind
from auditledger.tenancy.repository import TenancyRepository
from auditledger.tenancy.service import TenancyService


def test_entries_expire_and_evict() -> None:
    now = [100.0]
    cache: TTLCache[str, int] = TTLCache(5, max_entries=2, now=lambda: now[0])
    cache.put("a", 1)
    now[0] += 4.9
    assert cache.get("a") == 1
    now[0] += 0.2
    assert cache.get("a") is None
    for key, value in (("x", 1), ("y", 2), ("z", 3)):
        cache.put(key, value)
    assert cache.get("x") is None
    assert (cache.get("y"), cache.get("z")) == (2, 3)
    assert TTLCache[str, int](0).get("anything") is None


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_a_revocation_elsewhere_is_seen_within_the_cache_time(services: Services) -> None:
    org = services.tenancy.create_org("acme", "Acme")
    issued = services.tenancy.issue_credential(CredentialKind.INGEST, "p", org=org)
    now = [0.0]
    # Another process: its own service and cache over the same database.
    other = TenancyService(TenancyRepository(services.db), services.clock, timedelta(hours=1))
    other._credentials = TTLCache(5, now=lambda: now[0])
    assert other.authenticate_token(issued.token).kind == "ingest"
    services.tenancy.revoke_credential(issued.credential.public_id)
    with pytest.raises(Unauthenticated):
        services.tenancy.authenticate_token(issued.token)  # at once where it was revoked
    assert other.authenticate_token(issued.token).kind == "ingest"  # still cached there
    now[0] += 6
    with pytest.raises(Unauthenticated):
        other.authenticate_token(issued.token)


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_expiry_is_checked_on_every_use(services: Services, clock: object) -> None:
    org = services.tenancy.create_org("acme", "Acme")
    issued = services.tenancy.issue_credential(
        CredentialKind.INGEST, "p", org=org, expires_in=timedelta(hours=1)
    )
    assert services.tenancy.authenticate_token(issued.token).kind == "ingest"
    services.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    with pytest.raises(Unauthenticated, match="expired"):
        services.tenancy.authenticate_token(issued.token)
