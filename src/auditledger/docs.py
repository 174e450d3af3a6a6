"""Regenerate the generated documentation: ``python -m auditledger.docs``.

Writes ``docs/events.md`` and the client's typed event classes
(``clients/python/src/auditledger_client/events.py``) from
the catalog, and the configuration table of ``README.md`` (between its ``settings:begin`` and
``settings:end`` markers) from the settings table.
"""

from __future__ import annotations

import sys
from pathlib import Path

from auditledger.settings import SETTINGS
from auditledger_client.codegen import render as render_client_events
from auditledger_client.core.catalog.docs import render_markdown

BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"


def settings_table() -> str:
    """The Markdown table of every setting."""
    rows = ["| Setting | Environment variable | Default | Meaning |", "|---|---|---|---|"]
    for setting in SETTINGS:
        rows.append(
            f"| `{setting.name}` | `{setting.env}` | `{setting.default_text()}` | {setting.help} |"
        )
    return "\n".join(rows)


def readme_with_settings(readme: str) -> str:
    """``readme`` with its settings block replaced by the current table."""
    start = readme.index(BEGIN) + len(BEGIN)
    end = readme.index(END)
    return readme[:start] + "\n" + settings_table() + "\n" + readme[end:]


def main(root: Path) -> None:
    """Write the generated files under ``root`` (the repository)."""
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "events.md").write_text(render_markdown(), encoding="utf-8")
    client_events = root / "clients" / "python" / "src" / "auditledger_client" / "events.py"
    client_events.write_text(render_client_events(), encoding="utf-8")
    readme = root / "README.md"
    readme.write_text(readme_with_settings(readme.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
