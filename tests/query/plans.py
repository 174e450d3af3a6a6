"""Query plans of the view: the SQL ``page()`` really runs, explained by each engine.

Used by ``test_query_plans.py`` (a few thousand events, asserting that every view query is an
index range scan) and, as a script, to write ``docs/query-plans.md`` from a database holding a
million events::

    python -m tests.query.plans --org big \\
        --sqlite sqlite:////tmp/plans1m.db \\
        --postgres postgresql://postgres@127.0.0.1:5432/al_plans_1m \\
        --write docs/query-plans.md

The statement is captured from the driver as ``page()`` executes it, so the plan shown is the
plan of the code, not of a hand-written copy of its SQL.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, func, select

from auditledger.query.filters import parse_filters
from auditledger.query.search import directory_entries, page
from auditledger.store.database import Database
from auditledger.store.schema import events
from auditledger.tenancy.model import Organization
from auditledger.tenancy.repository import TenancyRepository


@dataclass(frozen=True)
class Plan:
    """One case: its filter, the plan lines, the rows found and (for the doc) timings."""

    name: str
    params: list[tuple[str, str]]
    lines: list[str]
    rows: int
    median_ms: float | None = None


@contextmanager
def capturing(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """Record every statement the reader engine sends to the driver."""
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        seen.append((statement, parameters))

    event.listen(db.engines.reader, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(db.engines.reader, "before_cursor_execute", grab)


def explain(
    db: Database, connection: Connection, statement: str, parameters: Any, *, run: bool = False
) -> list[str]:
    """The engine's plan for a captured statement, one line per node. With ``run``,
    PostgreSQL also executes it and reports actual row counts and planning/execution time."""
    if db.is_postgres:
        options = "(ANALYZE, COSTS OFF, TIMING OFF) " if run else ""
        rows = connection.exec_driver_sql(f"EXPLAIN {options}{statement}", parameters)
        return [r[0] for r in rows]
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    depth: dict[int, int] = {0: -1}
    lines = []
    for node_id, parent, _unused, detail in rows:
        depth[node_id] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node_id] + str(detail))
    return lines


def cases(connection: Connection, org: Organization) -> dict[str, list[tuple[str, str]]]:
    """Each filter of the view alone, then all together, with values this log has.

    "All together" takes a recent model-version event and filters by everything it has, so the
    combination matches something; single filters take the busiest value of their kind.
    """
    c = events.c
    newest = connection.execute(
        select(func.max(c.occurred_at)).where(c.org_id == org.id)
    ).scalar_one()
    versions = directory_entries(connection, org.id, "model_version")
    recent = connection.execute(
        select(
            c.occurred_at, c.project_id, c.model_id, c.subject_id, c.category, c.type, c.actor_id
        )
        .where(c.org_id == org.id, c.subject_type == "model_version")
        .order_by(c.occurred_at.desc(), c.seq.desc())
        .limit(1)
    ).one()

    recent_days = newest - timedelta(days=3)

    def busiest(column: Any) -> str:
        return str(
            connection.execute(
                select(column)
                .where(
                    c.org_id == org.id,
                    column.is_not(None),
                    c.occurred_at >= recent_days,
                )
                .group_by(column)
                .order_by(func.count().desc(), column)
                .limit(1)
            ).scalar_one()
        )

    week_end = newest.date() - timedelta(days=7)
    day = recent.occurred_at.date()
    return {
        "no filter": [],
        "date range": [
            ("from", (week_end - timedelta(days=6)).isoformat()),
            ("to", week_end.isoformat()),
        ],
        "project": [("project", busiest(c.project_id))],
        "model": [("model", busiest(c.model_id))],
        "model version (model view tab)": [
            ("model", versions[0].parent_id or ""),
            ("model_version", versions[0].id),
        ],
        "category": [("category", "model")],
        "category, rare (audit_log)": [("category", "audit_log")],
        "type": [("type", "model_version.approve")],
        "actor": [("actor", busiest(c.actor_id))],
        "all together": [
            ("from", (day - timedelta(days=14)).isoformat()),
            ("to", day.isoformat()),
            ("project", recent.project_id),
            ("model", recent.model_id),
            ("model_version", recent.subject_id),
            ("category", recent.category),
            ("type", f"{recent.category}.{recent.type}"),
            ("actor", recent.actor_id),
        ],
    }


def multi_valued_cases(
    connection: Connection, org: Organization
) -> dict[str, list[tuple[str, str]]]:
    """Filters only the API can express: several values of one filter, and a bare type that
    names several categories' types."""
    projects = directory_entries(connection, org.id, "project")
    return {
        "several projects (API only)": [("project", p.id) for p in projects[:2]],
        "bare type, several categories (API only)": [("type", "run")],
    }


