"""Generated documentation is never stale."""

from __future__ import annotations

from pathlib import Path

from auditledger.docs import readme_with_settings
from auditledger.settings import SETTINGS
from auditledger_client.core.catalog.docs import render_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_events_doc_is_current() -> None:
    assert (ROOT / "docs" / "events.md").read_text(encoding="utf-8") == render_markdown(), (
        "docs/events.md is stale: run `make docs`"
    )


def test_events_doc_lists_every_type() -> None:
    text = render_markdown()
    for needle in ("`model_version.tag_change`", "`task.run`", "`audit_log.export`", "`old_tags`"):
        assert needle in text


def test_readme_settings_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_with_settings(readme) == readme, "README settings table is stale: `make docs`"
    for setting in SETTINGS:
        assert setting.env in readme
