"""Filters, parsed in one place into query conditions and a human description.

Every reader of the log (the JSON API, the pages, the CSV and JSON Lines exports, the CLI)
describes what it wants with an :class:`EventFilter`. Different filters combine with AND;
several values of one filter combine with OR.

Date range semantics (inclusive at both ends):

* ``from=2026-05-01`` starts at 00:00 of that day and ``to=2026-05-31`` ends at the last
  microsecond of that day, in the time zone ``tz`` (an IANA name, default UTC);
* a date-time with an offset (``2026-05-01T08:00:00+02:00``) is that instant;
* a date-time without an offset is read in ``tz``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from auditledger.core.errors import InvalidInput, Problem
from auditledger.query.search_syntax import SearchQuery, Term, parse_search
from auditledger.query.search_syntax import hide_sources as hide_search_sources
from auditledger_client.core.catalog import SEED, Catalog
from auditledger_client.core.wire import check_text

# Query-string names, in the order the description lists them.
MULTI_VALUED = ("project", "model", "model_version", "category", "type", "actor", "subject", "ip")
# The filters proper; a search (q) is accepted beside them where the reader re-checks rows.
FILTER_PARAMETERS = ("from", "to", "tz", *MULTI_VALUED)
PARAMETERS = ("q", *FILTER_PARAMETERS)
MAX_VALUES = 50


@dataclass(frozen=True)
class EventFilter:
    """What to read. Empty tuples mean "any"."""

    since: datetime | None = None
    until: datetime | None = None
    projects: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    model_versions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # "category.type" pairs; a bare type in the query string expands to every category having it.
    types: tuple[tuple[str, str], ...] = ()
    actors: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    # Only events up to this sequence number: an export fixes its contents when it records
    # itself, so the record states exactly how many rows follow. Never set from a query string.
    up_to_seq: int | None = None
    # Source addresses: an exact address, or a prefix ending in "*" ("193.166.3.*"). Only
    # readers who may see sources may use it (the query refuses it otherwise).
    sources: tuple[str, ...] = ()
    # The search box (``q``): words and phrases every event must hold, and projects, models
    # and actors named by id or current name, as (kind, value) pairs.
    text: tuple[Term, ...] = ()
    named: tuple[tuple[str, str], ...] = ()
    # The search's own category, type and source qualifiers: alternatives among themselves,
    # but AND with the form's filters of the same kind (a search only narrows).
    search_categories: tuple[str, ...] = ()
    search_types: tuple[tuple[str, str], ...] = ()
    search_sources: tuple[str, ...] = ()
    # What the user typed, kept for links and descriptions ("from" may have been a date).
    raw: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def is_empty(self) -> bool:
        """No condition at all: every event."""
        return not any(
            (
                self.since,
                self.until,
                self.projects,
                self.models,
                self.model_versions,
                self.categories,
                self.types,
                self.actors,
                self.subjects,
                self.sources,
                self.text,
                self.named,
                self.search_categories,
                self.search_types,
                self.search_sources,
            )
        )

    def query_items(self) -> list[tuple[str, str]]:
        """The filter as query-string items, to carry it into links (export, next page)."""
        return list(self.raw)

    def describe(
        self, names: Mapping[tuple[str, str], str] | None = None, *, hide_sources: bool = False
    ) -> str:
        """A human description: "model = churn-model, 2026-05-01 to 2026-05-31".

        ``names`` maps (kind, id) to a display name, e.g. ("project", "prj-1") -> "fraud".
        ``hide_sources`` writes "(hidden)" for source addresses (the IP filter and ``ip:`` in a
        search): a description recorded in the log's own events is read by members too, and
        only administrators may see sources.
        """
        # Categories and types are named as the form and the table name them (the catalog's
        # labels), projects, models and actors by their current display names.
        known = {**_catalog_names(self), **(names or {})}
        parts = []

        def label(kind: str, values: Sequence[str]) -> str:
            shown = [known.get((kind, v), v) for v in values]
            return f"{kind.replace('_', ' ')} = " + " or ".join(shown)

        for kind, values in (
            ("project", self.projects),
            ("model", self.models),
            ("model_version", self.model_versions),
            ("category", self.categories),
            ("actor", self.actors),
            ("subject", self.subjects),
            ("ip", self.sources),
        ):
            if values and kind == "ip" and hide_sources:
                parts.append("ip = (hidden)")
            elif values:
                parts.append(label(kind, values))
        if self.types:
            parts.append(label("type", [f"{c}.{t}" for c, t in self.types]))
        raw = dict(self.raw)
        if raw.get("q"):
            typed = raw["q"].strip()
            shown = hide_search_sources(typed) if hide_sources else typed
            parts.insert(0, f"search {shown[:200]!r}")
        if self.since or self.until:
            start = raw.get("from") or (self.since.isoformat() if self.since else "the beginning")
            end = raw.get("to") or (self.until.isoformat() if self.until else "now")
            zone = raw.get("tz")
            parts.append(f"{start} to {end}" + (f" ({zone})" if zone and zone != "UTC" else ""))
        return ", ".join(parts) if parts else "all events"


def _catalog_names(flt: EventFilter) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for key in flt.categories:
        spec = SEED.category(key)
        if spec is not None:
            found[("category", key)] = spec.label
    for category, type_ in flt.types:
        spec = SEED.category(category)
        type_spec = spec.type(type_) if spec else None
        if spec is not None and type_spec is not None:
            found[("type", f"{category}.{type_}")] = f"{spec.label}: {type_spec.label}"
    return found


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_instant(value: str, *, zone: ZoneInfo, end_of_day: bool) -> datetime:
    """A filter bound: a date (whole day in ``zone``) or a date-time; ValueError if neither."""
    text = value.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        try:
            if end_of_day:
                start_next = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
                return start_next.astimezone(UTC) - timedelta(microseconds=1)
            return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
        except OverflowError:
            return _beyond(day.year)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return _beyond(parsed.year)


def _beyond(year: int) -> datetime:
    # A bound at the edge of the calendar (``to=9999-12-31``, or a year-1 date east of UTC)
    # cannot be moved to UTC; it lies past every event on its side, so the edge itself will do.
    if year > 1:
        return datetime.max.replace(tzinfo=UTC)
    return datetime.min.replace(tzinfo=UTC)


def _types(
    values: Sequence[str], problems: list[Problem], catalog: Catalog
) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for value in values:
        category, _, type_ = value.rpartition(".")
        if category:
            spec = catalog.category(category)
            if spec is None or spec.type(type_) is None:
                problems.append(Problem("type", f"unknown event type {value[:80]!r}"))
            else:
                pairs.append((category, type_))
            continue
        matches = [(c.key, type_) for c in catalog.categories if c.type(type_)]
        if not matches:
            known = sorted({t.key for c in catalog.categories for t in c.types})
            problems.append(
                Problem(
                    "type", f"unknown event type {value[:80]!r}; known types: {', '.join(known)}"
                )
            )
        pairs.extend(matches)
    return tuple(dict.fromkeys(pairs))


_PREFIX = re.compile(r"^[0-9a-fA-F.:]{1,45}\*$")


def _source(value: str, problems: list[Problem]) -> str:
    """An address in its stored (standard) form, or a prefix ``193.166.*``."""
    if value.endswith("*"):
        if _PREFIX.match(value):
            return value.lower()
    else:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
    problems.append(
        Problem(
            "ip",
            f"{value[:60]!r} is not an IP address (193.166.3.7, 2001:db8::1) or a prefix "
            "ending in * (193.166.3.*)",
        )
    )
    return value


def parse_filters(
    params: Sequence[tuple[str, str]], catalog: Catalog = SEED, *, allow_search: bool = True
) -> EventFilter:
    """Parse query-string items into a filter, or raise :class:`InvalidInput` naming each
    problem. Blank values are ignored (an empty form field means "any"). Categories and types
    are those of ``catalog`` (the deployment's, extensions included). ``allow_search=False``
    refuses ``q`` (streaming destinations select their batches in SQL alone, without the
    search's check of each row against its own words)."""
    problems: list[Problem] = []
    values: dict[str, list[str]] = {}
    raw: list[tuple[str, str]] = []
    accepted = PARAMETERS if allow_search else FILTER_PARAMETERS
    for name, value in params:
        if name not in accepted:
            shown = name[:80] if name.isidentifier() else json.dumps(name[:80])
            problems.append(Problem(shown, "is not a filter; filters are: " + ", ".join(accepted)))
            continue
        if not value.strip():
            continue
        try:
            check_text(value)
        except ValueError:
            # No stored id holds either, and an export's own record could not name them.
            problems.append(Problem(name, "must not contain NUL characters or lone surrogates"))
            continue
        raw.append((name, value))
        values.setdefault(name, []).append(value.strip())
    for name in ("q", "from", "to", "tz"):
        if len(values.get(name, [])) > 1:
            problems.append(Problem(name, "may be given only once"))
    for name in MULTI_VALUED:
        if len(values.get(name, [])) > MAX_VALUES:
            problems.append(Problem(name, f"at most {MAX_VALUES} values"))
    zone = _zone(values.get("tz", [None])[0])
    if zone is None:
        problems.append(
            Problem("tz", "is not a known time zone; use an IANA name such as Europe/Helsinki")
        )
        zone = ZoneInfo("UTC")
    bounds: dict[str, datetime | None] = {"from": None, "to": None}
    for name in ("from", "to"):
        if name in values:
            try:
                bounds[name] = parse_instant(values[name][0], zone=zone, end_of_day=name == "to")
            except ValueError:
                problems.append(
                    Problem(
                        name,
                        f"{values[name][0][:40]!r} is not a date (2026-05-01) or a date-time "
                        "(2026-05-01T08:00:00+02:00)",
                    )
                )
    since, until = bounds["from"], bounds["to"]
    if since and until and since > until:
        problems.append(Problem("to", "is before 'from'"))
    categories = values.get("category", [])
    for category in categories:
        if catalog.category(category) is None:
            problems.append(
                Problem(
                    "category",
                    f"unknown category {category[:80]!r}; categories: " + ", ".join(catalog.index),
                )
            )
    types = _types(values.get("type", []), problems, catalog)
    sources = tuple(dict.fromkeys(_source(v, problems) for v in values.get("ip", [])))
    flt = EventFilter(
        since=since,
        until=until,
        projects=tuple(dict.fromkeys(values.get("project", []))),
        models=tuple(dict.fromkeys(values.get("model", []))),
        model_versions=tuple(dict.fromkeys(values.get("model_version", []))),
        categories=tuple(dict.fromkeys(categories)),
        types=types,
        actors=tuple(dict.fromkeys(values.get("actor", []))),
        subjects=tuple(dict.fromkeys(values.get("subject", []))),
        sources=sources,
        raw=tuple(raw),
    )
    if values.get("q") and not problems:
        try:
            flt = with_search(flt, parse_search(values["q"][0]), zone, catalog)
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidInput("the filters are not valid", problems)
    return flt


def _as_search(found: list[Problem], qualifier: str) -> list[Problem]:
    """Problems of a qualifier's value, named as the search's (the field the user typed in)."""
    return [Problem("q", f"{qualifier}: {p.message}") for p in found]


def with_search(
    flt: EventFilter, query: SearchQuery, zone: ZoneInfo, catalog: Catalog = SEED
) -> EventFilter:
    """``flt`` narrowed by a parsed search (AND with every filter it already has)."""
    problems: list[Problem] = []
    found: list[Problem] = []
    types = _types(query.values("type"), found, catalog)
    problems += _as_search(found, "type")
    categories = query.values("category")
    for category in categories:
        if catalog.category(category) is None:
            problems.append(
                Problem(
                    "q",
                    f"category: unknown category {category[:80]!r}; categories: "
                    + ", ".join(catalog.index),
                )
            )
    found = []
    sources = tuple(dict.fromkeys(_source(v, found) for v in query.values("ip")))
    problems += _as_search(found, "ip")
    since, until = flt.since, flt.until
    for name in ("after", "before"):
        for value in query.values(name):
            try:
                # Strictly after the end of the day (or the instant), strictly before its start.
                bound = parse_instant(value, zone=zone, end_of_day=name == "after")
            except ValueError:
                problems.append(
                    Problem(
                        "q",
                        f"{name}: {value[:40]!r} is not a date (2026-05-01) or a date-time "
                        "(2026-05-01T08:00:00+02:00)",
                    )
                )
                continue
            tick = timedelta(microseconds=1)
            if name == "after":
                bound = bound + tick if bound < datetime.max.replace(tzinfo=UTC) else bound
                since = bound if since is None else max(since, bound)
            else:
                bound = bound - tick if bound > datetime.min.replace(tzinfo=UTC) else bound
                until = bound if until is None else min(until, bound)
    if problems:
        raise InvalidInput("the search is not valid", problems)
    # Several values of one qualifier are alternatives; a qualifier and a filter of the same
    # kind both apply (their intersection), so the search only ever narrows the filters.
    return replace(
        flt,
        since=since,
        until=until,
        text=query.terms,
        named=tuple((k, v) for k, v in query.qualifiers if k in ("actor", "project", "model")),
        search_categories=tuple(dict.fromkeys(categories)),
        search_types=types,
        search_sources=sources,
    )
