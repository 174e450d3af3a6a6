"""Members never see a source anywhere: not in the API, the pages, the CSV or the JSON Lines.

Every reading route of the access matrix that a member may open is fetched as the member (by
bearer token and by session for the API, by session for pages), and none of the answers holds
an address any of acme's events came from, nor a located city. Administrators, on the routes
that show events, do see them, so the check cannot pass by accident of the data.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from tests.support.access import ROWS, Caller, Row
from tests.support.world import (
    SOURCE_IPS,
    SOURCE_MARKERS,
    World,
    addresses_in,
)

pytestmark = pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)

# The routes that show events, where an administrator must see the sources.
SHOWS_EVENTS = {
    "/api/v1/orgs/{org}/events",
    "/api/v1/orgs/{org}/events/{event_id}",
    "/api/v1/orgs/{org}/models/{model_id}/events",
    "/api/v1/orgs/{org}/export.csv",
    "/api/v1/orgs/{org}/export.jsonl",
    "/orgs/{org}/audit-log",
    "/orgs/{org}/projects/{project_id}",
    "/orgs/{org}/models/{model_id}",
}


def reading_rows() -> list[Row]:
    """The GET rows of an organization that a member may open: every reading route."""
    return [
        row
        for row in ROWS
        if row.method == "GET" and "{org}" in row.route and row.expect["member"] == 200
    ]


def source_keys(value: Any) -> int:
    """How many ``source`` keys a JSON document holds, at any depth."""
    if isinstance(value, dict):
        return ("source" in value) + sum(source_keys(v) for v in value.values())
    if isinstance(value, list):
        return sum(source_keys(v) for v in value)
    return 0


def leaks(text: str, content_type: str, addresses: set[str]) -> list[str]:
    """What of a source a member's response shows."""
    found = [marker for marker in SOURCE_MARKERS if marker in text]
    shown = sorted(addresses_in(text) & addresses)
    if shown:
        found.append(f"{len(shown)} source addresses ({shown[0]}, ...)")
    if content_type.startswith("application/json"):
        if source_keys(json.loads(text)):
            found.append("a source key")
    elif content_type.startswith("application/x-ndjson"):
        if any(source_keys(json.loads(line)) for line in text.splitlines()):
            found.append("a source key")
    elif content_type.startswith("text/csv"):
        header = next(csv.reader(io.StringIO(text)))
        found += [column for column in header if column.lower().startswith("source")]
    return found


@pytest.mark.slow
def test_members_never_see_a_source_and_admins_do(caller: Caller, world: World) -> None:
    addresses = world.source_ips
    assert set(SOURCE_IPS) <= addresses
    rows = reading_rows()
    assert {row.route for row in rows} >= SHOWS_EVENTS
    problems: list[str] = []
    for row in rows:
        ways = [False, True] if row.api else [True]
        for via_session in ways:
            label = f"{row.route}" + (" (session)" * via_session)
            member = caller.send(row, "member", via_session=via_session)
            assert member.status_code == 200, label
            content_type = member.headers.get("content-type", "")
            problems += [
                f"member sees {x} in {label}" for x in leaks(member.text, content_type, addresses)
            ]
            if row.route in SHOWS_EVENTS:
                admin = caller.send(row, "admin", via_session=via_session)
                shown = [m for m in (SOURCE_IPS[0], "Espoo") if m in admin.text]
                if len(shown) < 2 and not row.route.endswith("export.csv"):
                    problems.append(f"admin does not see the source in {label}")
                if SOURCE_IPS[0] not in admin.text:
                    problems.append(f"admin does not see the address in {label}")
    assert problems == [], "\n".join(problems)
