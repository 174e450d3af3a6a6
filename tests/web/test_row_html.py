"""The event table's rows written in Python are the markup the template wrote, value for value:
the same cells, the same escaping, invisible characters shown the same way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from auditledger.web.pages.render import templates
from auditledger.web.pages.row_html import table_rows
from auditledger.web.pages.rows import EventRow, event_row
from auditledger_client.core.event import Actor, Event, Location, Ref, Source, Subject

# The loop _results.html had before the rows moved to pages/row_html.py, rendered through the
# pages' own Jinja environment (autoescape, and ``visible`` on every printed value).
TEMPLATE_ROWS = """\
        {% for row in rows %}
        <tr data-event="{{ row.event_id }}">
          <th scope="row" class="time"><a href="{{ base }}/events/{{ row.event_id }}" aria-label="{{ row.time.shown }}: the full record and its proof"><time datetime="{{ row.time.iso_utc }}" title="{{ row.time.title }}">{{ row.time.shown }}</time></a></th>
          <td>{{ row.category }}</td>
          <td>{{ row.type }}</td>
          <td class="subject">{% if row.subject.href %}<a href="{{ row.subject.href }}"><bdi>{{ row.subject.text }}</bdi></a>{% else %}<bdi>{{ row.subject.text }}</bdi>{% endif %}<span class="detail">{{ row.subject.detail }}</span></td>
          <td class="properties" dir="auto">{{ row.properties }}</td>
          <td>{% if row.project %}<a href="{{ row.project.href }}"><bdi>{{ row.project.text }}</bdi></a>{% else %}<span class="none">—</span>{% endif %}</td>
          <td class="actor"><bdi>{{ row.actor.text }}</bdi>{% if row.actor_is_system %} <span class="badge">system</span>{% endif %}</td>
          {% if with_source %}
          <td class="source">{% if row.source %}{{ row.source.text }}{% if row.source.detail %}<span class="detail">{{ row.source.detail }}</span>{% endif %}{% else %}<span class="none">—</span>{% endif %}</td>
          {% endif %}
        </tr>
        {% endfor %}
"""  # noqa: E501

WHEN = datetime(2026, 5, 4, 10, 30, 15, 123456, tzinfo=UTC)


def _event(seq: int, **changes: object) -> Event:
    fields: dict[str, object] = {
        "org": "acme",
        "seq": seq,
        "event_id": uuid.UUID(int=seq + 1),
        "occurred_at": WHEN,
        "received_at": WHEN,
        "category": "model",
        "type": "rename",
        "subject": Subject("model", "mdl-1", "churn <model>"),
        "properties": {"old_name": "a & b", "new_name": 'say "hi"'},
        "project": Ref("prj-1", "Churn"),
        "actor": Actor("user", "u-1", "Ada"),
        "source": Source("192.0.2.1", Location("FI", "Finland", "Helsinki")),
    }
    fields.update(changes)
    return Event(**fields)  # type: ignore[arg-type]


EVENTS = [
    _event(0),
    # Bidi controls in a name, markup in a property: shown, never obeyed.
    _event(
        1,
        subject=Subject("model", "mdl-2", "admin\u202egnp.exe"),
        properties={"reason": "<script>alert(1)</script>"},
    ),
    # A model version (linked with its version), no project, the system, no location.
    _event(
        2,
        category="model_version",
        type="tag_change",
        subject=Subject("model_version", "mdl-1-v2", "v2", "model", Ref("mdl-1", "churn")),
        project=None,
        actor=Actor("system", "scheduler", "Scheduler"),
        source=Source("10.0.0.1", None),
    ),
    # No source at all; a subject without a name; an id needing quoting in links.
    _event(3, subject=Subject("dataset", "ds/1 ?x", None), source=None, properties={}),
]


def _rows(with_source: bool) -> list[EventRow]:
    return [
        event_row(e, base="/orgs/acme", zone="Europe/Helsinki", with_source=with_source)
        for e in EVENTS
    ]


@pytest.mark.parametrize("with_source", [True, False])
def test_rows_are_the_templates_markup(with_source: bool) -> None:
    rows = _rows(with_source)
    expected = templates.env.from_string(TEMPLATE_ROWS).render(
        rows=rows, base="/orgs/acme", with_source=with_source
    )
    written = table_rows(rows, base="/orgs/acme", with_source=with_source)
    assert str(written) == expected


def test_rows_escape_and_show_invisible_characters() -> None:
    written = str(table_rows(_rows(True), base="/orgs/acme", with_source=True))
    assert "<script>" not in written
    assert "&lt;script&gt;" in written
    assert "\u202e" not in written
    assert "admin⟨U+202E⟩gnp.exe" in written
    assert "churn &lt;model&gt;" in written
    assert written.count('<td class="source">') == len(EVENTS)
    member = str(table_rows(_rows(False), base="/orgs/acme", with_source=False))
    assert '<td class="source">' not in member
    assert "192.0.2.1" not in member


@pytest.mark.parametrize(
    "instant",
    [WHEN, WHEN.replace(microsecond=0), datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)],
)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Helsinki", "America/St_Johns"])
def test_time_cells_read_as_strftime_writes_them(instant: datetime, zone: str) -> None:
    cell = event_row(
        _event(0, occurred_at=instant), base="/orgs/acme", zone=zone, with_source=False
    ).time
    shown = instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")
    assert cell.shown == shown
    assert cell.iso_utc == instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert cell.title == instant.strftime("%Y-%m-%d %H:%M:%S UTC")
