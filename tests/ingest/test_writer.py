"""The group-commit writer: one request that the database refuses does not sink the others."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import text

from auditledger.core.errors import Unavailable
from auditledger.ingest.writer import GroupCommitWriter
from auditledger.ops.metrics import Metrics
from auditledger.services import Services
from auditledger.store.log import AppendRequest, AppendResult, EventLog, Receipt
from auditledger_client.core.validate import parse_event
from tests.support.databases import NOW
from tests.support.helpers import make_org, sample_event

WAIT_SECONDS = 120  # a bound that holds on a loaded machine; a quiet one takes milliseconds


class GatedLog:
    """The real log, with the first append held until the test opens the gate, so that the
    requests submitted meanwhile reach the database as one group."""

    def __init__(self, inner: EventLog) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.holding = threading.Event()
        self.group_sizes: list[int] = []

    def append(self, requests: Sequence[AppendRequest]) -> list[AppendResult]:
        self.group_sizes.append(len(requests))
        if len(self.group_sizes) == 1:
            self.holding.set()
            assert self.gate.wait(WAIT_SECONDS)
        return self.inner.append(requests)


def refuse_appends_of(services: Services, org_id: int) -> None:
    """Make the database itself refuse every append for one organization (a trigger on its
    log head), as a constraint the service did not foresee would."""
    with services.db.write() as connection:
        if services.db.is_postgres:
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_append() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_append BEFORE UPDATE ON log_heads FOR EACH ROW "
                    f"WHEN (OLD.org_id = {org_id}) EXECUTE FUNCTION refuse_append()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_append BEFORE UPDATE ON log_heads "
                    f"WHEN OLD.org_id = {org_id} BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )


def request_for(services: Services, org_id: int, slug: str) -> AppendRequest:
    draft = parse_event(sample_event(), received_at=NOW)
    org = services.tenancy.org(slug)
    prepared = services.ingest.prepare(org, [draft], NOW)
    return AppendRequest(org_id, slug, prepared.events, NOW)


def test_a_refused_request_in_a_group_is_retried_alone_and_the_rest_commit(
    services: Services,
) -> None:
    acme = make_org(services, "acme").org
    refusing = make_org(services, "refusing").org
    refuse_appends_of(services, refusing.id)
    gated = GatedLog(services.log)
    writer = GroupCommitWriter(gated, Metrics())  # type: ignore[arg-type]
    writer.start()
    try:
        first = writer.submit(request_for(services, acme.id, acme.slug))
        assert gated.holding.wait(WAIT_SECONDS)
        good_before = writer.submit(request_for(services, acme.id, acme.slug))
        refused = writer.submit(request_for(services, refusing.id, refusing.slug))
        good_after = writer.submit(request_for(services, acme.id, acme.slug))
        gated.gate.set()

        def receipt(future: Future[AppendResult]) -> Receipt:
            result = future.result(WAIT_SECONDS)
            assert isinstance(result, list)
            assert len(result) == 1
            assert isinstance(result[0], Receipt)
            return result[0]

        stored = [receipt(f) for f in (first, good_before, good_after)]
        with pytest.raises(Unavailable, match="nothing was stored"):
            refused.result(WAIT_SECONDS)
    finally:
        writer.stop()
    # The three queued requests went to the database together, failed together, then went
    # one by one: the group, then each of them alone.
    assert gated.group_sizes == [1, 3, 1, 1, 1]
    assert [r.seq for r in stored] == [0, 1, 2]
    assert services.log.head(acme.id).tree_size == 3
    assert services.log.head(refusing.id).tree_size == 0


def test_the_coroutines_of_one_commit_are_woken_together(services: Services) -> None:
    acme = make_org(services, "acme").org
    gated = GatedLog(services.log)
    writer = GroupCommitWriter(gated, Metrics())  # type: ignore[arg-type]
    wake_ups: list[int] = []

    async def main() -> list[AppendResult]:
        loop = asyncio.get_running_loop()
        real = loop.call_soon_threadsafe

        def counting(callback: Any, *args: Any, **kwargs: Any) -> Any:
            if getattr(callback, "__name__", "") == "_settle_waiters":
                wake_ups.append(len(args[0]))
            return real(callback, *args, **kwargs)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        first = writer.submit_waiter(request_for(services, acme.id, acme.slug))
        assert await asyncio.to_thread(gated.holding.wait, WAIT_SECONDS)
        rest = [writer.submit_waiter(request_for(services, acme.id, acme.slug)) for _ in range(3)]
        gated.gate.set()
        return list(await asyncio.wait_for(asyncio.gather(first, *rest), WAIT_SECONDS))

    writer.start()
    try:
        results = asyncio.run(main())
    finally:
        writer.stop()
    assert gated.group_sizes == [1, 3]
    # One wake-up of the loop per commit, carrying every request of it (one per request before).
    assert wake_ups == [1, 3]
    seqs = [r.seq for result in results for r in result if isinstance(result, list)]
    assert seqs == [0, 1, 2, 3]
