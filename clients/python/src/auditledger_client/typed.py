"""What a platform records: an event of one catalog type with its properties.

:mod:`auditledger_client.events` has one frozen dataclass per type of the seed catalog
(``ModelRename(old_name=..., new_name=...)``), generated from it; :class:`CustomEvent` carries a
type of a deployment's catalog extension. Whatever records the event (the sync or async client,
the outbox) takes it with the same keywords: ``record(event, subject=..., actor=...)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .core.catalog import CATEGORY_INDEX
from .core.errors import Problem
from .errors import InvalidEvent


class _Required:
    """The default of a required property: constructing an event without it is an
    :class:`~auditledger_client.errors.InvalidEvent` naming the property, not a ``TypeError``."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


def _wire_value(value: Any) -> Any:
    # Typed events take any sequence of strings for list properties; JSON wants a list.
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return value


class Event:
    """Base of every event a platform records: a catalog category and type, and properties."""

    @property
    def category(self) -> str:
        """The catalog category, e.g. ``model``."""
        raise NotImplementedError

    @property
    def type(self) -> str:
        """The event type within the category, e.g. ``rename``."""
        raise NotImplementedError

    def properties(self) -> dict[str, Any]:
        """The properties as JSON values, absent optional ones left out."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class TypedEvent(Event):
    """An event of a seed catalog type; subclasses are generated, one per type."""

    CATEGORY: ClassVar[str] = ""
    TYPE: ClassVar[str] = ""

    def __post_init__(self) -> None:
        missing = [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is REQUIRED]
        if missing:
            spec = CATEGORY_INDEX[self.CATEGORY].type_index[self.TYPE]
            name = f"{self.CATEGORY}.{self.TYPE}"
            problems = []
            for key in missing:
                prop = spec.property(key)
                kind = prop.describe_type() if prop else "a value"
                problems.append(Problem(f"properties.{key}", f"is required by {name} ({kind})"))
            raise InvalidEvent(f"{type(self).__name__} is missing a property", problems)

    @property
    def category(self) -> str:
        """The catalog category of this class."""
        return self.CATEGORY

    @property
    def type(self) -> str:
        """The event type of this class."""
        return self.TYPE

    def properties(self) -> dict[str, Any]:
        """The properties as JSON values, absent optional ones left out."""
        return {
            f.name: _wire_value(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }


@dataclass(frozen=True)
class CustomEvent(Event):
    """An event of a type the catalog does not generate a class for, e.g. one declared by a
    deployment's catalog extension: ``CustomEvent("mlflow_experiment", "create", {...})``.

    It is checked against the catalog the client was given (``catalog=``) when recorded.
    """

    event_category: str
    event_type: str
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str:
        """The category as given."""
        return self.event_category

    @property
    def type(self) -> str:
        """The type as given."""
        return self.event_type

    def properties(self) -> dict[str, Any]:
        """The properties as JSON values, None values left out."""
        return {k: _wire_value(v) for k, v in self.values.items() if v is not None}
