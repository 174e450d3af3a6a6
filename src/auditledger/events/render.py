"""Events as people and programs read them: one JSON shape and one readable summary.

The JSON API, the JSON Lines export and the evidence bundle all use :func:`event_json`; pages
and the CSV export use :func:`describe_properties` for a one-line reading of the properties.
Sources appear only when the caller may see them: for members the key is absent, not empty,
so no client mistakes "hidden" for "unknown".
"""

from __future__ import annotations

import re
from typing import Any

from auditledger.core.canonical import format_timestamp
from auditledger_client.core.catalog import SEED, Catalog
from auditledger_client.core.catalog.model import PropertySpec
from auditledger_client.core.event import Event, PropertyValue


def event_json(
    event: Event, *, include_source: bool, leaf_hash: bytes | None = None
) -> dict[str, Any]:
    """The JSON object for one event (``source`` only with ``include_source``)."""
    subject: dict[str, Any] = {
        "type": event.subject.type,
        "id": event.subject.id,
        "name": event.subject.name,
    }
    if event.subject.parent is not None:
        subject["parent"] = {
            "type": event.subject.parent_type,
            "id": event.subject.parent.id,
            "name": event.subject.parent.name,
        }
    body: dict[str, Any] = {
        "id": str(event.event_id),
        "organization": event.org,
        "seq": event.seq,
        "timestamp": format_timestamp(event.occurred_at),
        "received": format_timestamp(event.received_at),
        "category": event.category,
        "type": event.type,
        "subject": subject,
        "properties": event.properties,
        "project": (
            {"id": event.project.id, "name": event.project.name} if event.project else None
        ),
        "actor": {"type": event.actor.type, "id": event.actor.id, "name": event.actor.name},
    }
    if include_source:
        body["source"] = (
            {
                "ip": event.source.ip,
                "location": event.source.location.as_dict() if event.source.location else None,
            }
            if event.source
            else None
        )
    digest = leaf_hash if leaf_hash is not None else event.leaf_hash
    if digest is not None:
        body["hash"] = digest.hex()
    return body


# auditledger's own instants (a purge's cutoff) in their canonical form.
_INSTANT = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})(\.\d+)?Z$")


def _value_text(value: PropertyValue, prop: PropertySpec | None = None) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]" if value else "(none)"
    if value == "":
        return "(empty)"
    if isinstance(value, str):
        if prop is not None and prop.choices:
            return prop.value_label(value)
        instant = _INSTANT.match(value)
        if instant:
            # "2026-06-04 00:00 UTC": seconds only when there are any, never microseconds.
            seconds = instant.group(3) if instant.group(3) != ":00" else ""
            return f"{instant.group(1)} {instant.group(2)}{seconds} UTC"
    return str(value)


def describe_properties(event: Event, catalog: Catalog = SEED) -> str:
    """A readable line: ``old name -> new name`` for changes, ``Label: value`` otherwise."""
    props = event.properties
    if not props:
        return ""
    pairs = [k[4:] for k in props if k.startswith("old_") and "new_" + k[4:] in props]
    parts = [
        f"{_value_text(props['old_' + name])} -> {_value_text(props['new_' + name])}"
        for name in pairs
    ]
    spec = catalog.category(event.category)
    type_spec = spec.type(event.type) if spec else None
    for key, value in props.items():
        if key.startswith(("old_", "new_")) and key[4:] in pairs:
            continue
        prop = type_spec.property(key) if type_spec else None
        label = prop.label if prop else key
        parts.append(f"{label}: {_value_text(value, prop)}")
    return "; ".join(parts)


def category_label(category: str, catalog: Catalog = SEED) -> str:
    """``Model version`` for ``model_version``; the key itself for a category the catalog no
    longer has (an extension removed later: the event keeps its own keys)."""
    spec = catalog.category(category)
    return spec.label if spec else category


def type_label(category: str, type_: str, catalog: Catalog = SEED) -> str:
    """``Tag change`` for ``model_version.tag_change``."""
    spec = catalog.category(category)
    type_spec = spec.type(type_) if spec else None
    return type_spec.label if type_spec else type_
