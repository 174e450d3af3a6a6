"""The access-control matrix: every route of the application, called by every kind of caller,
has one expected outcome, and one table-driven test checks all of them.

The routes come from the application itself (``app.routes``), so a route added without a row
here fails :func:`test_every_route_has_a_row`. Callers:

* ``none``: no credential; ``bad``: an unknown token or session cookie;
* ``expired`` and ``revoked``: a credential that expired or was revoked (for pages: an expired
  session and one that signed out);
* ``ingest``: the organization's ingest credential; ``platform``: a platform-wide one;
* ``member`` and ``admin`` of acme; ``other_admin``: globex's administrator.

API rows are called with bearer tokens and, for people, with a signed-in session as well
(the API accepts both). Page rows use sessions opened through the sign-in form; a bearer token
on a page counts for nothing. Besides the status, every response must carry the security
headers and every cookie set must be HttpOnly and SameSite; another organization must look
exactly like a missing one.

Access decisions do not depend on the engine, so this runs on SQLite only.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.support.access import (
    PRINCIPALS,
    ROWS,
    Caller,
    app_routes,
    hygiene_problems,
    matches,
    same_as_missing,
    ways_to_call,
)

pytestmark = pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)


def test_every_route_has_a_row(caller: Caller) -> None:
    app = caller.client.app
    assert isinstance(app, FastAPI)
    declared = app_routes(app)
    rows = [row.key for row in ROWS]
    assert len(rows) == len(set(rows)), "a route has two rows"
    assert declared - set(rows) == set(), "routes without a row in the matrix"
    assert set(rows) - declared == set(), "rows for routes the application does not have"
    for row in ROWS:
        assert set(row.expect) == set(PRINCIPALS), f"{row.key} does not name every caller"


@pytest.mark.slow
def test_access_matrix(caller: Caller) -> None:
    """Every route x every caller: the expected status, security headers, and no leak of which
    organizations exist."""
    mismatches: list[str] = []
    calls = 0
    for row in ROWS:
        for principal, via_session in ways_to_call(row):
            response = caller.send(row, principal, via_session=via_session)
            calls += 1
            label = f"{row.method} {row.route} as {principal}" + (" (session)" * via_session)
            expected = row.expect[principal]
            if not matches(expected, response):
                got = f"{response.status_code} {response.headers.get('location', '')}".strip()
                mismatches.append(f"{label}: expected {expected}, got {got}")
            mismatches += [f"{label}: {p}" for p in hygiene_problems(response)]
            hidden = principal == "other_admin" and expected == 404
            if hidden and not same_as_missing(caller, row, principal, via_session, response):
                mismatches.append(f"{label}: the 404 differs from a missing organization's")
    assert mismatches == [], "\n".join(mismatches)
    assert calls > len(ROWS) * len(PRINCIPALS)
