"""The full-text search index over events: derived data, one shape per engine.

What is searched: the subject's id and name, the parent's name, the project's name, the
actor's id and name, and every property value (never the source address or location, which
members may not see). Text is split into lower-case runs of letters and digits.

* **SQLite**: ``events_search``, a contentless FTS5 table (migrations ``0010_i17_search``,
  ``0015_search_buckets``) kept in step by triggers on ``events`` (insert, and the retention
  purge's delete). Its rowid is ``org_id * 2**40 + seq``, so a hit names one event of one
  organization; its column ``body`` holds the searched text, ``bucket`` the event's month,
  day and hour (searches never look there, but read their hits one bucket at a time).
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
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
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


# The instant's month, day and hour (UTC) as words of the index's second column, ``bucket``:
# "m202611 d20261124 h2026112419". A search reads its hits a month, a day or an hour at a
# time, newest first, so it meets them in time order however late they were recorded.
_BUCKET_FORMAT = "m%Y%m d%Y%m%d h%Y%m%d%H"


def _sqlite_bucket(row: str) -> str:
    return f"strftime('{_BUCKET_FORMAT}', {row}.occurred_at / 1000000, 'unixepoch')"


SQLITE_DDL = [
    # Contentless: the events table holds the text; this holds only the postings. remove_
    # diacritics 0 keeps "é" distinct from "e", as PostgreSQL's index and the re-check do.
    """CREATE VIRTUAL TABLE events_search USING fts5(
         body, bucket, content='', tokenize='unicode61 remove_diacritics 0')""",
    f"""CREATE TRIGGER events_search_insert AFTER INSERT ON events BEGIN
         INSERT INTO events_search (rowid, body, bucket) VALUES ({_sqlite_key("NEW")},
           {_sqlite_body("NEW")}, {_sqlite_bucket("NEW")});
       END""",
    # A contentless table forgets a row only when told the text it indexed for it.
    f"""CREATE TRIGGER events_search_delete AFTER DELETE ON events BEGIN
         INSERT INTO events_search (events_search, rowid, body, bucket) VALUES ('delete',
           {_sqlite_key("OLD")}, {_sqlite_body("OLD")}, {_sqlite_bucket("OLD")});
       END""",
]

SQLITE_FILL = (
    f"INSERT INTO events_search (rowid, body, bucket) SELECT {_sqlite_key('events')}, "
    f"{_sqlite_body('events')}, {_sqlite_bucket('events')} FROM events"
)

# What migration 0015 replaces: the index without its bucket column.
SQLITE_DROP = [
    "DROP TRIGGER events_search_insert",
    "DROP TRIGGER events_search_delete",
    "DROP TABLE events_search",
]


# Each bucket's smaller ones: a month's days, a day's hours.
SMALLER = {"m": "d", "d": "h"}


def bucket_start(level: str, instant: datetime) -> datetime:
    """The start of the month ("m"), day ("d") or hour ("h") holding ``instant`` (UTC)."""
    at = instant.astimezone(UTC)
    if level == "m":
        return datetime(at.year, at.month, 1, tzinfo=UTC)
    if level == "d":
        return datetime(at.year, at.month, at.day, tzinfo=UTC)
    return datetime(at.year, at.month, at.day, at.hour, tzinfo=UTC)


def bucket_end(level: str, start: datetime) -> datetime:
    """The end (exclusive) of the bucket starting at ``start``."""
    if level == "m":
        return bucket_start("m", start + timedelta(days=32))
    return start + (timedelta(days=1) if level == "d" else timedelta(hours=1))


def buckets(level: str, newest: datetime, oldest: datetime) -> Iterator[datetime]:
    """The starts of the buckets from the one holding ``newest`` down to the one holding
    ``oldest``, newest first."""
    start, last = bucket_start(level, newest), bucket_start(level, oldest)
    while start >= last:
        yield start
        start = bucket_start(level, start - timedelta(microseconds=1))


def bucket(level: str, instant: datetime) -> str:
    """The index's word for the month (``level`` "m"), day ("d") or hour ("h") of
    ``instant``, as :data:`SQLITE_DDL` writes it."""
    start = _BUCKET_FORMAT.index(level)
    end = _BUCKET_FORMAT.find(" ", start)
    return instant.astimezone(UTC).strftime(_BUCKET_FORMAT[start : None if end < 0 else end])


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
    limit: int | None,
    in_bucket: str | None = None,
) -> list[int]:
    """SQLite: the sequence numbers of up to ``limit`` hits (None: all), highest first (FTS5
    walks its postings backwards and stops); with ``in_bucket``, of that bucket's events."""
    low = org_id * ORG_SHIFT
    result = connection.exec_driver_sql(
        "SELECT rowid FROM events_search WHERE events_search MATCH ? AND rowid BETWEEN ? AND ? "
        "ORDER BY rowid DESC LIMIT ?",
        (fts5_query(phrases, in_bucket), low, low + ORG_SHIFT - 1, -1 if limit is None else limit),
    )
    # The driver's own rows: thousands of integers, without SQLAlchemy's per-row fetch.
    return [int(rowid) - low for (rowid,) in result.cursor.fetchall()]


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


def fts5_query(
    phrases: Sequence[tuple[tuple[str, ...], bool]], in_bucket: str | None = None
) -> str:
    """The FTS5 MATCH text: each phrase quoted (words are letters and digits only), in the
    events' text only (a search for "d20261124" must not find every event of that day); with
    ``in_bucket``, only hits in that bucket (:func:`bucket`)."""
    text = " ".join(f'"{" ".join(w)}"' + ("*" if prefix else "") for w, prefix in phrases)
    found = f"{{body}} : ({text})"
    return found if in_bucket is None else f'{found} AND {{bucket}} : "{in_bucket}"'


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
