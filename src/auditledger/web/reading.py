"""What every reading route needs: the organization, the caller's role in it, the query string.

Another organization's log is a 404 with the same message as an organization that does not
exist (``org_for_reading``), so nobody learns which organizations exist by asking.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from fastapi import Request
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from auditledger.retention import policy
from auditledger.tenancy.model import Organization, Principal, Role
from auditledger.tenancy.service import org_for_reading
from auditledger.web.context import services
from auditledger_client.core.catalog import SEED, Catalog

T = TypeVar("T")


@dataclass(frozen=True)
class Reader:
    """An organization being read, and what the caller may see in it."""

    org: Organization
    role: Role
    retention_days: int | None = None
    # Events that occurred before this instant are past retention (purged, or about to be).
    purged_before: datetime | None = None
    # The deployment's catalog (seed and extensions): filters, choices and labels read it.
    catalog: Catalog = SEED

    @property
    def sees_sources(self) -> bool:
        """Sources (IP address, location) are for administrators only."""
        return self.role is Role.ADMIN


async def reader_for(request: Request, org_slug: str, principal: Principal) -> Reader:
    """The organization ``org_slug`` as ``principal`` may read it, or NotFound / Forbidden."""
    svc = services(request)
    organization = await run_in_threadpool(svc.tenancy.org, org_slug)
    role = org_for_reading(principal, organization)
    days = svc.retention.days(organization)
    return Reader(organization, role, days, policy.cutoff(svc.clock.now(), days), svc.catalog)


def query_items(request: Request, exclude: Collection[str] = ()) -> list[tuple[str, str]]:
    """The query string as (name, value) items, repeated names kept, ``exclude`` left out."""
    return [(k, v) for k, v in request.query_params.multi_items() if k not in exclude]


def single(request: Request, name: str) -> str | None:
    """The value of a parameter that may appear once (the last one wins), or None if blank."""
    values = [v for v in request.query_params.getlist(name) if v.strip()]
    return values[-1].strip() if values else None


async def in_snapshot(request: Request, work: Callable[[Connection], T]) -> T:
    """Run ``work`` on a read connection in a worker thread: one snapshot, off the event loop."""
    db = services(request).db

    def run() -> T:
        with db.read() as connection:
            return work(connection)

    return await run_in_threadpool(run)


async def record_read(
    request: Request, reader: Reader, principal: Principal, route: str, filters: str
) -> None:
    """Record a credential's read (coalesced per hour, see :mod:`auditledger.export.reads`)
    before its events are returned."""
    from auditledger.web.client import request_ip

    audit = request.app.state.read_audit
    await audit.record(reader.org, principal, route, filters, request_ip(request))
