"""The models view: a model, its versions, its project, and the filter of its "Audit Log" tab.

A model's events are its own and its versions' (``events.model_id`` is derived from the subject
at ingest). The tab is pre-filtered to the model and offers one of its versions and a date
range, nothing else, as the product spec describes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from auditledger.core.errors import InvalidInput, NotFound, Problem
from auditledger.query.filters import EventFilter, parse_filters
from auditledger.query.search import DirectoryEntry, directory_entries, directory_entry, page
from auditledger.store.schema import directory
from auditledger_client.core.event import Ref

# Query-string names the model view accepts; ``version`` is a model version id of this model.
MODEL_VIEW_PARAMETERS = ("q", "version", "from", "to", "tz")


@dataclass(frozen=True)
class NameChange:
    """One rename of a model, as its event recorded it."""

    old_name: str
    new_name: str
    at: datetime
    event_id: str


@dataclass(frozen=True)
class ModelSummary:
    """A model as the models pages and API show it."""

    entry: DirectoryEntry
    versions: list[DirectoryEntry]
    project: Ref | None  # the project of the model's latest event
    renames: tuple[NameChange, ...] = ()  # oldest first; filled for the model page only

    @property
    def earlier_names(self) -> list[str]:
        """The names the model had before its current one, oldest first, each once."""
        current = self.label
        seen = dict.fromkeys(n for r in self.renames for n in (r.old_name, r.new_name))
        return [n for n in seen if n != current]

    @property
    def id(self) -> str:
        """The model id."""
        return self.entry.id

    @property
    def label(self) -> str:
        """Its latest name."""
        return self.entry.label


def model_entry(connection: Connection, org_id: int, model_id: str) -> DirectoryEntry:
    """The model's directory entry, or :class:`NotFound`."""
    entry = directory_entry(connection, org_id, "model", model_id)
    if entry is None:
        raise NotFound(f"no model {model_id[:80]!r} in this organization")
    return entry


def model_id_named(connection: Connection, org_id: int, name: str) -> str | None:
    """The id of the one model whose current name is ``name``; None when none or several are.

    Ids are what links use; a person who types a model's name into the address (or a link
    written before a platform gave its models ids) still finds it while the name is its own.
    """
    query = select(directory.c.ref_id).where(
        directory.c.org_id == org_id, directory.c.kind == "model", directory.c.name == name
    )
    found = connection.execute(query.limit(2)).scalars().all()
    return found[0] if len(found) == 1 else None


def latest_project(connection: Connection, org_id: int, org_slug: str, model_id: str) -> Ref | None:
    """The project of the model's most recent event: one index probe on ``ix_events_model``
    through the same query the view uses."""
    found = page(connection, org_id, org_slug, EventFilter(models=(model_id,)), limit=1)
    return found.events[0].project if found.events else None


# A model renamed more often than this shows its most recent renames (the rest stay in its log).
MAX_RENAMES = 50


def model_renames(
    connection: Connection, org_id: int, org_slug: str, model_id: str
) -> tuple[NameChange, ...]:
    """The model's renames, oldest first, through the same query the view uses (one range scan
    of ``ix_events_model`` restricted to ``model.rename``)."""
    flt = EventFilter(models=(model_id,), types=(("model", "rename"),))
    found = page(connection, org_id, org_slug, flt, limit=MAX_RENAMES)
    changes = []
    for event in reversed(found.events):
        old, new = event.properties.get("old_name"), event.properties.get("new_name")
        if isinstance(old, str) and isinstance(new, str) and event.subject.type == "model":
            changes.append(NameChange(old, new, event.occurred_at, str(event.event_id)))
    return tuple(changes)


def _versions_by_model(connection: Connection, org_id: int) -> dict[str, list[DirectoryEntry]]:
    grouped: dict[str, list[DirectoryEntry]] = {}
    for version in directory_entries(connection, org_id, "model_version"):
        grouped.setdefault(version.parent_id or "", []).append(version)
    return grouped


def list_models(connection: Connection, org_id: int, org_slug: str) -> list[ModelSummary]:
    """Every model the log has seen, by name, with versions and current project.

    Two directory queries and one index probe per model (not per event).
    """
    versions = _versions_by_model(connection, org_id)
    return [
        ModelSummary(
            entry,
            versions.get(entry.id, []),
            latest_project(connection, org_id, org_slug, entry.id),
        )
        for entry in directory_entries(connection, org_id, "model")
    ]


def model_summary(
    connection: Connection, org_id: int, org_slug: str, model_id: str
) -> ModelSummary:
    """One model with its versions and project, or :class:`NotFound`."""
    entry = model_entry(connection, org_id, model_id)
    return ModelSummary(
        entry,
        directory_entries(connection, org_id, "model_version", parent_id=model_id),
        latest_project(connection, org_id, org_slug, model_id),
        model_renames(connection, org_id, org_slug, model_id),
    )


def models_in_project(
    connection: Connection, org_id: int, org_slug: str, project_id: str
) -> list[ModelSummary]:
    """The models whose latest event belongs to ``project_id``."""
    return [
        m
        for m in list_models(connection, org_id, org_slug)
        if m.project and m.project.id == project_id
    ]


def model_filter(
    connection: Connection, org_id: int, model_id: str, items: Sequence[tuple[str, str]]
) -> EventFilter:
    """The "Audit Log" tab's filter: the model, optionally one of its versions, a date range.

    :class:`NotFound` for an unknown model; :class:`InvalidInput` naming each problem for other
    parameters, several versions, or a version of another model.
    """
    model_entry(connection, org_id, model_id)
    problems: list[Problem] = []
    translated: list[tuple[str, str]] = [("model", model_id)]
    versions = [v.strip() for name, v in items if name == "version" and v.strip()]
    for name, value in items:
        if name == "version":
            continue
        if name in MODEL_VIEW_PARAMETERS:
            translated.append((name, value))
        else:
            problems.append(
                Problem(
                    name[:80],
                    "is not a filter of the model view; use: " + ", ".join(MODEL_VIEW_PARAMETERS),
                )
            )
    if len(versions) > 1:
        problems.append(Problem("version", "may be given only once"))
    elif versions:
        version = directory_entry(connection, org_id, "model_version", versions[0])
        if version is None or version.parent_id != model_id:
            problems.append(
                Problem("version", f"no version {versions[0][:80]!r} of model {model_id[:80]!r}")
            )
        translated.append(("model_version", versions[0]))
    try:
        flt = parse_filters(translated)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    if problems:
        raise InvalidInput("the filters are not valid", problems)
    return flt
