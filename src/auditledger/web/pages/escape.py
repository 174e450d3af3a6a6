"""HTML escaping for markup written in Python (the event rows, the filter form's options).

The same entities as the templates' autoescape (``markupsafe.escape``), without making a
``Markup`` object per value: pages write thousands of values.
"""

from __future__ import annotations


def html_escape(value: object) -> str:
    """``value`` as text with ``& < > " '`` escaped, exactly as ``markupsafe.escape`` does."""
    text = value if type(value) is str else str(value)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )
