"""The full-text search index over events: derived data, one shape per engine.

What is searched: the subject's id and name, the parent's name, the project's name, the
actor's id and name, and every property value (never the source address or location, which
members may not see). Text is split into lower-case runs of letters and digits.

* **SQLite**: ``events_search``, a contentless FTS5 table (migration ``0010_i17_search``) kept
  in step by triggers on ``events`` (insert, and the retention purge's delete). Its rowid is
  ``org_id * 2**40 + seq``, so a hit names one event of one organization.
* **PostgreSQL**: a stored generated column ``search_vector`` (``auditledger_search_vector(...)``,
  an immutable function of the row's own columns) with a GIN index (``fastupdate=off``: no
  pending list for searches to read through); only the database writes it, and every daily
  partition inherits both.

Either way the index only narrows: the query layer checks each row it returns against the
row's own words (``query.search_syntax.TermCheck``), so a tampered index can hide events from
a search but never add one. ``rebuild`` recreates it from the events table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import cast
from sqlalchemy.types import Boolean, Integer

from auditledger.store.database import Database
from auditledger.store.schema import events

# The derived objects' names (schema checks leave them out of the declared tables).
TABLE = "events_search"
INDEX = "ix_events_search"
COLUMN = "search_vector"

# Rowids of events_search: organization in the high bits, sequence number in the low 40.
ORG_SHIFT = 1 << 40

# The searched columns, in the order both engines concatenate them.
SEARCHED = (
    "subject_id",
    "subject_name",
    "parent_name",
    "project_name",
    "actor_id",
    "actor_name",
)


def _sqlite_body(row: str) -> str:
    """The SQLite expression of one event's searched text (``row`` is NEW, OLD or events)."""
    texts = " || ' ' || ".join(f"coalesce({row}.{name}, '')" for name in SEARCHED)
    values = (
        "(SELECT group_concat(CASE type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
        f"ELSE value END, ' ') FROM json_tree({row}.properties) "
        "WHERE type NOT IN ('object', 'array', 'null'))"
    )
    return f"{texts} || ' ' || coalesce({values}, '')"


def _sqlite_key(row: str) -> str:
    return f"{row}.org_id * {ORG_SHIFT} + {row}.seq"


SQLITE_DDL = [
    # Contentless: the events table holds the text; this holds only the postings. remove_
    # diacritics 0 keeps "é" distinct from "e", as PostgreSQL's index and the re-check do.
    """CREATE VIRTUAL TABLE events_search USING fts5(
         body, content='', tokenize='unicode61 remove_diacritics 0')""",
    f"""CREATE TRIGGER events_search_insert AFTER INSERT ON events BEGIN
         INSERT INTO events_search (rowid, body) VALUES ({_sqlite_key("NEW")},
           {_sqlite_body("NEW")});
       END""",
    # A contentless table forgets a row only when told the text it indexed for it.
    f"""CREATE TRIGGER events_search_delete AFTER DELETE ON events BEGIN
         INSERT INTO events_search (events_search, rowid, body) VALUES ('delete',
           {_sqlite_key("OLD")}, {_sqlite_body("OLD")});
       END""",
]

SQLITE_FILL = (
    f"INSERT INTO events_search (rowid, body) SELECT {_sqlite_key('events')}, "
    f"{_sqlite_body('events')} FROM events"
)

# Without GIN's pending list, every row is in the index's tree as soon as it is stored: a list
# of a day's events that only a vacuum merges would be read through by every search of that
# day's partition (migration 0013).
POSTGRES_INDEX = f"CREATE INDEX {INDEX} ON events USING gin ({COLUMN}) WITH (fastupdate = off)"

