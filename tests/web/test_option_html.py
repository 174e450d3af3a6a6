"""The filter form's options written in Python are the markup the template's loops wrote:
the same values and labels, the same escaping, invisible characters shown the same way, and
the current values selected."""

from __future__ import annotations

from auditledger.web.pages.filter_form import Option
from auditledger.web.pages.option_html import options_html, zone_options_html
from auditledger.web.pages.render import templates
from auditledger.web.pages.zone import zone_names

# The loops _filters.html had before the options moved to pages/option_html.py, rendered
# through the pages' own Jinja environment (autoescape, and ``visible`` on every value).
TEMPLATE_OPTIONS = (
    '{% for o in options %}<option value="{{ o.value }}"{% if o.selected %} selected'
    "{% endif %}>{{ o.label }}</option>{% endfor %}"
)
TEMPLATE_ZONES = (
    "{% for name in zones %}<option{% if name == zone %} selected{% endif %}>{{ name }}"
    "</option>{% endfor %}"
)

OPTIONS = [
    Option("mdl-1-v7", "v7", False),
    Option("mdl-1-v8", "v8", True),
    # Markup and quotes in a name, an id needing escaping: shown, never obeyed.
    Option('a"b&c', "<script>alert('x')</script>", False),
    # Bidi controls and a C0 control in a label and a value: written as their code points.
    Option("id\u202e", "admin\u202egnp.exe\x07", True),
    Option("", "", False),
]


def _jinja(source: str, **values: object) -> str:
    return templates.env.from_string(source).render(**values)


def test_options_are_the_template_loops_markup() -> None:
    written = options_html(OPTIONS)
    assert str(written) == _jinja(TEMPLATE_OPTIONS, options=OPTIONS)
    assert "<script>" not in written
    assert "\u202e" not in written
    assert "⟨U+202E⟩" in written


def test_no_options_write_nothing() -> None:
    assert str(options_html([])) == ""


def test_the_viewers_zone_is_selected_as_the_template_did() -> None:
    zones = zone_names()
    for zone in ("UTC", "Europe/Helsinki", zones[-1]):
        written = str(zone_options_html(zones, zone))
        assert written == _jinja(TEMPLATE_ZONES, zones=zones, zone=zone)
        assert written.count(" selected") == 1
        assert f"<option selected>{zone}</option>" in written


def test_a_zone_not_offered_selects_none() -> None:
    # Etc/GMT+2 is a zone the pages accept but the form does not list.
    zones = zone_names()
    written = str(zone_options_html(zones, "Etc/GMT+2"))
    assert written == _jinja(TEMPLATE_ZONES, zones=zones, zone="Etc/GMT+2")
    assert " selected" not in written


def test_zone_names_are_escaped_as_the_template_did() -> None:
    zones = ("UTC", "A&B/<C>", "Q\u202eR")
    written = str(zone_options_html(zones, "A&B/<C>"))
    assert written == _jinja(TEMPLATE_ZONES, zones=zones, zone="A&B/<C>")
    assert "<option selected>A&amp;B/&lt;C&gt;</option>" in written
