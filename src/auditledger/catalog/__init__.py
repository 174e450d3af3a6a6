"""What can be recorded: event categories, types and their properties."""

from auditledger.catalog.events import (
    CATEGORIES,
    CATEGORY_INDEX,
    category,
    event_type,
    platform_categories,
)
from auditledger.catalog.model import CategorySpec, EventTypeSpec, PropertyKind, PropertySpec

__all__ = [
    "CATEGORIES",
    "CATEGORY_INDEX",
    "CategorySpec",
    "EventTypeSpec",
    "PropertyKind",
    "PropertySpec",
    "category",
    "event_type",
    "platform_categories",
]
