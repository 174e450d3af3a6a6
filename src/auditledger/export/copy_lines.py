"""The exports on PostgreSQL at the engine's speed: every line made by the server, in
``COPY (SELECT line ...) TO STDOUT``, byte for byte the file :mod:`auditledger.export.formats`
writes in Python (CSV with ``csv.writer`` from :func:`auditledger.core.cells.row_cells`; JSON
Lines with ``json.dumps`` of :func:`auditledger.events.render.event_json`).

For CSV each row comes back as one finished record: cells formatted as ``row_cells`` formats them
(timestamps, ``name (kind id)``, the location's label), neutralised by the same regular
expression (PostgreSQL's ARE engine reads ``core.cells._RISKY`` the same way; the tests hold
them equal), quoted with inner quotes doubled, joined by commas. COPY's text format ends each
line with LF and escapes backslashes and control characters; :func:`unescape` turns that into
the CRLF-terminated UTF-8 the Python writer produces. For JSON Lines each row is the compact
JSON object, strings escaped by ``to_json`` (the same escapes as ``json.dumps`` with
``ensure_ascii=False``), the stored canonical JSON of properties and location embedded as it
is (``json.dumps`` of it parsed gives the same text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Select, literal_column, select
from sqlalchemy.sql.elements import ColumnClause

from auditledger.core.cells import _RISKY
from auditledger.export.formats import CHUNK_ROWS
from auditledger.query.filters import EventFilter
from auditledger.query.search import partition_statements
from auditledger.store.copy import copy_text_rows

_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
_UNESCAPED = {
    b"\\": b"\\",
    b"b": b"\x08",
    b"f": b"\x0c",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\x0b",
}
_UTC = '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''
_RISKY_SQL = "'" + _RISKY.pattern.replace("'", "''") + "'"


def _timestamp(column: str) -> str:
    return f"to_char(r.{column} AT TIME ZONE 'UTC', {_UTC})"


def _text(column: str) -> str:
    # What an f-string prints for the value: None for NULL.
    return f"coalesce(r.{column}::text, 'None')"


def _named(name: str, kind: str, ref_id: str) -> str:
    """``name (kind id)``, or ``(kind id)`` without a name (core.cells._named)."""
    inner = f"'(' || {kind} || ' ' || {ref_id} || ')'"
    return f"CASE WHEN coalesce(r.{name}, '') = '' THEN {inner} ELSE r.{name} || ' ' || {inner} END"


def _location() -> str:
    """core.cells.location_cell over the stored JSON: the network, or "city, country", or
    "Unknown"; then " (CC)" when there is a country code."""
    j = "r.source_location::jsonb"

    def field(key: str) -> str:
        return f"nullif({j} ->> '{key}', '')"

    label = (
        f"coalesce({field('network')}, coalesce(nullif(concat_ws(', ', {field('city')}, "
        f"coalesce({field('country')}, {field('country_code')})), ''), 'Unknown'))"
    )
    code = f"coalesce(' (' || {field('country_code')} || ')', '')"
    return f"CASE WHEN r.source_location IS NULL THEN '' ELSE {label} || {code} END"


def _cells(include_source: bool) -> list[tuple[str, bool]]:
    """Each cell's expression, and whether it goes through the regular expression: values of
    typed columns (the two times, the uuid, the hash in hex) hold only digits, letters and
    ``-:.`` in fixed places, so no formula can start in them and no quote occurs, and the
    sequence number is neutralised by its sign; sparing them the regular expression saves
    about a tenth of the server's work per line."""
    subject = _named("subject_name", _text("subject_type"), _text("subject_id")) + (
        " || CASE WHEN r.parent_id IS NULL THEN '' ELSE ' of ' || "
        + _named("parent_name", _text("parent_type"), "r.parent_id")
        + " END"
    )
    project = (
        "CASE WHEN r.project_id IS NULL THEN '' ELSE "
        + _named("project_name", "'project'", "r.project_id")
        + " END"
    )
    cells = [
        (_timestamp("occurred_at"), False),
        ("r.category", True),
        ("r.type", True),
        (subject, True),
        ("r.properties", True),
        (project, True),
        (_named("actor_name", _text("actor_type"), _text("actor_id")), True),
    ]
    if include_source:
        cells += [("coalesce(r.source_ip, '')", True), (_location(), True)]
    cells += [
        ("r.event_id::text", False),
        # Only a changed database holds a negative one: quoted as neutralise() would.
        ("CASE WHEN r.seq < 0 THEN '''' ELSE '' END || r.seq::text", False),
        ("coalesce(encode(r.leaf_hash, 'hex'), '')", False),
        (_timestamp("received_at"), False),
    ]
    return cells


# SQL keeps no order through a subquery: the outer query states the export's own order.
_EXPORT_ORDER: tuple[ColumnClause[Any], ...] = (
    literal_column("r.occurred_at"),
    literal_column("r.seq"),
)


def _quoted(cell: str, neutralise: bool) -> str:
    if not neutralise:
        return f"'\"' || {cell} || '\"'"
    neutral = f"regexp_replace({cell}, {_RISKY_SQL}, '''', 'g')"
    return f"'\"' || replace({neutral}, '\"', '\"\"') || '\"'"


