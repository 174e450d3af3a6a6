"""The asyncio client: the same core, awaited."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2 as httpx
import pytest

from auditledger.services import Services
from auditledger_client import AsyncAuditClient, CustomEvent, EventRejected, InvalidEvent, Ref
from auditledger_client.backoff import Backoff
from auditledger_client.core.clock import FrozenClock
from auditledger_client.events import ModelVersionTagChange, UserLogin
from tests.support.client import ADA, CHURN, stored_ids
from tests.support.helpers import OrgAccess

pytestmark = pytest.mark.timeout(60)


def test_async_client_records_waits_and_flushes(
    service: httpx.BaseTransport,
    services: Services,
    acme: OrgAccess,
    frozen: FrozenClock,
    tmp_path: Path,
) -> None:
    async def main() -> list[object]:
        async with AsyncAuditClient(
            "http://auditledger.test",
            acme.ingest,
            org="acme",
            spool_path=tmp_path / "spool.db",
            transport=service,
            clock=frozen,
            backoff=Backoff(base=0.01, cap=0.05),
        ) as client:
            queued = await client.record(
                ModelVersionTagChange(old_tags=["a"], new_tags=("a", "prod")),
                subject=Ref("mv-3", "v3", parent=CHURN),
                actor=ADA,
            )
            assert queued.status == "queued"
            confirmed = await client.record(
                UserLogin(), subject=Ref("u-ada", "Ada"), actor=ADA, wait=True
            )
            assert confirmed.status == "created"
            with pytest.raises(InvalidEvent):
                await client.record(CustomEvent("model", "rename"), subject=CHURN, actor=ADA)
            with pytest.raises(EventRejected):
                await client.record_event(
                    {
                        "category": "datum",
                        "type": "download",
                        "subject": {"id": "d-1"},
                        "actor": {"id": "u-1", "name": "Ada"},
                        "timestamp": "2020-01-01T00:00:00Z",
                    },
                    wait=True,
                )
            await client.flush(10)
            assert [d.status for d in client.dead_letters()] == [422]
            return [queued.id, confirmed.id]

    ids = asyncio.run(main())
    assert stored_ids(services, acme) == ids
    tags = services.log.events(acme.org.id, "acme", 0, 1)[0].properties
    assert tags == {"old_tags": ["a"], "new_tags": ["a", "prod"]}
