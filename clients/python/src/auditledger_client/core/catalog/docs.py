"""Render the catalog as Markdown (``docs/events.md``), so the docs cannot drift from the code."""

from __future__ import annotations

from auditledger_client.core.catalog.events import CATEGORIES
from auditledger_client.core.catalog.model import PropertySpec

HEADER = """\
# Event catalog

<!-- Generated from src/auditledger/catalog/events.py by `make docs`. Do not edit by hand: -->
<!-- tests/catalog/test_docs.py fails when this file is stale. -->

Every event auditledger records is one of the types below. The platform sends the platform
categories; the **Audit log** category is recorded by auditledger itself (the audit log audits
itself) and the ingestion API refuses it. Sending an unknown category or type, leaving out a
required property, sending a property of the wrong type or one the type does not define is
answered with HTTP 422 naming the field and what is allowed.

Every event also carries the fields of the seed's "Event information": timestamp, category,
type, subject (type, id, name at the time; versions name their parent), properties, project
(optional), actor (user or system) and source (IP address; auditledger adds the location).
See the [README](../README.md#ingestion-api) for the wire format.
"""


def _property_cell(prop: PropertySpec) -> str:
    optional = "" if prop.required else " (optional)"
    return f"`{prop.key}`{optional}: {prop.describe_type()}. {prop.description}".strip()


def render_markdown() -> str:
    """The full text of ``docs/events.md``."""
    lines = [HEADER]
    for cat in CATEGORIES:
        origin = "recorded by auditledger" if cat.internal else "sent by the platform"
        lines.append(f"## {cat.label} (`{cat.key}`)\n")
        lines.append(
            f"{cat.description} Subject type: "
            + ", ".join(f"`{t}`" for t in cat.subject_types)
            + (f"; the subject names its parent `{cat.parent_type}`" if cat.parent_type else "")
            + f"; {origin}.\n"
        )
        lines.append("| Type | Label | Description | Properties |")
        lines.append("|---|---|---|---|")
        for spec in cat.types:
            props = "<br>".join(_property_cell(p) for p in spec.properties) or "-"
            lines.append(
                f"| `{cat.key}.{spec.key}` | {spec.label} | {spec.description} | {props} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
