"""The shapes the catalog is made of: categories, event types and their properties.

These are plain frozen dataclasses so the catalog can be read, rendered into documentation,
turned into client methods and used for validation without importing any web or storage code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class PropertyKind(StrEnum):
    """The value types an event property may have (no floats: canonical bytes forbid them)."""

    STRING = "string"
    STRING_LIST = "string_list"
    ENUM = "enum"
    INTEGER = "integer"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class PropertySpec:
    """One property an event type carries, e.g. ``old_name`` of a rename."""

    key: str
    label: str
    kind: PropertyKind = PropertyKind.STRING
    description: str = ""
    required: bool = True
    choices: tuple[str, ...] = ()
    # How people read each choice ("Wrong username or password" for ``bad_credentials``);
    # a choice without a label is shown as it is.
    choice_labels: tuple[tuple[str, str], ...] = ()

    def value_label(self, value: str) -> str:
        """The readable form of a choice."""
        return dict(self.choice_labels).get(value, value)

    def describe_type(self) -> str:
        """A short human description of the accepted values, used in errors and docs."""
        if self.kind is PropertyKind.ENUM:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return {
            PropertyKind.STRING: "a string",
            PropertyKind.STRING_LIST: "a list of strings",
            PropertyKind.INTEGER: "an integer",
            PropertyKind.BOOLEAN: "a boolean",
        }[self.kind]


@dataclass(frozen=True)
class EventTypeSpec:
    """One event type within a category, e.g. ``model.rename``."""

    key: str
    label: str
    description: str
    properties: tuple[PropertySpec, ...] = ()

    def property(self, key: str) -> PropertySpec | None:
        """The property named ``key``, or None if this event type has none by that name."""
        for prop in self.properties:
            if prop.key == key:
                return prop
        return None


@dataclass(frozen=True)
class CategorySpec:
    """An area of the platform where events occur; also the kind of resource they concern."""

    key: str
    label: str
    description: str
    subject_types: tuple[str, ...]
    types: tuple[EventTypeSpec, ...]
    # A subject of this category belongs to a resource of this type (a model version names its
    # model) so that "events of this model" can include its versions' events.
    parent_type: str | None = None
    # Recorded by auditledger itself; the ingestion API refuses it so nobody can forge one.
    internal: bool = False
    type_index: dict[str, EventTypeSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type_index", {t.key: t for t in self.types})

    def type(self, key: str) -> EventTypeSpec | None:
        """The event type named ``key`` in this category, or None."""
        return self.type_index.get(key)


@dataclass(frozen=True)
class Catalog:
    """Every category a deployment accepts: the seed's, plus those of its extensions.

    Validation, filters, docs and the client take one of these; :data:`SEED` is the seed's.
    """

    categories: tuple[CategorySpec, ...]
    # Which categories came from an extension (not the seed): docs and the API say so.
    extension_keys: frozenset[str] = frozenset()
    index: dict[str, CategorySpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {c.key: c for c in self.categories})

    def category(self, key: str) -> CategorySpec | None:
        """The category named ``key``, or None."""
        return self.index.get(key)

    def event_type(self, category_key: str, type_key: str) -> EventTypeSpec | None:
        """The event type ``category_key.type_key``, or None if either part is unknown."""
        spec = self.index.get(category_key)
        return spec.type(type_key) if spec else None

    def platform_categories(self) -> tuple[CategorySpec, ...]:
        """The categories a platform may send; excludes auditledger's own."""
        return tuple(c for c in self.categories if not c.internal)
