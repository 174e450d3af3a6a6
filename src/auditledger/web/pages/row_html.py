"""The event table's rows as HTML, written in Python: the page's 500 rows in one string.

Rendering the rows through Jinja cost about two thirds of the Audit Log page's server time (a
template call, an attribute lookup, ``finalize`` and escaping for each of some 10,000 printed
values). The markup is the one ``_results.html`` had, cell for cell; each value goes through
the same two steps the templates apply to everything they print: HTML escaping, and invisible
characters made visible (:func:`auditledger.web.pages.visible.visible`).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from auditledger.web.pages.escape import html_escape as _h
from auditledger.web.pages.rows import EventRow
from auditledger.web.pages.visible import visible

_NONE = '<span class="none">—</span>'


def _row(row: EventRow, base: str, with_source: bool) -> str:
    event_id = _h(row.event_id)
    time = row.time
    shown = _h(time.shown)
    subject = row.subject
    subject_text = f"<bdi>{_h(subject.text)}</bdi>"
    if subject.href:
        subject_text = f'<a href="{_h(subject.href)}">{subject_text}</a>'
    project = row.project
    project_cell = (
        f'<a href="{_h(project.href)}"><bdi>{_h(project.text)}</bdi></a>' if project else _NONE
    )
    system = ' <span class="badge">system</span>' if row.actor_is_system else ""
    source_cell = ""
    if with_source:
        source = row.source
        if source:
            detail = f'<span class="detail">{_h(source.detail)}</span>' if source.detail else ""
            inner = f"{_h(source.text)}{detail}"
        else:
            inner = _NONE
        source_cell = f'\n          <td class="source">{inner}</td>'
    return (
        f'        <tr data-event="{event_id}">\n'
        f'          <th scope="row" class="time"><a href="{_h(base)}/events/{event_id}" '
        f'aria-label="{shown}: the full record and its proof"><time datetime="'
        f'{_h(time.iso_utc)}" title="{_h(time.title)}">{shown}</time></a></th>\n'
        f"          <td>{_h(row.category)}</td>\n"
        f"          <td>{_h(row.type)}</td>\n"
        f'          <td class="subject">{subject_text}<span class="detail">'
        f"{_h(subject.detail)}</span></td>\n"
        f'          <td class="properties" dir="auto">{_h(row.properties)}</td>\n'
        f"          <td>{project_cell}</td>\n"
        f'          <td class="actor"><bdi>{_h(row.actor.text)}</bdi>{system}</td>'
        f"{source_cell}\n"
        f"        </tr>\n"
    )


def table_rows(rows: Sequence[EventRow], *, base: str, with_source: bool) -> Markup:
    """The ``<tr>`` elements of ``rows`` (the Source cell only ``with_source``); ``base`` is
    the organization's page prefix."""
    written = "".join(_row(row, base, with_source) for row in rows)
    # Invisible characters shown once over the whole: the markup added holds none, and
    # escaping neither makes nor hides one, so this is ``visible`` applied to each value.
    # Every value went through _h: the whole is safe markup.
    return Markup(visible(written))  # noqa: S704
