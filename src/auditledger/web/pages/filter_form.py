"""The filter form: options built from the organization's choices, with the current values set.

The form is a plain GET form, so filtering works without JavaScript and every filtered view
has a URL that can be bookmarked or shared. Model versions are offered once a model is picked
(a large registry has thousands of versions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from auditledger.query.choices import FilterChoices
from auditledger.query.search import DirectoryEntry
from auditledger.web.pages.zone import local, zone_names


@dataclass(frozen=True)
class Option:
    """One ``<option>``."""

    value: str
    label: str
    selected: bool


@dataclass(frozen=True)
class OptionGroup:
    """An ``<optgroup>``."""

    label: str
    options: list[Option]


@dataclass(frozen=True)
class Select:
    """One ``<select>`` of a filter that takes several values: the first is the filter's own,
    each further one reads "or ..." (the form sends the name repeatedly: values combine with
    OR, as in the API)."""

    id: str
    label: str
    options: list[Option] = field(default_factory=list)
    groups: list[OptionGroup] = field(default_factory=list)


@dataclass(frozen=True)
class Preset:
    """A date-range shortcut: a link to the same filter over the last ``label``."""

    label: str
    href: str
    current: bool


@dataclass(frozen=True)
class FilterForm:
    """Everything the filter form shows; a None list means the field is not offered."""

    date_from: str
    date_to: str
    zone: str
    zones: Sequence[str]
    projects: list[Option] | None = None
    models: list[Option] | None = None
    versions: list[Option] | None = None
    categories: list[Option] | None = None
    types: list[OptionGroup] | None = None
    actors: list[Option] | None = None
    version_param: str = "model_version"
    hidden: list[tuple[str, str]] = field(default_factory=list)
    # Several values per filter: one select per chosen value and one more, empty.
    multi: dict[str, list[Select]] = field(default_factory=dict)
    presets: list[Preset] = field(default_factory=list)
    sources: list[str] | None = None  # the IP filter's values; None: not offered (members)
    search: str = ""  # the search box's text (``q``)


def _current(items: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in items:
        if value.strip():
            values.setdefault(name, []).append(value.strip())
    return values


def _options(entries: Sequence[DirectoryEntry], chosen: Sequence[str]) -> list[Option]:
    return [Option(e.id, e.label, e.id in chosen) for e in entries]


def _date(values: dict[str, list[str]], name: str) -> str:
    # A date input holds dates only; a date-time typed into the URL stays in the description.
    value = (values.get(name) or [""])[0]
    return value if len(value) == 10 else ""


# (label, how far back): the ranges people ask for most.
PRESETS: tuple[tuple[str, timedelta], ...] = (
    ("24 h", timedelta(hours=24)),
    ("7 d", timedelta(days=7)),
    ("30 d", timedelta(days=30)),
    ("90 d", timedelta(days=90)),
)


def presets(
    action: str, items: Sequence[tuple[str, str]], now: datetime, zone: str
) -> list[Preset]:
    """Links to the same filter over the last 24 hours, 7, 30 or 90 days (whole days in the
    viewer's zone; the last 24 hours as an exact instant), so no JavaScript is needed."""
    kept = [(k, v) for k, v in items if k not in ("from", "to", "cursor") and v.strip()]
    chosen = dict(items).get("from", "")
    found = []
    for label, back in PRESETS:
        if back <= timedelta(hours=24):
            start = (now - back).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            is_current = chosen.endswith("Z") and len(chosen) == 20
        else:
            start = (local(now, zone) - back + timedelta(days=1)).date().isoformat()
            is_current = chosen == start and not dict(items).get("to")
        href = action + "?" + urlencode([*kept, ("from", start)])
        found.append(Preset(label, href, is_current))
    return found


def _selects(
    name: str, label: str, chosen: Sequence[str], build: Callable[[Sequence[str]], Any]
) -> list[Select]:
    wanted = [*chosen, ""] if chosen else [""]
    selects = []
    for index, value in enumerate(wanted[:MAX_SELECTS]):
        built = build([value] if value else [])
        select_id = f"f-{name}" if index == 0 else f"f-{name}-{index + 1}"
        text = label if index == 0 else f"Or {label.lower()}"
        if built and isinstance(built[0], OptionGroup):
            selects.append(Select(select_id, text, groups=built))
        else:
            selects.append(Select(select_id, text, options=built))
    return selects


# A form offers at most this many values per filter (the API takes more).
MAX_SELECTS = 6


def organization_form(
    choices: FilterChoices,
    items: Sequence[tuple[str, str]],
    zone: str,
    *,
    fixed_project: bool = False,
    action: str = "",
    now: datetime | None = None,
    with_sources: bool = False,
) -> FilterForm:
    """The organization (or project) view's form."""
    current = _current(items)
    chosen_types = current.get("type", [])

    def type_groups(chosen: Sequence[str]) -> list[OptionGroup]:
        return [
            OptionGroup(
                c.label,
                [Option(t.value, t.label.split(": ", 1)[1], t.value in chosen) for t in c.types],
            )
            for c in choices.categories
        ]

    multi = {
        "category": _selects(
            "category",
            "Event category",
            current.get("category", []),
            lambda chosen: [Option(c.key, c.label, c.key in chosen) for c in choices.categories],
        ),
        "type": _selects("type", "Event type", chosen_types, type_groups),
        "actor": _selects(
            "actor", "Actor", current.get("actor", []), lambda c: _options(choices.actors, c)
        ),
    }
    if not fixed_project:
        multi["project"] = _selects(
            "project",
            "Project",
            current.get("project", []),
            lambda c: _options(choices.projects, c),
        )
    return FilterForm(
        date_from=_date(current, "from"),
        date_to=_date(current, "to"),
        zone=zone,
        zones=zone_names(),
        projects=None if fixed_project else _options(choices.projects, current.get("project", [])),
        models=_options(choices.models, current.get("model", [])),
        versions=(
            _options(choices.model_versions, current.get("model_version", []))
            if current.get("model")
            else None
        ),
        categories=[
            Option(c.key, c.label, c.key in current.get("category", [])) for c in choices.categories
        ],
        types=[
            OptionGroup(
                c.label,
                [
                    Option(t.value, t.label.split(": ", 1)[1], t.value in chosen_types)
                    for t in c.types
                ],
            )
            for c in choices.categories
        ],
        actors=_options(choices.actors, current.get("actor", [])),
        multi=multi,
        # A member's page never carries an address, not even one they typed.
        presets=(
            presets(action, [i for i in items if with_sources or not _names_source(i)], now, zone)
            if now is not None and action
            else []
        ),
        sources=current.get("ip", []) if with_sources else None,
        search=_search(current, with_sources),
    )


def _names_source(item: tuple[str, str]) -> bool:
    name, value = item
    return name == "ip" or (name == "q" and "ip:" in value.lower())


def _search(current: dict[str, list[str]], with_sources: bool) -> str:
    text = current.get("q", [""])[0]
    # A member's page never carries an address, not even one they typed (the search refused it).
    return "" if not with_sources and _names_source(("q", text)) else text


def model_form(
    versions: Sequence[DirectoryEntry], items: Sequence[tuple[str, str]], zone: str
) -> FilterForm:
    """The model's "Audit Log" tab: one of its versions and a date range."""
    current = _current(items)
    return FilterForm(
        date_from=_date(current, "from"),
        date_to=_date(current, "to"),
        zone=zone,
        zones=zone_names(),
        versions=_options(versions, current.get("version", [])),
        version_param="version",
        search=current.get("q", [""])[0],
    )
