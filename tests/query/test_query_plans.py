"""Every view query is an index range scan in the view's order: no full scan, no sort of the
organization's events, on SQLite and PostgreSQL.

The plans come from the statement ``page()`` really sends (``tests/query/plans.py``). A few
thousand events make PostgreSQL's daily partitions tiny, so its planner would rightly read them
sequentially; the test turns sequential and bitmap scans off to ask the question that matters
at scale: is there an index that yields the rows in order? ``docs/query-plans.md`` shows the
plans the planners choose by themselves on a million events.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event

from auditledger.query.search import directory_entries
from auditledger.store.database import Database
from auditledger.tenancy.repository import TenancyRepository
from tests.support.plans import Plan, capturing, index_names, plan_cases
from tests.support.plans import explain as explain_statement

# The index each filter should be read through; None: any index with an equality prefix.
EXPECTED = {
    "no filter": "ix_events_org_time",
    "date range": "ix_events_org_time",
    "project": "ix_events_project",
    "model": "ix_events_model",
    "model version (model view tab)": "ix_events_subject",
    # On a small log PostgreSQL may read a type through the category index (an ordered scan
    # too, filtering the type); either is fine, a walk of the whole organization is not.
    "type": None,
    "actor": "ix_events_actor",
    "all together": None,
    "category": "ix_events_category",
    "category, rare (audit_log)": "ix_events_category",
}
CASES = list(EXPECTED)
WANTED = EXPECTED


@pytest.fixture
def database_url(history_database_url: str) -> str:
    """acme (a month of history) and globex."""
    return history_database_url


def used_indexes(plan: Plan) -> set[str]:
    return {name for line in plan.lines for name in index_names(line)}


def _without_sequential_scans(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
    dbapi_connection.commit()


def explain(database_url: str, case: str) -> Plan:
    db = Database(database_url)
    try:
        if db.is_postgres:
            event.listen(db.engines.reader, "connect", _without_sequential_scans)

        (plan,) = plan_cases(db, "acme", only=case)
        return plan
    finally:
        db.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_each_view_query_is_an_ordered_index_scan(database_url: str, case: str) -> None:
    plan = explain(database_url, case)
    text = "\n".join(plan.lines)
    used = used_indexes(plan)
    assert used, text
    # No full scan of the table (SQLite "SCAN events", PostgreSQL "Seq Scan on events_p...").
    assert not re.search(r"^\s*SCAN events\b", text, re.MULTILINE), text
    assert "Seq Scan" not in text, text
    # No sort of the matches: the index delivers them newest first, and LIMIT stops early.
    assert "TEMP B-TREE" not in text, text
    assert not re.search(r"->\s+(Incremental )?Sort\b|^\s*Sort\b", text, re.MULTILINE), text
    wanted = WANTED[case]
    if wanted is not None:
        assert used == {wanted}, text
    else:
        assert "ix_events_org_time" not in used, text


@pytest.mark.slow
def test_one_models_versions_are_read_through_the_directory_index(database_url: str) -> None:
    # The filter form lists the chosen model's versions on every view: a large registry has
    # tens of thousands of versions across its models, and reading them all to keep one
    # model's cost a view more than the form's other queries together.
    db = Database(database_url)
    try:
        if db.is_postgres:
            event.listen(db.engines.reader, "connect", _without_sequential_scans)
        org = TenancyRepository(db).org_by_slug("acme")
        with db.read() as connection:
            (model, *_) = directory_entries(connection, org.id, "model")
        with capturing(db) as seen, db.read() as connection:
            versions = directory_entries(connection, org.id, "model_version", parent_id=model.id)
        (statement, parameters) = seen[-1]
        with db.read() as connection:
            lines = explain_statement(db, connection, statement, parameters)
    finally:
        db.dispose()
    assert versions, "the history has versions of its models"
    text = "\n".join(lines)
    assert {name for line in lines for name in index_names(line)} == {"ix_directory_parent"}, text
