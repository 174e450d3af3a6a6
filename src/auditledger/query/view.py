"""The audit log view: one page of matching events, with the filter described in names.

The JSON API and the pages both read through :func:`read_view`, so they show the same events
for the same filter. It checks the filter's ids against the organization's directory first (an
id this log never saw is a 422, not an empty page) and looks up the display names of those ids
once, for the description; rows carry their own names, snapshotted when each event happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, and_, or_, select

from auditledger.core.errors import InvalidInput, Problem
from auditledger.query.filters import EventFilter
from auditledger.query.search import (
    MAX_PAGE,
    VIEW_LIMIT,
    Cursor,
    Page,
    check_known_values,
    page,
)
from auditledger.store.schema import directory
from auditledger.tenancy.model import Organization


@dataclass(frozen=True)
class View:
    """What a reader sees: the events, whether more match, and the filter in words."""

    page: Page
    description: str
    limit: int
    # The description as the log's own events record it: without source addresses, since
    # members read those events (see EventFilter.describe).
    recorded_description: str = ""

    @property
    def capped(self) -> bool:
        """Only the ``limit`` most recent matches are shown; more exist."""
        return self.page.has_more


def filter_names(
    connection: Connection, org_id: int, flt: EventFilter
) -> Mapping[tuple[str, str], str]:
    """Display names of the projects, models, versions and actors a filter names (one query)."""
    wanted = [
        (kind, values)
        for kind, values in (
            ("project", flt.projects),
            ("model", flt.models),
            ("model_version", flt.model_versions),
            ("actor", flt.actors),
        )
        if values
    ]
    if not wanted:
        return {}
    d = directory.c
    rows = connection.execute(
        select(d.kind, d.ref_id, d.name).where(
            d.org_id == org_id,
            or_(*[and_(d.kind == kind, d.ref_id.in_(values)) for kind, values in wanted]),
        )
    )
    return {(r.kind, r.ref_id): r.name for r in rows if r.name}


def view_limit(requested: int | None, *, continuing: bool) -> int:
    """The page size: 500 by default and at most 500 for the view; a script continuing a walk
    with a cursor may ask for up to 1,000 per page."""
    if requested is None:
        return VIEW_LIMIT
    ceiling = MAX_PAGE if continuing else VIEW_LIMIT
    if not 1 <= requested <= ceiling:
        hint = (
            f"at most {VIEW_LIMIT} for the view; continue with next_cursor (up to {MAX_PAGE} "
            "per page) or export to read every match"
            if not continuing and requested > VIEW_LIMIT
            else f"between 1 and {ceiling}"
        )
        raise InvalidInput("invalid limit", [Problem("limit", hint)])
    return requested


def read_view(
    connection: Connection,
    org: Organization,
    flt: EventFilter,
    *,
    limit: int = VIEW_LIMIT,
    after: Cursor | None = None,
    include_source: bool = False,
) -> View:
    """The newest ``limit`` matches (after ``after``); :class:`InvalidInput` for unknown ids.

    Run it inside ``Database.read()`` so the check, the names and the events share a snapshot.
    """
    check_known_values(connection, org.id, flt)
    found = page(
        connection,
        org.id,
        org.slug,
        flt,
        limit=limit,
        after=after,
        newest_first=True,
        include_source=include_source,
    )
    names = filter_names(connection, org.id, flt)
    return View(found, flt.describe(names), limit, flt.describe(names, hide_sources=True))
