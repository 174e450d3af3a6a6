"""CSV cells: the seed's columns, made safe to open in a spreadsheet under any separator.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return can run as a
formula in Excel, LibreOffice or Google Sheets (OWASP "CSV injection", CWE-1236). A cell is not
always read as one cell, though: opened with ``;`` or tab as the separator, or by a tool that
ignores quotes, ``x;=1+1;y`` becomes three cells and the middle one a formula; a line break
inside a value starts a new row. So a single quote goes before every formula start at the
beginning of the cell *and* after every ``,``, ``;``, tab, CR or LF inside it; spreadsheets
show it as text. That is the only change made to any value, and every cell is quoted
(``csv.QUOTE_ALL``). Hashes are never computed over cells: they cover the canonical event.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from auditledger.core.canonical import TimestampText, format_timestamp
from auditledger_client.core.event import Location

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A formula start at the beginning, or right after a cell break: any separator a CSV may be
# opened with (, ; tab) or a line break (zero-width: insert a quote).
_RISKY = re.compile(r"(?<![^,;\t\r\n])(?=[=+\-@\t\r])")

BASE_COLUMNS = (
    "Timestamp",
    "Event Category",
    "Event Type",
    "Event Subject",
    "Event Properties",
    "Project",
    "Actor",
)
SOURCE_COLUMNS = ("Source IP", "Source Location")
ID_COLUMNS = ("Event ID", "Sequence Number", "Event Hash", "Received")


def header(include_source: bool) -> list[str]:
    """The header row: source columns only for administrators."""
    return [*BASE_COLUMNS, *(SOURCE_COLUMNS if include_source else ()), *ID_COLUMNS]


def neutralise(cell: str) -> str:
    """A single quote before every would-be formula start (at the beginning of the cell and
    after each separator or line break in it); everything else left alone."""
    return _RISKY.sub("'", cell) if _RISKY.search(cell) else cell


def _named(name: str | None, kind: str, ref_id: str) -> str:
    return f"{name} ({kind} {ref_id})" if name else f"({kind} {ref_id})"


def subject_cell(row: Mapping[str, Any]) -> str:
    """``churn v3 (model_version v3-id) of churn (model m-id)``."""
    text = _named(row["subject_name"], row["subject_type"], row["subject_id"])
    if row["parent_id"] is not None:
        text += " of " + _named(row["parent_name"], row["parent_type"], row["parent_id"])
    return text


@functools.lru_cache(maxsize=4096)
def location_cell(stored: str | None) -> str:
    """``Espoo, Finland (FI)``, ``Private network`` or empty when unknown (cached: exports
    repeat the same few locations millions of times)."""
    if stored is None:
        return ""
    location = Location.from_dict(json.loads(stored))
    label = location.label()
    return f"{label} ({location.country_code})" if location.country_code else label


def row_cells(row: Mapping[str, Any], include_source: bool) -> list[str]:
    """The cells of one event, from an ``events`` row (with ``leaf_hash``), neutralised."""
    project = (
        _named(row["project_name"], "project", row["project_id"])
        if row["project_id"] is not None
        else ""
    )
    cells = [
        format_timestamp(row["occurred_at"]),
        row["category"],
        row["type"],
        subject_cell(row),
        row["properties"],  # stored as canonical JSON already
        project,
        _named(row["actor_name"], row["actor_type"], row["actor_id"]),
    ]
    if include_source:
        cells.append(row["source_ip"] or "")
        cells.append(location_cell(row["source_location"]))
    leaf = row.get("leaf_hash")
    cells.extend(
        [
            str(row["event_id"]),
            str(row["seq"]),
            leaf.hex() if leaf is not None else "",
            format_timestamp(row["received_at"]),
        ]
    )
    return [neutralise(cell) for cell in cells]


def _uuid_text(value: Any) -> str:
    # SQLite stores UUIDs as 32 hex digits; PostgreSQL hands back uuid.UUID.
    if type(value) is str and len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return str(value)


class RawCells:
    """:func:`row_cells` for the driver's raw row tuples (the export's hot path).

    The same cells from the same values, read by position instead of by name, with
    timestamps formatted from their stored form; ``tests/export`` pins the equality.
    """

    def __init__(self, columns: list[str], include_source: bool) -> None:
        index = {name: position for position, name in enumerate(columns)}
        self.include_source = include_source
        self._at = index
        self._time = TimestampText()
        self._received = TimestampText()

    def __call__(self, row: Any) -> list[str]:
        at = self._at
        subject = _named(row[at["subject_name"]], row[at["subject_type"]], row[at["subject_id"]])
        parent_id = row[at["parent_id"]]
        if parent_id is not None:
            subject += " of " + _named(row[at["parent_name"]], row[at["parent_type"]], parent_id)
        project_id = row[at["project_id"]]
        cells = [
            self._time(row[at["occurred_at"]]),
            row[at["category"]],
            row[at["type"]],
            subject,
            row[at["properties"]],
            _named(row[at["project_name"]], "project", project_id)
            if project_id is not None
            else "",
            _named(row[at["actor_name"]], row[at["actor_type"]], row[at["actor_id"]]),
        ]
        if self.include_source:
            cells.append(row[at["source_ip"]] or "")
            cells.append(location_cell(row[at["source_location"]]))
        leaf = row[at["leaf_hash"]] if "leaf_hash" in at else None
        cells.append(_uuid_text(row[at["event_id"]]))
        cells.append(str(row[at["seq"]]))
        cells.append(leaf.hex() if leaf is not None else "")
        cells.append(self._received(row[at["received_at"]]))
        return [neutralise(cell) for cell in cells]