_PG_ARGS = ", ".join(f"{name} text" for name in (*SEARCHED, "properties"))
POSTGRES_DDL = [
    # plpgsql: never inlined, so queries spell the same expression the index holds. lower()
    # and [:alnum:] follow the database's ctype (C.UTF-8 or a UTF-8 locale: Unicode letters).
    f"""CREATE FUNCTION auditledger_search_vector({_PG_ARGS}) RETURNS tsvector
       LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
       DECLARE
         values_text text;
       BEGIN
         BEGIN
           values_text := (SELECT string_agg(v #>> '{{}}', ' ')
             FROM jsonb_path_query(properties::jsonb, 'strict $.**') AS v
             WHERE jsonb_typeof(v) IN ('string', 'number', 'boolean'));
         EXCEPTION WHEN others THEN
           -- Properties that are not JSON exist only in a row altered behind the service's
           -- back (verify reports it); the row must stay writable and readable, so its words
           -- come from the raw text.
           values_text := properties;
         END;
         RETURN to_tsvector('simple', regexp_replace(lower(concat_ws(' ',
           subject_id, subject_name, parent_name, project_name, actor_id, actor_name, values_text
         )), '[^[:alnum:]]+', ' ', 'g'));
       END $$""",
    # Stored, so a query reads each candidate's words instead of recomputing them; generated,
    # so only the database ever writes it (from the row itself).
    f"""ALTER TABLE events ADD COLUMN {COLUMN} tsvector GENERATED ALWAYS AS (
         auditledger_search_vector({", ".join((*SEARCHED, "properties"))})) STORED""",
    POSTGRES_INDEX,
]


def create(connection: Connection) -> None:
    """Create the index (the migration's work), filled from the events already stored."""
    if connection.dialect.name == "postgresql":
        for statement in POSTGRES_DDL:
            connection.exec_driver_sql(statement)
        return
    for statement in SQLITE_DDL:
        connection.exec_driver_sql(statement)
    connection.exec_driver_sql(SQLITE_FILL)


def rebuild(db: Database) -> int:
    """Recreate every entry from the events table; returns how many events it indexed."""
    if db.is_postgres:
        # A partitioned index is rebuilt partition by partition, outside any transaction.
        with db.engines.writer.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.exec_driver_sql("REINDEX INDEX ix_events_search")
    else:
        with db.write() as connection:
            connection.exec_driver_sql(
                "INSERT INTO events_search (events_search) VALUES ('delete-all')"
            )
            connection.exec_driver_sql(SQLITE_FILL)
    with db.read() as connection:
        return int(connection.execute(select(func.count()).select_from(events)).scalar() or 0)


def newest_hits(
    connection: Connection,
    org_id: int,
    phrases: Sequence[tuple[tuple[str, ...], bool]],
    limit: int,
) -> list[int]:
    """SQLite: the sequence numbers of up to ``limit`` hits, highest first (FTS5 walks its
    postings backwards and stops)."""
    low = org_id * ORG_SHIFT
    result = connection.exec_driver_sql(
        "SELECT rowid FROM events_search WHERE events_search MATCH ? AND rowid BETWEEN ? AND ? "
        "ORDER BY rowid DESC LIMIT ?",
        (fts5_query(phrases), low, low + ORG_SHIFT - 1, limit),
    )
    # The driver's own rows: thousands of integers, without SQLAlchemy's per-row fetch.
    return [int(rowid) - low for (rowid,) in result.cursor.fetchall()]


# Sequence numbers of a search's candidates closer than this share one read of the index's
# postings: a read of its own costs FTS5 about as much as this many postings.
RUN_GAP = 1024


