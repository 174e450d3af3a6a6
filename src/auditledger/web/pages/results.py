"""A view's results as a page shows them: rows, the count line, the description, the export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from markupsafe import Markup

from auditledger.query.view import View
from auditledger.web.pages.row_html import table_rows
from auditledger.web.pages.rows import EventRow, event_row
from auditledger.web.reading import Reader


@dataclass(frozen=True)
class Crumb:
    """One breadcrumb; the last one is the current page and has no link."""

    text: str
    href: str | None = None


@dataclass(frozen=True)
class Results:
    """The table and the lines around it."""

    rows: list[EventRow]
    with_source: bool
    capped: bool
    limit: int
    description: str
    export_url: str
    zone: str
    retention_note: str | None = None
    base: str = ""  # the organization's page prefix, for the rows' links

    @property
    def count(self) -> int:
        """Rows shown."""
        return len(self.rows)

    @property
    def rows_html(self) -> Markup:
        """The table's rows, escaped (see :mod:`auditledger.web.pages.row_html`)."""
        return table_rows(self.rows, base=self.base, with_source=self.with_source)


def org_base(slug: str) -> str:
    """The prefix of an organization's pages."""
    return "/orgs/" + quote(slug, safe="")


def export_url(org_slug: str, items: Sequence[tuple[str, str]]) -> str:
    """The CSV export of the same filter (served by the export API)."""
    url = f"/api/v1/orgs/{quote(org_slug, safe='')}/export.csv"
    return url + ("?" + urlencode(list(items)) if items else "")


def retention_note(reader: Reader, since: datetime | None) -> str | None:
    """What to say when the date range starts before what retention keeps."""
    if since is None or reader.purged_before is None or since >= reader.purged_before:
        return None
    return (
        f"The date range starts before {reader.purged_before:%Y-%m-%d}: events that occurred "
        f"earlier are past this organization's {reader.retention_days}-day retention and have "
        "been purged, so neither this page nor the export can show them."
    )


def results(
    view: View,
    reader: Reader,
    *,
    zone: str,
    filter_items: Sequence[tuple[str, str]],
    since: datetime | None = None,
) -> Results:
    """Rows for every event of ``view`` (no query per row: events carry their names), the
    export link carrying ``filter_items``, and a retention note when ``since`` reaches past it."""
    base = org_base(reader.org.slug)
    return Results(
        rows=[
            event_row(
                e, base=base, zone=zone, with_source=reader.sees_sources, catalog=reader.catalog
            )
            for e in view.page.events
        ],
        with_source=reader.sees_sources,
        capped=view.capped,
        limit=view.limit,
        description=view.description,
        export_url=export_url(reader.org.slug, filter_items),
        zone=zone,
        retention_note=retention_note(reader, since),
        base=base,
    )
