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
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from auditledger.core.canonical import TimestampText
from auditledger.core.rowcanon import EVENT_COLUMNS
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


# A formula start at the beginning of a cell or after a break, in the cells joined by NUL:
# values never hold NUL (ingest refuses it), so it stands for the start of the next cell.
_RISKY_IN_ROW = re.compile(r"[,;\t\r\n\x00][=+\-@\t\r]")


def neutralised(cells: list[str]) -> list[str]:
    """:func:`neutralise` of every cell, by one search over the whole row: every position a
    cell would be changed at is, in the joined row, a formula start after a break or after the
    joining NUL, so a row without a match needs no change (most rows); a match (a real one, or
    a NUL inside a value followed by a formula start) sends the row cell by cell, which is
    exact either way."""
    if _RISKY_IN_ROW.search("\x00" + "\x00".join(cells)) is None:
        return cells
    return [neutralise(cell) for cell in cells]


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


# The values one event's cells are made of, in the order :class:`RowCells` reads them: the
# stored event's columns (core.rowcanon), the source's apart (read only for readers who may
# see it).
_SOURCE = ("source_ip", "source_location")
_VALUES = tuple(name for name in EVENT_COLUMNS if name not in _SOURCE)


class RowCells:
    """The cells of one event from its stored row, neutralised: the one writer of them.

    A row is an ``events`` row by name (a mapping, with ``leaf_hash`` when the leaf is known)
    or, when ``columns`` names its values in order, the driver's raw tuple (the export's hot
    path: values read by position, timestamps formatted from their stored form). Both give
    the same cells for the same event; ``tests/export`` holds them equal.
    """

    def __init__(self, include_source: bool, columns: Sequence[str] | None = None) -> None:
        self.include_source = include_source
        # By name from a mapping, or by position from a tuple.
        keys: dict[str, Any] = (
            {name: name for name in (*_VALUES, *_SOURCE)}
            if columns is None
            else {name: index for index, name in enumerate(columns)}
        )
        self._values: Callable[[Any], Any] = operator.itemgetter(*(keys[n] for n in _VALUES))
        if include_source:
            self._source: Callable[[Any], Any] = operator.itemgetter(*(keys[n] for n in _SOURCE))
        self._leaf: Callable[[Any], Any] = (
            _leaf_of_mapping
            if columns is None
            else operator.itemgetter(keys["leaf_hash"])
            if "leaf_hash" in keys
            else _no_leaf
        )
        self._time = TimestampText()
        self._received = TimestampText()

    def __call__(self, row: Any) -> list[str]:
        (
            seq,
            occurred_at,
            received_at,
            event_id,
            category,
            type_,
            subject_type,
            subject_id,
            subject_name,
            parent_type,
            parent_id,
            parent_name,
            properties,
            project_id,
            project_name,
            actor_type,
            actor_id,
            actor_name,
        ) = self._values(row)
        subject = _named(subject_name, subject_type, subject_id)
        if parent_id is not None:
            subject += " of " + _named(parent_name, parent_type, parent_id)
        cells = [
            self._time(occurred_at),
            category,
            type_,
            subject,
            properties,  # stored as canonical JSON already
            _named(project_name, "project", project_id) if project_id is not None else "",
            _named(actor_name, actor_type, actor_id),
        ]
        if self.include_source:
            source_ip, source_location = self._source(row)
            cells.append(source_ip or "")
            cells.append(location_cell(source_location))
        leaf = self._leaf(row)
        cells.append(_uuid_text(event_id))
        cells.append(str(seq))
        cells.append(leaf.hex() if leaf is not None else "")
        cells.append(self._received(received_at))
        return neutralised(cells)


def _uuid_text(value: Any) -> str:
    # SQLite stores UUIDs as 32 hex digits; PostgreSQL hands back uuid.UUID.
    if type(value) is str and len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return str(value)


def _leaf_of_mapping(row: Any) -> Any:
    return row.get("leaf_hash")


def _no_leaf(row: Any) -> None:
    return None


_MAPPING_CELLS = {flag: RowCells(flag) for flag in (True, False)}


def row_cells(row: Mapping[str, Any], include_source: bool) -> list[str]:
    """The cells of one event, from an ``events`` row (with ``leaf_hash``), neutralised."""
    return _MAPPING_CELLS[include_source](row)
