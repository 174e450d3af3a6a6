"""The filter form's ``<option>`` lists written in Python: a model's thousands of versions, the
actors and projects, and some 600 time zones.

Through Jinja each option cost a loop step, attribute lookups, ``finalize`` and escaping of two
values: about 45 ms of the Audit Log page filtered by a model with 3,300 versions. The markup
is the one ``_filters.html`` wrote, option for option; each value goes through the two steps
the templates apply to everything they print: HTML escaping, and invisible characters made
visible (:func:`auditledger.web.pages.visible.visible`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from markupsafe import Markup

from auditledger.web.pages.escape import html_escape
from auditledger.web.pages.filter_form import Option
from auditledger.web.pages.visible import visible


def options_html(options: Iterable[Option]) -> Markup:
    """The ``<option>`` elements of ``options``, the selected ones marked."""
    written = "".join(
        f'<option value="{html_escape(o.value)}"{" selected" if o.selected else ""}>'
        f"{html_escape(o.label)}</option>"
        for o in options
    )
    # As in row_html: escaping neither makes nor hides an invisible character, and the markup
    # added holds none, so one pass over the whole is ``visible`` applied to each value.
    return Markup(visible(written))  # noqa: S704 (every value went through html_escape)


@lru_cache(maxsize=4)  # one list of zones per process (zone.zone_names)
def _zone_options(zones: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    # Each zone's option, unselected and selected, written once rather than on every view.
    return tuple(
        (f"<option>{shown}</option>", f"<option selected>{shown}</option>")
        for shown in (visible(html_escape(name)) for name in zones)
    )


def zone_options_html(zones: Sequence[str], selected: str) -> Markup:
    """An ``<option>`` per zone name (the name is the value), ``selected`` marked."""
    written = _zone_options(tuple(zones))
    return Markup(  # noqa: S704 (written from escaped names)
        "".join(
            chosen if name == selected else plain
            for name, (plain, chosen) in zip(zones, written, strict=True)
        )
    )
