"""The demo organization is realistic: every type occurs, spread over 200 days, from several
countries, and the printed accounts can sign in."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditledger.demo.generate import generate
from auditledger.demo.load import DEMO_DAYS, ensure_demo
from auditledger.services import Services
from auditledger_client.core.validate import parse_event
from tests.support.helpers import all_platform_types

START = datetime(2026, 5, 9, tzinfo=UTC)


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("scale", [1.0, 0.25, 2.0])
def test_the_demo_tells_a_coherent_story(scale: float) -> None:
    events = [e for day in generate(START, DEMO_DAYS, per_day_scale=scale) for e in day]
    created: set[str] = set()
    ended: set[str] = set()  # deleted or archived: nothing may happen to it afterwards
    names: dict[str, str] = {}  # subject id -> its name now
    earlier: dict[str, set[str]] = {}
    for event in events:
        subject, kind = event["subject"], (event["category"], event["type"])
        sid = subject["id"]
        for ref in (subject, subject.get("parent"), event.get("project"), event["actor"]):
            if ref:
                assert "~" not in (ref.get("name") or ""), event
                assert ref["id"] not in ended, f"{kind} on {ref['id']} after it ended"
        parent = subject.get("parent")
        if parent is not None:
            # A version belongs to its model and names it by its name at that moment.
            assert sid.startswith(parent["id"]) or event["category"] == "dataset_version"
            assert names.get(parent["id"], parent["name"]) == parent["name"], event
        if sid in names and kind != ("user", "user_name_change"):
            assert subject["name"] == names[sid], f"{kind} calls {sid} by an old name"
        if event["type"] == "create" and event["category"] in ("model", "dataset"):
            assert sid not in created, f"{sid} created twice"
            created.add(sid)
        elif event["category"] in ("model", "dataset"):
            assert sid in created, f"{kind} on {sid} before it was created"
        if event["type"] in ("rename", "user_name_change"):
            old, new = event["properties"]["old_name"], event["properties"]["new_name"]
            assert old == subject["name"]
            assert new != old
            assert new not in earlier.get(sid, set()), f"{sid} renamed back to {new}"
            earlier.setdefault(sid, set()).add(old)
            names[sid] = new
        elif event["category"] in ("model", "dataset", "pipeline", "task", "execution"):
            names.setdefault(sid, subject["name"])
        if kind in (("model", "archive"), ("dataset", "delete")) or (
            event["type"] == "delete" and event["category"] in ("pipeline", "task", "datum")
        ):
            ended.add(sid)
        if event["category"] == "execution" and event["type"] == "delete":
            ended.add(sid)
    assert sum(1 for e in events if (e["category"], e["type"]) == ("model", "rename")) >= 3
    approvals = [e["subject"]["id"] for e in events if e["type"] in ("approve", "reject")]
    assert len(approvals) == len(set(approvals)), "a version was decided twice"


@pytest.mark.slow
@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_demo_credentials_stay_the_same_across_restarts_of_the_same_data(
    services: Services, tmp_path: Path
) -> None:
    class Quiet:
        def print(self, *objects: object) -> None:
            pass

    stored = tmp_path / "demo-credentials.json"
    first = ensure_demo(services, Quiet(), credentials_file=stored)
    assert stored.stat().st_mode & 0o077 == 0  # the owner's alone
    again = ensure_demo(services, Quiet(), credentials_file=stored)
    assert again.accounts == first.accounts
    assert again.ingest_token == first.ingest_token
    assert services.tenancy.authenticate_token(first.ingest_token).kind == "ingest"
    username, password, _ = first.accounts[0]
    assert services.tenancy.sign_in(username, password).user.username == username
    assert any("export TOKEN=" + first.ingest_token in line for line in again.lines())
    # A token that no longer works (revoked by hand) is replaced, and the file follows.
    services.tenancy.revoke_credential(
        next(c.public_id for c in services.tenancy.repo.list_credentials() if c.revoked_at is None)
    )
    replaced = ensure_demo(services, Quiet(), credentials_file=stored)
    assert replaced.ingest_token != first.ingest_token
    assert json.loads(stored.read_text())["ingest_token"] == replaced.ingest_token
