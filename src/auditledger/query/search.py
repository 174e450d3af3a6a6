"""The one query over an organization's events, with keyset pagination.

Every renderer (API, pages, CSV, JSON Lines, the CLI) reads through :func:`page` or
:func:`iterate`; none builds its own SQL. Order is by occurrence time, ties broken by sequence
number; that pair is unique, so a keyset cursor on it never skips or repeats a row, and every
query is an index range scan (``ix_events_*`` end in ``occurred_at, seq``) instead of OFFSET.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.sql.util import ClauseAdapter

from auditledger.core.errors import InvalidInput, Problem
from auditledger.query.filters import EventFilter
from auditledger.query.search_syntax import TermCheck
from auditledger.store import partitions, search_index
from auditledger.store.plans import generic_plans
from auditledger.store.rows import events_from_rows, row_to_event, stored_instant
from auditledger.store.schema import directory, events, leaves
from auditledger.store.search_index import SEARCHED, TextMatch
from auditledger.store.types import from_micros, to_micros
from auditledger.tenancy.model import USER_ACTOR_PREFIX
from auditledger_client.core.event import Event

VIEW_LIMIT = 500
MAX_PAGE = 1000

_SOURCE_COLUMNS = {"source_ip", "source_location"}


def _columns(include_source: bool) -> list[Any]:
    return [col for col in events.c if include_source or col.name not in _SOURCE_COLUMNS]


# What counting a search's matches reads: the keyset and the searched columns.
_CHECKED = [
    events.c.occurred_at,
    events.c.seq,
    *(events.c[name] for name in SEARCHED),
    events.c.properties,
]


@dataclass(frozen=True)
class Cursor:
    """A position in the order: the last row seen."""

    occurred_at: datetime
    seq: int

    def encode(self) -> str:
        """An opaque URL-safe string."""
        raw = json.dumps({"t": to_micros(self.occurred_at), "s": self.seq}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor in ``text``, or :class:`InvalidInput`."""
        try:
            padded = text + "=" * (-len(text) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
            t, s = data["t"], data["s"]
            if not isinstance(t, int) or not isinstance(s, int) or s < 0:
                raise ValueError
            return cls(from_micros(t), s)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise InvalidInput(
                "invalid cursor",
                [Problem("cursor", "is not a cursor returned by this API; start without one")],
            ) from None


@dataclass(frozen=True)
class Page:
    """Some events in order, and where to continue."""

    events: list[Event]
    next_cursor: Cursor | None  # None: nothing more matches
    has_more: bool


def filter_conditions(org_id: int, flt: EventFilter) -> list[Any]:
    """The WHERE conditions of ``flt`` (every reader of the log uses these)."""
    c = events.c
    conditions: list[Any] = [c.org_id == org_id]
    if flt.since is not None:
        conditions.append(c.occurred_at >= flt.since)
    if flt.until is not None:
        conditions.append(c.occurred_at <= flt.until)

    def any_of(column: Any, values: Sequence[str]) -> Any:
        return column == values[0] if len(values) == 1 else column.in_(values)

    if flt.projects:
        conditions.append(any_of(c.project_id, flt.projects))
    if flt.models:
        conditions.append(any_of(c.model_id, flt.models))
    if flt.model_versions:
        conditions.append(
            and_(c.subject_type == "model_version", any_of(c.subject_id, flt.model_versions))
        )
    if flt.subjects:
        conditions.append(any_of(c.subject_id, flt.subjects))
    if flt.categories:
        conditions.append(any_of(c.category, flt.categories))
    if flt.types:
        conditions.append(or_(*[and_(c.category == k, c.type == t) for k, t in flt.types]))
    if flt.actors:
        conditions.append(any_of(c.actor_id, flt.actors))
    if flt.sources:
        conditions.append(_source_condition(flt.sources))
    if flt.up_to_seq is not None:
        conditions.append(c.seq <= flt.up_to_seq)
    conditions.extend(_search_conditions(org_id, flt))
    return conditions


# Which column a search's ``actor:``, ``project:`` and ``model:`` narrow.
_NAMED_COLUMNS = {"actor": "actor_id", "project": "project_id", "model": "model_id"}


def _search_conditions(org_id: int, flt: EventFilter) -> list[Any]:
    c = events.c
    conditions: list[Any] = []
    if flt.search_categories:
        conditions.append(c.category.in_(flt.search_categories))
    if flt.search_types:
        conditions.append(or_(*[and_(c.category == k, c.type == t) for k, t in flt.search_types]))
    if flt.search_sources:
        conditions.append(_source_condition(flt.search_sources))
    for kind, column in _NAMED_COLUMNS.items():
        values = [v for k, v in flt.named if k == kind]
        if not values:
            continue
        d = directory.c
        # By id or by current name (any case); a person also by their username alone.
        alternatives = [d.ref_id.in_(values), func.lower(d.name).in_([v.lower() for v in values])]
        if kind == "actor":
            alternatives.append(d.ref_id.in_([f"{USER_ACTOR_PREFIX}{v}" for v in values]))
        known = select(d.ref_id).where(d.org_id == org_id, d.kind == kind, or_(*alternatives))
        conditions.append(c[column].in_(known))
    if flt.text:
        conditions.append(TextMatch(org_id, [(t.words, t.prefix) for t in flt.text]))
    return conditions


def _source_condition(sources: Sequence[str]) -> Any:
    c = events.c
    exact = [v for v in sources if not v.endswith("*")]
    prefixes = [v[:-1] for v in sources if v.endswith("*")]
    # Prefixes hold only hex digits, dots and colons (checked when parsed): no LIKE escapes.
    return or_(
        *([c.source_ip.in_(exact)] if exact else []),
        *[c.source_ip.like(prefix + "%") for prefix in prefixes],
    )


def check_source_access(flt: EventFilter, include_source: bool) -> None:
    """A filter on sources is for readers who see sources: anyone else could learn addresses
    by asking which events match one."""
    if flt.sources and not include_source:
        raise InvalidInput(
            "the filters are not valid",
            [Problem("ip", "only administrators may filter by source address")],
        )
    if flt.search_sources and not include_source:
        raise InvalidInput(
            "the search is not valid",
            [Problem("q", "ip: only administrators may search by source address")],
        )


def fixed_contents(
    connection: Connection, org_id: int, flt: EventFilter
) -> tuple[EventFilter, int]:
    """``flt`` bounded to the events stored now, and how many events it matches.

    An export records itself before its first byte; with this bound the record's row count is
    exactly what the export then delivers, and its own record is not part of it.
    """
    head = connection.execute(
        select(func.max(events.c.seq)).where(events.c.org_id == org_id)
    ).scalar()
    bounded = replace(flt, up_to_seq=-1 if head is None else int(head))
    if flt.text:
        # Counted as delivered, each index hit checked against its row, reading only what the
        # check and the keyset need.
        rows = _matching_rows(connection, org_id, bounded, _CHECKED, raw=True)
        return bounded, sum(1 for _ in rows)
    count = connection.execute(
        select(func.count()).select_from(events).where(*filter_conditions(org_id, bounded))
    ).scalar()
    return bounded, int(count or 0)


def _statement(
    org_id: int,
    flt: EventFilter,
    *,
    newest_first: bool,
    after: Cursor | None,
    limit: int | None,
    columns: Sequence[Any],
    with_hash: bool = False,
    window: tuple[datetime | None, datetime | None] = (None, None),
    extra: Sequence[Any] = (),
) -> Select[Any]:
    conditions = [*filter_conditions(org_id, flt), *extra]
    # Plain bounds on the partition key let PostgreSQL plan only the partitions concerned.
    if window[0] is not None:
        conditions.append(events.c.occurred_at >= window[0])
    if window[1] is not None:
        conditions.append(events.c.occurred_at < window[1])
    key = tuple_(events.c.occurred_at, events.c.seq)
    if after is not None:
        # Typed parameters: SQLite stores instants as integers, and an untyped datetime would be
        # bound as text, which SQLite orders after every integer.
        position = tuple_(
            literal(after.occurred_at, events.c.occurred_at.type),
            literal(after.seq, events.c.seq.type),
        )
        conditions.append(key < position if newest_first else key > position)
    order = (
        [events.c.occurred_at.desc(), events.c.seq.desc()]
        if newest_first
        else [events.c.occurred_at.asc(), events.c.seq.asc()]
    )
    query = select(*columns)
    if with_hash:
        # The leaf hash lives in ``leaves`` (it outlives purges); one primary-key lookup per row.
        query = select(*columns, leaves.c.leaf_hash).join(
            leaves, and_(leaves.c.org_id == events.c.org_id, leaves.c.seq == events.c.seq)
        )
    # The limit is written into the statement, not bound: a generic plan (store.plans) of a
    # bound limit would be costed as if it read a tenth of the table.
    limit_clause: ColumnElement[int] | None = (
        None if limit is None else literal_column(str(int(limit)), Integer())
    )
    return query.where(*conditions).order_by(*order).limit(limit_clause)


def _rows_to_events(org_slug: str, rows: Sequence[Any], include_source: bool) -> list[Event]:
    if include_source:
        return [row_to_event(org_slug, row) for row in rows]
    hidden = {"source_ip": None, "source_location": None}
    return [row_to_event(org_slug, {**row._mapping, **hidden}) for row in rows]


def _is_postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def page(
    connection: Connection,
    org_id: int,
    org_slug: str,
    flt: EventFilter,
    *,
    limit: int = VIEW_LIMIT,
    after: Cursor | None = None,
    newest_first: bool = True,
    include_source: bool = False,
) -> Page:
    """Up to ``limit`` matching events after ``after``; says whether more exist.

    Sources are read only when ``include_source`` is set (administrators): a member's request
    never even loads an IP address. Without a search, the statement's plan is made once per
    connection (:func:`auditledger.store.plans.generic_plans`): on PostgreSQL, planning every
    daily partition would otherwise cost more than the query.
    """
    check_source_access(flt, include_source)
    names = row_columns(include_source=include_source, with_hash=False)
    rows: Sequence[Any]
    if flt.text and newest_first and _is_postgres(connection):
        rows = _newest_text_rows(connection, org_id, flt, after, limit + 1, include_source)
    elif flt.text and newest_first:
        rows = _newest_text_hits(connection, org_id, flt, after, limit + 1, include_source)
    else:
        statement = _statement(
            org_id,
            flt,
            newest_first=newest_first,
            after=after,
            limit=limit + 1,
            columns=_columns(include_source),
        )
        if flt.text:
            # A search's best plan depends on how common its words are: planned each time,
            # unless the index holds only a few hits for it (then one generic plan is cheaper).
            few = _few_text_hits(connection, statement)
            rows = connection.execute(statement).cursor.fetchall() if few is None else few
        else:
            with generic_plans(connection):
                rows = connection.execute(statement).cursor.fetchall()
    has_more = len(rows) > limit
    shown = rows[:limit]
    holds = _search_check(flt, names)
    kept = shown if holds is None else [row for row in shown if holds(row)]
    # The driver's own rows, read by position: SQLAlchemy's processing of every value would
    # cost more than the query itself for 500 rows.
    found = events_from_rows(org_slug, names, kept)
    # The position of the last row read, kept or not: the next page starts after it.
    cursor = None
    if has_more and shown:
        last = shown[-1]
        cursor = Cursor(stored_instant(last[names.index("occurred_at")]), last[names.index("seq")])
    return Page(found, cursor, has_more)


def _newest_text_rows(
    connection: Connection,
    org_id: int,
    flt: EventFilter,
    after: Cursor | None,
    wanted: int,
    include_source: bool,
) -> Sequence[Any]:
    """PostgreSQL: the ``wanted`` newest rows matching a search, the newest day first.

    The planner chooses a search's plan by how common its words are, and planning every daily
    partition costs more than most searches (15 to 35 ms for 170-odd). The newest day that
    holds a candidate (found with the view's generic plan) is planned alone, which costs
    almost nothing; a common word fills the page there. Only a page it leaves short reads
    the older days: as one search over them when the word is rare (:func:`_few_text_hits`),
    else in windows of days, newest first.
    """
    columns = _columns(include_source)

    def newest(window: tuple[datetime | None, datetime | None], limit: int) -> Select[Any]:
        return _statement(
            org_id,
            flt,
            newest_first=True,
            after=after,
            limit=limit,
            columns=columns,
            window=window,
        )

    latest = _statement(
        org_id,
        replace(flt, text=()),
        newest_first=True,
        after=after,
        limit=1,
        columns=[events.c.occurred_at],
    )
    with generic_plans(connection):
        last = connection.execute(latest).scalar()
    if last is None:
        return []
    start = partitions.day_start(partitions.day_of(last))
    rows = list(connection.execute(newest((start, None), wanted)).cursor.fetchall())
    if len(rows) >= wanted:
        return rows
    few = _few_text_hits(connection, newest((None, start), wanted - len(rows)))
    if few is not None:
        rows.extend(few)
        return rows
    # A word too common to read whole but not common enough to fill the page in a day (a
    # model's name, say: tens of hits a day): the older days newest first, in windows of 1, 2,
    # 4, ... days, each planned over its own few partitions, until the page is full. Planned
    # over every partition at once it took 140 ms at 1M events.
    bound, span = start, 1
    while len(rows) < wanted:
        lower = bound - timedelta(days=span) if span <= _WIDEST_WINDOW_DAYS else None
        window = newest((lower, bound), wanted - len(rows))
        rows.extend(connection.execute(window).cursor.fetchall())
        if lower is None:
            break
        bound, span = lower, span * 2
    return rows


# The widest window of days a common word's older hits are read in; the rest goes at once.
_WIDEST_WINDOW_DAYS = 256


# Up to how many hits of a search over every partition are read with a generic plan.
_FEW_HITS = 5000


def _few_text_hits(connection: Connection, statement: Select[Any]) -> Sequence[Any] | None:
    """PostgreSQL, a search (over every partition its dates allow): its rows if the index
    holds fewer than :data:`_FEW_HITS` hits for it, else None (run ``statement`` as usual).

    A rare word or one found nowhere is the search that reaches every partition, and planning
    170-odd of them costs far more than looking the word up in each one's GIN index; with a
    generic plan (made once per connection) that is all it costs. A generic plan does not know
    how common the word is, so it first counts the hits up to the bound: a word as common as
    that is left to the planner, which walks the time index and stops at the page's end.
    """
    counted = statement.with_only_columns(events.c.seq).order_by(None).limit(_FEW_HITS)
    with generic_plans(connection):
        hits = connection.execute(select(func.count()).select_from(counted.subquery())).scalar()
        if not hits:
            return []
        if hits >= _FEW_HITS:
            return None
        return connection.execute(statement).cursor.fetchall()


# How many of a search's newest hits SQLite reads first, at least (four per row wanted).
FIRST_HITS = 2000


def _newest_text_hits(
    connection: Connection,
    org_id: int,
    flt: EventFilter,
    after: Cursor | None,
    wanted: int,
    include_source: bool,
) -> Sequence[Any]:
    """The ``wanted`` newest rows matching a search, on SQLite, exactly, without reading every
    hit of a common word or every event for a rare one (the driver's rows, in
    :func:`row_columns` order).

    FTS5 gives hits newest by sequence number first, and stops early: a rare word's hits are
    all read at once. Sequence order is close to time order, but not the same (late arrivals,
    several sources' backlogs loaded one after another): the newest hits by sequence are the
    page only if no event older by sequence is as new in time as the page's last one. If
    some are, the hits are read by time bucket instead, newest first
    (:func:`_newest_in_buckets`). Until the page is known only keys are read; then its rows,
    once.
    """
    other = replace(flt, text=())
    terms = [(t.words, t.prefix) for t in flt.text]
    batch = max(4 * wanted, FIRST_HITS)
    for _ in range(2):
        hits = search_index.newest_hits(connection, org_id, terms, batch)
        found = _keys_of(connection, org_id, other, after, hits, wanted)
        if len(hits) < batch:  # every hit read: they are the page
            return _rows_of(connection, org_id, found, include_source)
        if len(found) >= wanted:
            if not _late_candidates(connection, org_id, other, after, found[-1][0], min(hits)):
                return _rows_of(connection, org_id, found, include_source)
            keys = _newest_in_buckets(connection, org_id, flt, after, wanted)
            return _rows_of(connection, org_id, keys, include_source)
        batch *= 4
    # A common word that the other filters make rare: their index leads, each row checked
    # against the set of hits (one pass over the index's postings).
    statement = _statement(
        org_id,
        flt,
        newest_first=True,
        after=after,
        limit=wanted,
        columns=_columns(include_source),
    )
    return list(connection.execute(statement).cursor.fetchall())


def _late_candidates(
    connection: Connection,
    org_id: int,
    flt: EventFilter,
    after: Cursor | None,
    since: Any,
    oldest_hit: int,
) -> bool:
    """SQLite: whether an event that passes ``flt`` (and comes after ``after``) is older by
    sequence than ``oldest_hit`` but at least as new in time as ``since`` (a stored instant):
    one that would have to be looked for. Through the time index, or a filter's (``seq + 0``
    keeps SQLite off the primary key, which would walk every older event)."""
    statement = _statement(
        org_id,
        flt,
        newest_first=True,
        after=after,
        limit=1,
        columns=[events.c.seq],
        extra=[
            (events.c.seq + 0) < oldest_hit,
            events.c.occurred_at >= literal(stored_instant(since), events.c.occurred_at.type),
        ],
    ).order_by(None)
    return connection.execute(statement).first() is not None


def _keys_of(
    connection: Connection,
    org_id: int,
    flt: EventFilter,
    after: Cursor | None,
    seqs: Sequence[int],
    wanted: int,
    window: tuple[datetime | None, datetime | None] = (None, None),
) -> list[tuple[Any, int]]:
    """SQLite: the keys ``(occurred_at, seq)`` of the ``wanted`` newest of the events
    ``seqs`` that pass ``flt``, come after ``after`` and lie in ``window``, newest first.

    If they are not many more than wanted, each is looked up by its primary key and the
    filters are checked on it: a subquery with a limit, which SQLite neither flattens nor
    turns around (it would walk the time index, or a filter's, newest first, checking each
    entry against the list, until enough pass; that walk is the cheaper one for many more).
    """
    if not seqs:
        return []
    listed = events.c.seq.in_(search_index.seq_list(seqs))
    few = len(seqs) <= 4 * wanted
    statement = _statement(
        org_id,
        flt,
        newest_first=True,
        after=after,
        limit=wanted,
        columns=[events.c.occurred_at, events.c.seq],
        window=window,
        extra=[] if few else [listed],
    )
    if few and flt == EventFilter():
        statement = statement.where(listed).order_by(None).limit(None)
    elif few:
        looked_up = select(events).where(events.c.org_id == org_id, listed).limit(-1)
        statement = ClauseAdapter(looked_up.subquery("looked_up")).traverse(statement)
    keys = sorted(map(tuple, connection.execute(statement).cursor.fetchall()), reverse=True)
    return keys[:wanted]


def _rows_of(
    connection: Connection, org_id: int, keys: Sequence[tuple[Any, int]], include_source: bool
) -> list[Any]:
    """SQLite: the rows of the events with these keys, in the keys' order."""
    if not keys:
        return []
    columns = _columns(include_source)
    seq_at = [c.name for c in columns].index("seq")
    statement = select(*columns).where(
        events.c.org_id == org_id, events.c.seq.in_(search_index.seq_list([s for _, s in keys]))
    )
    by_seq = {row[seq_at]: row for row in connection.execute(statement).cursor.fetchall()}
    return [by_seq[s] for _, s in keys]


# Up to how many hits of one time bucket a search reads at once (SQLite); a bucket holding
# more is read by its smaller ones (a month by days, a day by hours), newest first.
BUCKET_HITS = 2048


def _newest_in_buckets(
    connection: Connection, org_id: int, flt: EventFilter, after: Cursor | None, wanted: int
) -> list[tuple[Any, int]]:
    """SQLite: the keys of the ``wanted`` newest matches of a search, newest first, its hits
    read a time bucket at a time (the index's ``bucket`` words), from the newest event that
    passes the other filters down to the oldest, until a page is full.

    Every bucket read is read whole, so once the buckets read hold ``wanted`` matches, no
    older bucket can hold one of the newest: the page is exact whatever order the events were
    recorded in. A bucket is read by its smaller ones only when it holds many hits, so a rare
    word costs a read per month, and a common one a few hours of hits.
    """
    other = replace(flt, text=())
    terms = [(t.words, t.prefix) for t in flt.text]

    def edge(newest_first: bool) -> datetime | None:
        statement = _statement(
            org_id,
            other,
            newest_first=newest_first,
            after=after if newest_first else None,
            limit=1,
            columns=[events.c.occurred_at],
        )
        value: datetime | None = connection.execute(statement).scalar()
        return value

    top, bottom = edge(True), edge(False)
    if top is None or bottom is None:
        return []

    def read(level: str, start: datetime, need: int) -> list[tuple[Any, int]]:
        end = search_index.bucket_end(level, start)
        word = search_index.bucket(level, start)
        smaller = search_index.SMALLER.get(level)
        # An hour is read whole, however many hits it holds: there is nothing smaller.
        limit = None if smaller is None else BUCKET_HITS
        hits = search_index.newest_hits(connection, org_id, terms, limit, word)
        if smaller is None or len(hits) < BUCKET_HITS:
            # The page's size, not what is still needed, as the limit: one statement text
            # for every bucket (SQLAlchemy and SQLite keep it prepared).
            return _keys_of(connection, org_id, other, after, hits, wanted, (start, end))[:need]
        found: list[tuple[Any, int]] = []
        newest = min(top, end - timedelta(microseconds=1))
        for part in search_index.buckets(smaller, newest, max(bottom, start)):
            found += read(smaller, part, need - len(found))
            if len(found) >= need:
                break
        return found

    found: list[tuple[Any, int]] = []
    for month in search_index.buckets("m", top, bottom):
        found += read("m", month, wanted - len(found))
        if len(found) >= wanted:
            break
    return sorted(found, reverse=True)[:wanted]


def _search_check(flt: EventFilter, names: Sequence[str]) -> Callable[[Any], bool] | None:
    """The check of a search on rows holding the columns ``names`` (None without a search):
    the row's own searched columns must hold the words the index matched."""
    if not flt.text:
        return None
    text_at = [names.index(name) for name in SEARCHED]
    properties_at = names.index("properties")
    check = TermCheck(flt.text)
    return lambda row: check.holds([row[i] for i in text_at], row[properties_at])


def row_columns(*, include_source: bool, with_hash: bool) -> list[str]:
    """The names of the values :func:`iterate_rows` yields with ``raw=True``, in order."""
    names = [c.name for c in _columns(include_source)]
    return [*names, "leaf_hash"] if with_hash else names


def partition_statements(
    connection: Connection,
    org_id: int,
    flt: EventFilter,
    *,
    include_source: bool,
    with_hash: bool,
) -> Iterator[Select[Any]]:
    """The query of :func:`iterate_rows` as whole statements, one per daily partition in
    export order (PostgreSQL), for a renderer that hands each to the engine at once (COPY)."""
    check_source_access(flt, include_source)
    for window in _windows(connection, flt, newest_first=False):
        yield _statement(
            org_id,
            flt,
            newest_first=False,
            after=None,
            limit=None,
            columns=_columns(include_source),
            with_hash=with_hash,
            window=window,
        )


def _windows(
    connection: Connection, flt: EventFilter, *, newest_first: bool
) -> list[tuple[datetime | None, datetime | None]]:
    if not _is_postgres(connection):
        return [(None, None)]
    days = sorted(partitions.existing_partition_days(connection), reverse=newest_first)
    return [
        (start, end)
        for start, end in ((partitions.day_start(d), partitions.day_end(d)) for d in days)
        if (flt.since is None or end > flt.since) and (flt.until is None or start <= flt.until)
    ]


def iterate_rows(
    connection: Connection,
    org_id: int,
    flt: EventFilter,
    *,
    newest_first: bool = False,
    include_source: bool = False,
    with_hash: bool = False,
    page_size: int = MAX_PAGE,
    raw: bool = False,
) -> Iterator[Any]:
    """Every matching ``events`` row (plus ``leaf_hash`` with ``with_hash``), in keyset pages.

    For renderers that format columns directly (the exports), skipping the construction of
    :class:`Event` objects. With ``raw`` the rows are the driver's own tuples, in
    :func:`row_columns` order and storage types (SQLite: integer microseconds and hex UUIDs),
    which skips SQLAlchemy's per-value processing: three times faster to read.

    Run it inside one read transaction (``Database.read()``) and every page comes from the
    same snapshot: events committed meanwhile neither appear nor shift rows. On PostgreSQL the
    pages walk one daily partition at a time, so no query plans them all.
    """
    check_source_access(flt, include_source)
    yield from _matching_rows(
        connection,
        org_id,
        flt,
        _columns(include_source),
        newest_first=newest_first,
        with_hash=with_hash,
        page_size=page_size,
        raw=raw,
    )


def _matching_rows(
    connection: Connection,
    org_id: int,
    flt: EventFilter,
    columns: Sequence[Any],
    *,
    newest_first: bool = False,
    with_hash: bool = False,
    page_size: int = MAX_PAGE,
    raw: bool = False,
) -> Iterator[Any]:
    """The rows of :func:`iterate_rows`, of ``columns`` only (they must include the keyset
    and, for a search, the searched columns)."""
    names = [c.name for c in columns]
    time_at, seq_at = names.index("occurred_at"), names.index("seq")
    holds = _search_check(flt, names)
    for window in _windows(connection, flt, newest_first=newest_first):
        after: Cursor | None = None
        while True:
            result = connection.execute(
                _statement(
                    org_id,
                    flt,
                    newest_first=newest_first,
                    after=after,
                    limit=page_size,
                    columns=columns,
                    with_hash=with_hash,
                    window=window,
                )
            )
            rows: Sequence[Any] = result.cursor.fetchall() if raw else result.all()
            yield from rows if holds is None else filter(holds, rows)
            if len(rows) < page_size:
                break
            last = rows[-1]
            occurred = last[time_at]
            after = Cursor(
                from_micros(occurred) if isinstance(occurred, int) else occurred, last[seq_at]
            )


def iterate(
    connection: Connection,
    org_id: int,
    org_slug: str,
    flt: EventFilter,
    *,
    newest_first: bool = False,
    include_source: bool = False,
    with_hash: bool = False,
    page_size: int = MAX_PAGE,
) -> Iterator[Event]:
    """Every matching event, in keyset pages from one snapshot (see :func:`iterate_rows`)."""
    rows = iterate_rows(
        connection,
        org_id,
        flt,
        newest_first=newest_first,
        include_source=include_source,
        with_hash=with_hash,
        page_size=page_size,
    )
    for row in rows:
        (event,) = _rows_to_events(org_slug, [row], include_source)
        if with_hash:
            event = replace(event, leaf_hash=row.leaf_hash)
        yield event


@dataclass(frozen=True)
class DirectoryEntry:
    """A project, model, model version or actor seen in the organization's events."""

    kind: str
    id: str
    name: str | None
    parent_id: str | None
    last_seen: datetime

    @property
    def label(self) -> str:
        """Its name, or its id when it never had one."""
        return self.name or self.id


def directory_entries(
    connection: Connection, org_id: int, kind: str, *, parent_id: str | None = None
) -> list[DirectoryEntry]:
    """Entries of one kind, by name (for filter choices and navigation)."""
    d = directory.c
    query = select(d.kind, d.ref_id, d.name, d.parent_id, d.last_seen).where(
        d.org_id == org_id, d.kind == kind
    )
    if parent_id is not None:
        query = query.where(d.parent_id == parent_id)
    # The driver's tuples: a model may have thousands of versions, and SQLAlchemy's processing
    # of each row's instant cost more than the query.
    rows = connection.execute(query).cursor.fetchall()
    entries = [
        DirectoryEntry(kind_, ref_id, name, parent, stored_instant(seen))
        for kind_, ref_id, name, parent, seen in rows
    ]
    return sorted(entries, key=lambda e: (natural_key(e.label), e.id))


_DIGITS = re.compile(r"(\d+)")


@functools.lru_cache(maxsize=65536)  # the same names are sorted on every page view
def natural_key(text: str) -> tuple[tuple[int, str | int], ...]:
    """A sort key that orders numbers inside names by value: "v8" before "v10"."""
    return tuple(
        (1, int(part)) if part.isdigit() else (0, part.lower())
        for part in _DIGITS.split(text)
        if part
    )


def directory_entry(
    connection: Connection, org_id: int, kind: str, ref_id: str
) -> DirectoryEntry | None:
    """One entry, or None."""
    row = connection.execute(
        select(directory).where(
            directory.c.org_id == org_id, directory.c.kind == kind, directory.c.ref_id == ref_id
        )
    ).first()
    if row is None:
        return None
    return DirectoryEntry(row.kind, row.ref_id, row.name, row.parent_id, row.last_seen)


def check_known_values(connection: Connection, org_id: int, flt: EventFilter) -> None:
    """422 for a project, model, model version or actor this organization's log never saw."""
    problems: list[Problem] = []
    for param, kind, values in (
        ("project", "project", flt.projects),
        ("model", "model", flt.models),
        ("model_version", "model_version", flt.model_versions),
        ("actor", "actor", flt.actors),
    ):
        if not values:
            continue
        known = {
            r.ref_id
            for r in connection.execute(
                select(directory.c.ref_id).where(
                    directory.c.org_id == org_id,
                    directory.c.kind == kind,
                    directory.c.ref_id.in_(values),
                )
            )
        }
        for value in values:
            if value not in known:
                problems.append(
                    Problem(
                        param,
                        f"no {kind.replace('_', ' ')} {value[:80]!r} in this organization's log",
                    )
                )
    if flt.subjects:
        # Subjects are not in the directory; the subject index answers as fast.
        seen = {
            r.subject_id
            for r in connection.execute(
                select(events.c.subject_id)
                .where(events.c.org_id == org_id, events.c.subject_id.in_(flt.subjects))
                .distinct()
            )
        }
        problems.extend(
            Problem("subject", f"no subject {value[:80]!r} in this organization's log")
            for value in flt.subjects
            if value not in seen
        )
    if problems:
        raise InvalidInput("the filters name unknown values", problems)
