"""The catalog holds the seed's "Tracked events" table exactly: categories, types, properties."""

from __future__ import annotations

import os
import re
from pathlib import Path

from auditledger_client.core.catalog import CATEGORIES, PropertyKind, platform_categories

# The seed's table as facts: category label -> {type label: [property labels]}. A property
# label with choices is written "Label (choice, choice)", as the seed writes it.
SEED_TABLE: dict[str, dict[str, list[str]]] = {
    "Execution": {
        "Run": ["Commit ID", "environment ID", "step name"],
        "Stop": [],
        "Delete": [],
        "Rename": ["Old name", "New name"],
    },
    "Task": {
        "Run": ["Workload (execution, pipeline)"],
        "Stop": [],
        "Delete": [],
        "Rename": ["Old name", "New name"],
    },
    "Pipeline": {"Run": [], "Stop": [], "Delete": [], "Rename": ["Old name", "New name"]},
    "Datum": {"Import": [], "Download": [], "Delete": [], "Preview": []},
    "Dataset": {"Create": ["Dataset name"], "Delete": [], "Rename": ["Old name", "New name"]},
    "Dataset version": {"Create": [], "Archive": []},
    "Model": {
        "Create": ["Model name"],
        "Archive": [],
        "Rename": ["Old name", "New name"],
        "Description change": ["Old description", "New description"],
    },
    "Model version": {
        "Create": [],
        "Approve": [],
        "Reject": [],
        "Tag change": ["Old tags", "New tags"],
        "Download": [],
    },
    "User": {
        "Login": [],
        "Logout": [],
        "Team membership change": ["Old teams", "New teams"],
        "User name change": ["Old name", "New name"],
    },
}

# The spec, committed so a clone anywhere checks against it (docs/seed/audit-log.txt).
SEED_COPY = Path(__file__).resolve().parents[2] / "docs" / "seed" / "audit-log.txt"


def original_seed_file() -> Path | None:
    """The project's shared seed document, if this clone sits where it can see it.

    ``AUDITLEDGER_SEED_FILE`` names it; otherwise a ``shared/seed/audit-log.txt`` beside any
    folder above the clone (``/work/shared`` for ``/work/main`` and ``/work/wt/<branch>``).
    """
    named = os.environ.get("AUDITLEDGER_SEED_FILE")
    if named:
        return Path(named)
    for folder in SEED_COPY.parents[2:]:
        candidate = folder / "shared" / "seed" / "audit-log.txt"
        if candidate.exists():
            return candidate
    return None


def catalog_as_table() -> dict[str, dict[str, list[str]]]:
    """The platform part of the catalog in the seed table's shape."""
    table: dict[str, dict[str, list[str]]] = {}
    for cat in platform_categories():
        table[cat.label] = {}
        for spec in cat.types:
            labels = []
            for prop in spec.properties:
                label = prop.label
                if prop.kind is PropertyKind.ENUM:
                    label += " (" + ", ".join(prop.choices) + ")"
                labels.append(label)
            table[cat.label][spec.label] = labels
    return table


def _normalise(table: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    return {
        c.lower(): {t.lower(): [p.lower() for p in props] for t, props in types.items()}
        for c, types in table.items()
    }


def test_catalog_matches_the_seed_table() -> None:
    assert _normalise(catalog_as_table()) == _normalise(SEED_TABLE)


def parse_seed_table(text: str) -> dict[str, dict[str, list[str]]]:
    """The "Tracked events" table of the seed document, read from its text."""
    section = text.split("Tracked events", 1)[1].split("Exporting audit logs", 1)[0]
    lines = [line.strip() for line in section.strip().splitlines() if line.strip()]
    table: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        heading = re.fullmatch(r"(.+) events", line)
        if heading:
            current = table.setdefault(heading.group(1), {})
            index += 1
            continue
        assert current is not None, f"a type before any category: {line!r}"
        properties = lines[index + 1]
        current[line] = [] if properties == "-" else _split_properties(properties)
        index += 2
    return table


def _split_properties(text: str) -> list[str]:
    # "Workload (execution, pipeline)" is one property with choices, not three.
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return parts


def test_seed_table_data_matches_the_seed_document() -> None:
    # Always runs, on the committed copy; where the shared original is visible, the copy must
    # be that document byte for byte, so the copy cannot drift from the spec unnoticed.
    assert _normalise(parse_seed_table(SEED_COPY.read_text(encoding="utf-8"))) == _normalise(
        SEED_TABLE
    )
    original = original_seed_file()
    if original is not None:
        assert SEED_COPY.read_bytes() == original.read_bytes(), (
            f"{SEED_COPY} differs from {original}"
        )


def test_seed_parser_reads_choices_and_dashes() -> None:
    text = "Tracked events\nTask events\nRun\nWorkload (a, b)\nStop\n-\nExporting audit logs"
    assert parse_seed_table(text) == {"Task": {"Run": ["Workload (a, b)"], "Stop": []}}


def test_keys_are_stable_identifiers() -> None:
    ident = re.compile(r"^[a-z][a-z0-9_]*$")
    for cat in CATEGORIES:
        assert ident.match(cat.key)
        for spec in cat.types:
            assert ident.match(spec.key)
            for prop in spec.properties:
                assert ident.match(prop.key)
            assert len({p.key for p in spec.properties}) == len(spec.properties)


def test_own_category_is_internal_and_separate() -> None:
    internal = [c.key for c in CATEGORIES if c.internal]
    assert internal == ["audit_log"]
    assert "audit_log" not in {c.key for c in platform_categories()}
