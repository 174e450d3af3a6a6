"""Catalog extensions: a deployment's own categories and types, declared in a TOML file.

The seed's catalog says what every ML platform records; a deployment may record more (MLflow
has experiments, aliases, tags on runs). An extension file declares it::

    [categories.mlflow_experiment]
    label = "MLflow experiment"
    description = "An MLflow experiment, the project its runs belong to."

    [categories.mlflow_experiment.types.rename]
    label = "Rename"
    description = "The experiment was renamed."
    properties.old_name = { kind = "string", description = "The name before." }
    properties.new_name = { kind = "string", description = "The name after." }

    # A new type in a seed category (never a change of a seed type):
    [categories.execution.types.tag_change]
    ...

A category key or a type key of the seed cannot be redefined, auditledger's own category
cannot be extended, and every problem of the file is reported at once with its place.
Validation, filters, the docs, the OpenAPI document and the client all read the resulting
:class:`~auditledger_client.core.catalog.model.Catalog`. Recorded events stay verifiable when
the file changes later: the canonical record of an event carries its category, type and
properties, never a reference to this file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditledger_client.core.catalog.events import SEED
from auditledger_client.core.catalog.model import (
    Catalog,
    CategorySpec,
    EventTypeSpec,
    PropertyKind,
    PropertySpec,
)
from auditledger_client.core.errors import InvalidInput, Problem

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_CATEGORY_FIELDS = {"label", "description", "subject_types", "parent_type", "types"}
_TYPE_FIELDS = {"label", "description", "properties"}
_PROPERTY_FIELDS = {"kind", "label", "description", "required", "choices"}
_KINDS = ", ".join(k.value for k in PropertyKind)


class CatalogExtensionError(InvalidInput):
    """The extension file is not valid; ``problems`` names each place (``categories.x.label``)."""

    code = "invalid_catalog_extension"


def load_extensions(path: Path, base: Catalog = SEED) -> Catalog:
    """``base`` extended by the TOML file at ``path``, or :class:`CatalogExtensionError`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogExtensionError(
            f"cannot read the catalog extension file {path}",
            [Problem("file", f"{exc.strerror or exc}")],
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogExtensionError(
            f"the catalog extension file {path} is not valid TOML", [Problem("file", str(exc))]
        ) from None
    return extend(base, data, source=str(path))


def extend(base: Catalog, data: Mapping[str, Any], *, source: str = "the extension") -> Catalog:
    """``base`` with the categories and types declared in ``data`` (a decoded TOML document)."""
    problems: list[Problem] = []
    unknown = set(data) - {"categories"}
    for key in sorted(unknown):
        problems.append(Problem(key, "is not a recognised field; an extension has [categories]"))
    categories = data.get("categories", {})
    if not isinstance(categories, Mapping):
        problems.append(Problem("categories", "must be a table of categories"))
        categories = {}
    result = list(base.categories)
    added: set[str] = set(base.extension_keys)
    for key, body in categories.items():
        where = f"categories.{key}"
        if not isinstance(body, Mapping):
            problems.append(Problem(where, "must be a table"))
            continue
        existing = base.category(key)
        if existing is not None:
            extended = _extend_category(where, existing, body, problems)
            if extended is not None:
                result[result.index(existing)] = extended
                added.add(key)
            continue
        new = _new_category(where, key, body, problems)
        if new is not None:
            result.append(new)
            added.add(key)
    if problems:
        raise CatalogExtensionError(f"{source} is not a valid catalog extension", problems)
    # New categories go after the platform's and before auditledger's own, as docs list them.
    ordered = [c for c in result if not c.internal] + [c for c in result if c.internal]
    return Catalog(tuple(ordered), frozenset(added))


def _text(where: str, body: Mapping[str, Any], key: str, problems: list[Problem]) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(Problem(f"{where}.{key}", "is required (a non-empty string)"))
        return ""
    return value


def _check_key(where: str, key: str, problems: list[Problem]) -> bool:
    if _KEY.match(key):
        return True
    problems.append(
        Problem(where, f"{key[:64]!r} is not a valid key (lowercase letters, digits, _; 64 max)")
    )
    return False


def _unknown_fields(
    where: str, body: Mapping[str, Any], allowed: set[str], problems: list[Problem]
) -> None:
    for key in sorted(set(body) - allowed):
        problems.append(
            Problem(
                f"{where}.{key}",
                f"is not a recognised field; allowed: {', '.join(sorted(allowed))}",
            )
        )


def _extend_category(
    where: str, existing: CategorySpec, body: Mapping[str, Any], problems: list[Problem]
) -> CategorySpec | None:
    if existing.internal:
        problems.append(Problem(where, f"{existing.key!r} is recorded by auditledger itself"))
        return None
    redefined = sorted(set(body) - {"types"})
    if redefined:
        problems.append(
            Problem(
                f"{where}.{redefined[0]}",
                f"{existing.key!r} is a seed category and cannot be redefined; "
                "an extension may only add [types] to it",
            )
        )
        return None
    types = _types(where, body.get("types"), problems, existing=existing)
    return CategorySpec(
        existing.key,
        existing.label,
        existing.description,
        existing.subject_types,
        existing.types + types,
        parent_type=existing.parent_type,
    )


def _new_category(
    where: str, key: str, body: Mapping[str, Any], problems: list[Problem]
) -> CategorySpec | None:
    if not _check_key(where, key, problems):
        return None
    _unknown_fields(where, body, _CATEGORY_FIELDS, problems)
    label = _text(where, body, "label", problems)
    description = _text(where, body, "description", problems)
    subject_types = body.get("subject_types", [key])
    if (
        not isinstance(subject_types, list)
        or not subject_types
        or not all(isinstance(s, str) and _KEY.match(s) for s in subject_types)
    ):
        problems.append(Problem(f"{where}.subject_types", "must be a non-empty list of keys"))
        subject_types = [key]
    parent_type = body.get("parent_type")
    if parent_type is not None and (
        not isinstance(parent_type, str) or not _KEY.match(parent_type)
    ):
        problems.append(Problem(f"{where}.parent_type", "must be a key such as 'model'"))
        parent_type = None
    types = _types(where, body.get("types"), problems, existing=None)
    if not types and isinstance(body.get("types"), Mapping) and not body["types"]:
        problems.append(Problem(f"{where}.types", "must declare at least one type"))
    if "types" not in body:
        problems.append(Problem(f"{where}.types", "is required (at least one type)"))
    return CategorySpec(
        key, label, description, tuple(subject_types), types, parent_type=parent_type
    )


def _types(
    where: str, body: Any, problems: list[Problem], *, existing: CategorySpec | None
) -> tuple[EventTypeSpec, ...]:
    if body is None:
        return ()
    if not isinstance(body, Mapping):
        problems.append(Problem(f"{where}.types", "must be a table of types"))
        return ()
    result = []
    for key, spec in body.items():
        here = f"{where}.types.{key}"
        if not _check_key(here, key, problems):
            continue
        if existing is not None and existing.type(key) is not None:
            problems.append(
                Problem(here, f"{existing.key}.{key} is a seed type and cannot be redefined")
            )
            continue
        if not isinstance(spec, Mapping):
            problems.append(Problem(here, "must be a table"))
            continue
        _unknown_fields(here, spec, _TYPE_FIELDS, problems)
        label = _text(here, spec, "label", problems)
        description = _text(here, spec, "description", problems)
        result.append(
            EventTypeSpec(
                key, label, description, _properties(here, spec.get("properties"), problems)
            )
        )
    return tuple(result)


def _properties(where: str, body: Any, problems: list[Problem]) -> tuple[PropertySpec, ...]:
    if body is None:
        return ()
    if not isinstance(body, Mapping):
        problems.append(Problem(f"{where}.properties", "must be a table of properties"))
        return ()
    result = []
    for key, spec in body.items():
        here = f"{where}.properties.{key}"
        if not _check_key(here, key, problems):
            continue
        if not isinstance(spec, Mapping):
            problems.append(Problem(here, 'must be a table such as { kind = "string" }'))
            continue
        _unknown_fields(here, spec, _PROPERTY_FIELDS, problems)
        try:
            kind = PropertyKind(spec.get("kind", "string"))
        except ValueError:
            problems.append(Problem(f"{here}.kind", f"must be one of {_KINDS}"))
            continue
        choices = spec.get("choices", [])
        if kind is PropertyKind.ENUM and (
            not isinstance(choices, list)
            or not choices
            or not all(isinstance(c, str) and c for c in choices)
        ):
            problems.append(Problem(f"{here}.choices", "an enum needs a list of strings"))
            continue
        if kind is not PropertyKind.ENUM and "choices" in spec:
            problems.append(Problem(f"{here}.choices", "only an enum property has choices"))
        required = spec.get("required", True)
        if not isinstance(required, bool):
            problems.append(Problem(f"{here}.required", "must be true or false"))
            required = True
        label = spec.get("label", key.replace("_", " ").capitalize())
        description = spec.get("description", "")
        if not isinstance(label, str) or not isinstance(description, str):
            problems.append(Problem(here, "label and description must be strings"))
            continue
        result.append(
            PropertySpec(
                key,
                label,
                kind,
                description,
                required=required,
                choices=tuple(choices) if kind is PropertyKind.ENUM else (),
            )
        )
    return tuple(result)
