"""The filter form: options built from the organization's choices, with the current values set.

The form is a plain GET form, so filtering works without JavaScript and every filtered view
has a URL that can be bookmarked or shared. Model versions are offered once a model is picked
(a large registry has thousands of versions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from auditledger.query.choices import FilterChoices
from auditledger.query.search import DirectoryEntry
from auditledger.web.pages.zone import zone_names


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


def organization_form(
    choices: FilterChoices,
    items: Sequence[tuple[str, str]],
    zone: str,
    *,
    fixed_project: bool = False,
) -> FilterForm:
    """The organization (or project) view's form."""
    current = _current(items)
    chosen_types = current.get("type", [])
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
    )


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
    )
