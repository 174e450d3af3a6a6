"""The ingest body's OpenAPI schema, generated from the catalog: one schema per event type.

The pydantic model :class:`~auditledger_client.core.wire.EventIn` types ``properties`` as a free
object and ``category``/``type`` as free strings, because the catalog is data. A document that
says only that lets a standard fuzzer (schemathesis) generate thousands of events without one
the service accepts. So the document describes the event as a discriminated union: ``EventIn``
is one of the categories (discriminator ``category``), each category one of its types
(discriminator ``type``), and each type names its exact properties, its subject's types and
whether the subject names a parent. Validation still happens in :mod:`auditledger.ingest`;
this is only its description, derived from the same catalog so the two cannot drift.
"""

from __future__ import annotations

from typing import Any

from auditledger_client.core.catalog import (
    SEED,
    Catalog,
    CategorySpec,
    EventTypeSpec,
    PropertyKind,
    PropertySpec,
)
from auditledger_client.core.validate import MAX_LIST_ITEMS, MAX_SAFE_INTEGER
from auditledger_client.core.wire import (
    MAX_BATCH_EVENTS,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
)

Schema = dict[str, Any]
REF = "#/components/schemas/"

# No NUL anywhere (storage refuses it); ids of resources with pages have no "/" either.
_TEXT = "^[^\\u0000]*$"
_RESOURCE_ID = "^[^\\u0000/]*$"


def _text(max_length: int | None = None, *, pattern: str = _TEXT, minimum: int = 0) -> Schema:
    schema: Schema = {"type": "string", "pattern": pattern}
    if minimum:
        schema["minLength"] = minimum
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def _ref_schema(id_pattern: str, *, type_enum: tuple[str, ...] = ()) -> Schema:
    properties: Schema = {
        "id": _text(MAX_ID_CHARS, pattern=id_pattern, minimum=1),
        "name": _text(MAX_NAME_CHARS, minimum=1),
    }
    if type_enum:
        properties = {"type": {"type": "string", "enum": list(type_enum)}, **properties}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["id"],
        "properties": properties,
    }


def property_schema(prop: PropertySpec) -> Schema:
    """The JSON Schema of one catalog property's values."""
    schema: Schema
    if prop.kind is PropertyKind.ENUM:
        schema = {"type": "string", "enum": list(prop.choices)}
    elif prop.kind is PropertyKind.STRING_LIST:
        schema = {"type": "array", "maxItems": MAX_LIST_ITEMS, "items": _text()}
    elif prop.kind is PropertyKind.INTEGER:
        schema = {"type": "integer", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER}
    elif prop.kind is PropertyKind.BOOLEAN:
        schema = {"type": "boolean"}
    else:
        schema = _text()
    if prop.description:
        schema["description"] = prop.description
    return schema


def _subject_schema(cat: CategorySpec) -> Schema:
    subject = _ref_schema(_RESOURCE_ID, type_enum=cat.subject_types)
    if cat.parent_type is not None:
        parent = _ref_schema(_RESOURCE_ID, type_enum=(cat.parent_type,))
        subject["properties"]["parent"] = parent
        subject["required"] = ["id", "parent"]
    return subject


def _type_schema(cat: CategorySpec, spec: EventTypeSpec) -> Schema:
    required_props = [p.key for p in spec.properties if p.required]
    properties: Schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {p.key: property_schema(p) for p in spec.properties},
    }
    if required_props:
        properties["required"] = required_props
    required = ["category", "type", "subject", "actor"]
    if required_props:
        required.append("properties")
    return {
        "title": f"{cat.key}.{spec.key}",
        "description": spec.description,
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": {
            "id": {
                "type": "string",
                "format": "uuid",
                "description": "A UUID chosen by the platform; re-sending the same id is safe.",
            },
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "description": "When the action happened, ISO 8601 with an offset, at most "
                "microsecond precision, in 1970..9998 (UTC), not more than 5 minutes ahead "
                "and not past retention. Defaults to the time received.",
            },
            "category": {"type": "string", "enum": [cat.key]},
            "type": {"type": "string", "enum": [spec.key]},
            "subject": _subject_schema(cat),
            "properties": properties,
            "project": _ref_schema(_RESOURCE_ID),
            "actor": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name"],
                "properties": {
                    "type": {"type": "string", "enum": ["user", "system"]},
                    "id": _text(MAX_ID_CHARS, minimum=1),
                    "name": _text(MAX_NAME_CHARS, minimum=1),
                },
            },
            "source": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ip"],
                "properties": {
                    "ip": {
                        "type": "string",
                        "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
                        "description": "IPv4 or IPv6 address of the actor.",
                    }
                },
            },
        },
    }


def schema_name(cat: CategorySpec, spec: EventTypeSpec | None = None) -> str:
    """``Event_model_rename`` for a type, ``Event_model`` for a category."""
    return f"Event_{cat.key}" + (f"_{spec.key}" if spec else "")


def event_schemas(catalog: Catalog = SEED) -> dict[str, Schema]:
    """``EventIn`` (the union), one schema per category and per type, and ``BatchIn``, for
    the deployment's catalog (the seed's plus its extensions)."""
    schemas: dict[str, Schema] = {}
    by_category: Schema = {}
    for cat in catalog.platform_categories():
        by_type: Schema = {}
        for spec in cat.types:
            name = schema_name(cat, spec)
            schemas[name] = _type_schema(cat, spec)
            by_type[spec.key] = REF + name
        schemas[schema_name(cat)] = {
            "title": cat.key,
            "description": cat.description,
            "oneOf": [{"$ref": ref} for ref in by_type.values()],
            "discriminator": {"propertyName": "type", "mapping": by_type},
        }
        by_category[cat.key] = REF + schema_name(cat)
    schemas["EventIn"] = {
        "title": "EventIn",
        "description": "One audit event as sent by the platform: one of the catalog's event "
        "types (docs/events.md), chosen by `category` and then `type`.",
        "oneOf": [{"$ref": ref} for ref in by_category.values()],
        "discriminator": {"propertyName": "category", "mapping": by_category},
    }
    schemas["BatchIn"] = {
        "title": "BatchIn",
        "description": "Several events, stored all together or not at all.",
        "type": "object",
        "additionalProperties": False,
        "required": ["events"],
        "properties": {
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH_EVENTS,
                "items": {"$ref": REF + "EventIn"},
            }
        },
    }
    return schemas