class IndexHits:
    """SQLite: which sequence numbers the index holds as hits of a search, asked for a few
    candidates at a time; it reads only the postings within the runs the candidates form (a
    rowid range each, which FTS5 scans; an ``IN`` list on the rowid it would answer with one
    lookup of every word per number), and no range twice.

    Events recorded together have neighbouring numbers, so thousands of candidates form a
    few dozen runs, however far apart the runs are. A prefix is expanded over its whole
    posting lists by every read, whatever its range: its candidates get one read each time.
    """

    def __init__(
        self,
        connection: Connection,
        org_id: int,
        phrases: Sequence[tuple[tuple[str, ...], bool]],
    ) -> None:
        self._connection = connection
        self._low = org_id * ORG_SHIFT
        self._query = fts5_query(phrases)
        self._one_run = any(prefix for _, prefix in phrases)
        self._read: list[tuple[int, int]] = []  # inclusive ranges of sequence numbers
        self._hits: set[int] = set()

    def among(self, seqs: Sequence[int]) -> set[int]:
        """The numbers of ``seqs`` that are hits."""
        if not seqs:
            return set()
        ordered = sorted(seqs)
        runs = [[ordered[0], ordered[0]]]
        for seq in ordered[1:]:
            if seq - runs[-1][1] > RUN_GAP and not self._one_run:
                runs.append([seq, seq])
            else:
                runs[-1][1] = seq
        for first, last in runs:
            # The next, older candidates of a run most likely continue it: read ahead what
            # twice as many would need, rather than the same few words again for each.
            ahead = max(0, first - 2 * (last - first + 1))
            for start, end in self._unread(first if self._one_run else ahead, last):
                result = self._connection.exec_driver_sql(
                    "SELECT rowid FROM events_search WHERE events_search MATCH ? "
                    "AND rowid BETWEEN ? AND ?",
                    (self._query, self._low + start, self._low + end),
                )
                self._hits.update(rowid - self._low for (rowid,) in result.cursor.fetchall())
                self._read.append((start, end))
        return self._hits.intersection(ordered)

    def _unread(self, first: int, last: int) -> list[tuple[int, int]]:
        parts = [(first, last)]
        for start, end in self._read:
            parts = [
                piece
                for a, b in parts
                for piece in ((a, min(b, start - 1)), (max(a, end + 1), b))
                if piece[0] <= piece[1]
            ]
        return parts


def seq_list(seqs: Sequence[int]) -> Any:
    """``seq IN (...)`` for thousands of values: one JSON parameter rather than one each."""
    return select(literal_column("value", Integer)).select_from(
        func.json_each(json.dumps(list(seqs)))
    )


class TextMatch(ColumnElement[bool]):
    """``events`` rows whose indexed text holds every phrase (each a tuple of words; the last
    word of a phrase a prefix when its flag is set). Compiled per engine.
    """

    type = Boolean()
    inherit_cache = False

    def __init__(
        self,
        org_id: int,
        phrases: Sequence[tuple[tuple[str, ...], bool]],
    ) -> None:
        self.org_id = org_id
        self.phrases = tuple(phrases)


def fts5_query(phrases: Sequence[tuple[tuple[str, ...], bool]]) -> str:
    """The FTS5 MATCH text: each phrase quoted (words are letters and digits only)."""
    return " ".join(f'"{" ".join(w)}"' + ("*" if prefix else "") for w, prefix in phrases)


def tsquery(phrases: Sequence[tuple[tuple[str, ...], bool]]) -> str:
    """The PostgreSQL tsquery text: words of a phrase joined by ``<->``, phrases by ``&``."""
    parts = []
    for found, prefix in phrases:
        quoted = [f"'{w}'" for w in found]
        if prefix:
            quoted[-1] += ":*"
        parts.append("(" + " <-> ".join(quoted) + ")")
    return " & ".join(parts)


@compiles(TextMatch, "sqlite")
def _compile_sqlite(element: TextMatch, compiler: Any, **kw: Any) -> str:
    low = element.org_id * ORG_SHIFT
    rowid: ColumnElement[int] = literal_column("events_search.rowid", Integer)
    hits = (
        select(rowid - low)
        .select_from(text("events_search"))
        .where(
            text("events_search MATCH :search_match").bindparams(
                search_match=fts5_query(element.phrases)
            ),
            # FTS5 takes a rowid range as bounds of its scan (an IN list it would not).
            rowid.between(literal(low), literal(low + ORG_SHIFT - 1)),
        )
    )
    return str(compiler.process(events.c.seq.in_(hits.scalar_subquery()), **kw))


@compiles(TextMatch, "postgresql")
def _compile_postgres(element: TextMatch, compiler: Any, **kw: Any) -> str:
    vector: ColumnElement[Any] = literal_column(f"events.{COLUMN}")
    condition: ColumnElement[bool] = vector.op("@@")(
        cast(literal(tsquery(element.phrases)), TSQUERY)
    )
    return str(compiler.process(condition, **kw))