def line_statement(statement: Select[Any], include_source: bool) -> Select[Any]:
    """One column per row of ``statement``: its finished CSV record (without line end)."""
    rows = statement.subquery("r")
    line = " || ',' || ".join(_quoted(*cell) for cell in _cells(include_source))
    return select(literal_column(line)).select_from(rows).order_by(*_EXPORT_ORDER)


def _js(column: str) -> str:
    """A JSON string of a text column, or null."""
    return f"coalesce(to_json(r.{column}::text)::text, 'null')"


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_statement(statement: Select[Any], org_slug: str, include_source: bool) -> Select[Any]:
    """One column per row of ``statement``: the event's JSON Lines object (event_json)."""
    parent = (
        "CASE WHEN r.parent_id IS NULL THEN '' ELSE ',\"parent\":{\"type\":' || "
        f"{_js('parent_type')} || ',\"id\":' || {_js('parent_id')} || ',\"name\":' || "
        f"{_js('parent_name')} || '}}' END"
    )
    project = (
        "CASE WHEN r.project_id IS NULL THEN 'null' ELSE '{\"id\":' || "
        f"{_js('project_id')} || ',\"name\":' || {_js('project_name')} || '}}' END"
    )
    parts = [
        "'{\"id\":\"' || r.event_id::text || '\"'",
        _sql_text(',"organization":' + json.dumps(org_slug, ensure_ascii=False)),
        "',\"seq\":' || r.seq::text",
        f"',\"timestamp\":\"' || {_timestamp('occurred_at')} || '\"'",
        f"',\"received\":\"' || {_timestamp('received_at')} || '\"'",
        f"',\"category\":' || {_js('category')}",
        f"',\"type\":' || {_js('type')}",
        f'\',"subject":{{"type":\' || {_js("subject_type")} || \',"id":\' || '
        f"{_js('subject_id')} || ',\"name\":' || {_js('subject_name')} || {parent} || '}}'",
        "',\"properties\":' || r.properties",
        f"',\"project\":' || {project}",
        f'\',"actor":{{"type":\' || {_js("actor_type")} || \',"id":\' || '
        f"{_js('actor_id')} || ',\"name\":' || {_js('actor_name')} || '}}'",
    ]
    if include_source:
        parts.append(
            "',\"source\":' || CASE WHEN r.source_ip IS NULL THEN 'null' ELSE "
            "'{\"ip\":' || to_json(r.source_ip::text)::text || ',\"location\":' || "
            "coalesce(r.source_location, 'null') || '}' END"
        )
    parts.append(
        "CASE WHEN r.leaf_hash IS NULL THEN '' ELSE ',\"hash\":\"' || "
        "encode(r.leaf_hash, 'hex') || '\"' END || '}'"
    )
    rows = statement.subquery("r")
    return select(literal_column(" || ".join(parts))).select_from(rows).order_by(*_EXPORT_ORDER)


def unescape(block: bytes, *, crlf: bool = True) -> bytes:
    """COPY text lines -> the export's lines: LF line ends become CRLF for CSV (an LF inside
    a value is still escaped at this point), then the escapes become the characters they
    stand for."""
    if crlf:
        block = block.replace(b"\n", b"\r\n")
    if b"\\" in block:
        block = _ESCAPE.sub(lambda m: _UNESCAPED.get(m.group(1), m.group(1)), block)
    return block


def copy_csv_lines(
    connection: Connection, org_id: int, flt: EventFilter, *, include_source: bool
) -> Iterator[bytes]:
    """The export's CSV records (each COPY text line, as the server sends it), in export
    order, partition by partition."""
    for statement in partition_statements(
        connection, org_id, flt, include_source=include_source, with_hash=True
    ):
        yield from copy_text_rows(connection, line_statement(statement, include_source))


def copy_jsonl_lines(
    connection: Connection, org_id: int, org_slug: str, flt: EventFilter, *, include_source: bool
) -> Iterator[bytes]:
    """The export's JSON Lines (each COPY text line, as the server sends it), in export
    order, partition by partition."""
    for statement in partition_statements(
        connection, org_id, flt, include_source=include_source, with_hash=True
    ):
        yield from copy_text_rows(connection, json_statement(statement, org_slug, include_source))


def csv_blocks(lines: Iterator[bytes]) -> Iterator[bytes]:
    """:func:`copy_csv_lines` in chunks of :data:`CHUNK_ROWS`, ready to send."""
    return _blocks(lines, crlf=True)


def jsonl_blocks(lines: Iterator[bytes]) -> Iterator[bytes]:
    """:func:`copy_jsonl_lines` in chunks of :data:`CHUNK_ROWS`, ready to send."""
    return _blocks(lines, crlf=False)


def _blocks(lines: Iterator[bytes], *, crlf: bool) -> Iterator[bytes]:
    pending: list[bytes] = []
    for line in lines:
        pending.append(line)
        if len(pending) >= CHUNK_ROWS:
            yield unescape(b"".join(pending), crlf=crlf)
            pending = []
    if pending:
        yield unescape(b"".join(pending), crlf=crlf)