def plan_cases(
    db: Database,
    org_slug: str,
    *,
    repeat: int = 0,
    only: str | None = None,
    api_cases: bool = False,
) -> list[Plan]:
    """Explain (and, with ``repeat``, time) the view's query for every case (or ``only``)."""
    org = TenancyRepository(db).org_by_slug(org_slug)
    with db.read() as connection:
        chosen = cases(connection, org)
        if api_cases:
            chosen.update(multi_valued_cases(connection, org))
    plans = []
    for name, params in chosen.items():
        if only is not None and name != only:
            continue
        flt = parse_filters(params)
        with capturing(db) as seen, db.read() as connection:
            found = page(connection, org.id, org.slug, flt, include_source=True)
        statement, parameters = seen[-1]
        with db.read() as connection:
            lines = explain(db, connection, statement, parameters, run=repeat > 0)
        timings = []
        for _ in range(repeat):
            with db.read() as connection:
                started = time.perf_counter()
                page(connection, org.id, org.slug, flt, include_source=True)
                timings.append((time.perf_counter() - started) * 1000)
        median = statistics.median(timings) if timings else None
        plans.append(Plan(name, params, lines, len(found.events), median))
    return plans


def _condense(lines: list[str], keep: int = 8) -> list[str]:
    """PostgreSQL repeats one node per daily partition; show the first few and a count."""
    if len(lines) <= keep + 4:
        return lines
    return [
        *lines[:keep],
        f"   ... ({len(lines) - keep} more lines: the same scan on older partitions)",
    ]


def render(sections: list[tuple[str, str, int, list[Plan]]]) -> str:
    """The Markdown document."""
    out = [
        "# Query plans of the audit log view",
        "",
        "Generated by `python -m tests.query.plans` (see its docstring) from the statement",
        "`auditledger.query.search.page()` actually sends, captured at the driver. Each case is",
        "the view's query: the 500 newest matching events of one organization (501 are read to",
        "know whether more exist), with the filter alone or all filters together.",
        "`tests/query/test_query_plans.py` asserts the same shapes on a few thousand events.",
        "",
    ]
    for engine, version, count, plans in sections:
        out += [f"## {engine}", "", f"{version}; {count:,} events in the organization.", ""]
        out += ["| Case | Rows | Median (ms) | Index |", "|---|---|---|---|"]
        for p in plans:
            index = next((part for line in p.lines for part in _index_names(line)), "-")
            median = f"{p.median_ms:.1f}" if p.median_ms is not None else "-"
            out.append(f"| {p.name} | {p.rows} | {median} | `{index}` |")
        out.append("")
        for p in plans:
            query = "&".join(f"{k}={v}" for k, v in p.params) or "(none)"
            out += [f"### {engine}: {p.name}", "", f"`{query}`", "", "```"]
            out += _condense(p.lines) if engine == "PostgreSQL" else p.lines
            out += ["```", ""]
    return "\n".join(out)


def _index_names(line: str) -> list[str]:
    for marker in ("USING INDEX ", "using "):
        if marker in line:
            name = line.split(marker, 1)[1].split()[0]
            # PostgreSQL names partition indexes after their parent's columns.
            return [name.split("_", 2)[-1] if name.startswith("events_p") else name]
    return []


def _section(url: str, org: str, repeat: int) -> tuple[str, str, int, list[Plan]]:
    db = Database(url)
    try:
        with db.read() as connection:
            if db.is_postgres:
                version = connection.exec_driver_sql("SHOW server_version").scalar_one()
                engine, label = "PostgreSQL", f"PostgreSQL {str(version).split()[0]}"
            else:
                version = connection.exec_driver_sql("SELECT sqlite_version()").scalar_one()
                engine, label = "SQLite", f"SQLite {version}"
            org_id = TenancyRepository(db).org_by_slug(org).id
            count = connection.execute(
                select(func.count()).select_from(events).where(events.c.org_id == org_id)
            ).scalar_one()
        return engine, label, int(count), plan_cases(db, org, repeat=repeat)
    finally:
        db.dispose()


def main() -> None:
    """Write the document from databases that already hold the data."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--org", required=True)
    parser.add_argument("--sqlite")
    parser.add_argument("--postgres")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    sections = [_section(url, args.org, args.repeat) for url in (args.sqlite, args.postgres) if url]
    text = render(sections)
    if args.write:
        args.write.write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
