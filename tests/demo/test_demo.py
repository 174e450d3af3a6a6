"""The demo organization is realistic: every type occurs, spread over 200 days, from several
countries, and the printed accounts can sign in."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from auditledger.demo.generate import generate
from auditledger.demo.load import DEMO_DAYS, ensure_demo
from auditledger.ingest.validate import parse_event
from auditledger.services import Services
from tests.support.helpers import all_platform_types

START = datetime(2026, 5, 9, tzinfo=UTC)


def test_generated_history_covers_the_catalog() -> None:
    days = list(generate(START, DEMO_DAYS))
    events = [e for day in days for e in day]
    assert len(events) > 5_000
    kinds = Counter((e["category"], e["type"]) for e in events)
    assert set(kinds) == set(all_platform_types())
    for day_events in days:
        assert [e["timestamp"] for e in day_events] == sorted(e["timestamp"] for e in day_events)
    ips = {e["source"]["ip"].rsplit(".", 1)[0] for e in events if "source" in e}
    assert len(ips) >= 6
    assert any(e["actor"]["type"] == "system" for e in events)
    for event in events[:2000]:
        parse_event(event, received_at=START + timedelta(days=DEMO_DAYS + 1))


def test_generation_is_deterministic() -> None:
    first = [e["id"] for day in generate(START, 3, seed=7) for e in day]
    second = [e["id"] for day in generate(START, 3, seed=7) for e in day]
    assert first == second


@pytest.mark.slow
@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_demo_loads_and_prints_working_accounts(services: Services) -> None:
    lines: list[str] = []

    class Capture:
        def print(self, *objects: object) -> None:
            lines.append(" ".join(str(o) for o in objects))

    access = ensure_demo(services, Capture())
    northwind = services.tenancy.org("northwind")
    globex = services.tenancy.org("globex")
    assert services.log.head(northwind.id).tree_size > 5_000
    assert 0 < services.log.head(globex.id).tree_size < services.log.head(northwind.id).tree_size
    for username, password, _ in access.accounts:
        assert services.tenancy.sign_in(username, password).user.username == username
    assert services.tenancy.authenticate_token(access.ingest_token).kind == "ingest"
    # Starting again keeps the data and hands out fresh passwords and a fresh token.
    size = services.log.head(northwind.id).tree_size
    again = ensure_demo(services, Capture())
    assert services.log.head(northwind.id).tree_size == size
    assert again.accounts[0][1] != access.accounts[0][1]
    assert services.tenancy.authenticate_token(again.ingest_token).kind == "ingest"
    with pytest.raises(Exception, match="revoked"):
        services.tenancy.authenticate_token(access.ingest_token)
