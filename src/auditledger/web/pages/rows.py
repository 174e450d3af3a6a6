"""Events as table rows: every cell prepared once in Python, so templates only place text.

The columns are the product spec's: Timestamp, Event Category, Event Type, Event Subject, Event
Properties, Project, Actor and, for administrators only, Source. A member's rows have no source
at all (the query never read it), so there is nothing to leak by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from urllib.parse import quote

from auditledger.events.render import category_label, describe_properties, type_label
from auditledger.web.pages.zone import local
from auditledger_client.core.catalog import SEED, Catalog
from auditledger_client.core.event import Event


@dataclass(frozen=True)
class Link:
    """Text, and where it leads (None: plain text)."""

    text: str
    href: str | None = None
    detail: str | None = None  # a secondary line, e.g. the id or the parent


@dataclass(frozen=True)
class TimeCell:
    """A timestamp: shown in the viewer's zone, with the UTC instant for machines and hover."""

    shown: str
    iso_utc: str
    title: str


@dataclass(frozen=True)
class EventRow:
    """One table row."""

    event_id: str
    time: TimeCell
    category: str
    type: str
    subject: Link
    properties: str
    project: Link | None
    actor: Link
    actor_is_system: bool
    source: Link | None  # only ever set for administrators


def time_cell(event: Event, zone: str) -> TimeCell:
    """The event's time in ``zone``; UTC in ``datetime`` and ``title``."""
    utc = event.occurred_at.astimezone(UTC)
    if utc.year >= 1000:
        # isoformat is what strftime writes for these years, several times faster (a page
        # formats 1,500 of these).
        shown = local(utc, zone).replace(tzinfo=None).isoformat(" ", "seconds")
        naive = utc.replace(tzinfo=None)
        return TimeCell(
            shown=shown,
            iso_utc=naive.isoformat("T", "microseconds") + "Z",
            title=naive.isoformat(" ", "seconds") + " UTC",
        )
    return TimeCell(
        shown=local(utc, zone).strftime("%Y-%m-%d %H:%M:%S"),
        iso_utc=utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        title=utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
    )


def _subject(event: Event, base: str) -> Link:
    """The subject's name, linked to its model's page for models and model versions."""
    subject = event.subject
    detail = subject.type.replace("_", " ")
    if subject.parent is not None:
        detail = f"{detail} of {subject.parent.name or subject.parent.id}"
    href = None
    model_id = subject.model_id
    if model_id is not None:
        href = f"{base}/models/{quote(model_id, safe='')}"
        if subject.type == "model_version":
            href += "?version=" + quote(subject.id, safe="")
    return Link(subject.name or subject.id, href, detail)


def event_row(
    event: Event, *, base: str, zone: str, with_source: bool, catalog: Catalog = SEED
) -> EventRow:
    """The row for ``event``; ``base`` is the organization's page prefix (``/orgs/acme``)."""
    project = None
    if event.project is not None:
        project = Link(
            event.project.name or event.project.id,
            f"{base}/projects/{quote(event.project.id, safe='')}",
        )
    source = None
    if with_source and event.source is not None:
        location = event.source.location.label() if event.source.location else None
        source = Link(event.source.ip, None, location)
    return EventRow(
        event_id=str(event.event_id),
        time=time_cell(event, zone),
        category=category_label(event.category, catalog),
        type=type_label(event.category, event.type, catalog),
        subject=_subject(event, base),
        properties=describe_properties(event, catalog),
        project=project,
        actor=Link(event.actor.name, None, event.actor.id),
        actor_is_system=event.actor.type == "system",
        source=source,
    )
