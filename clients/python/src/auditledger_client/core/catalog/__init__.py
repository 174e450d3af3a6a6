"""What can be recorded: event categories, types and their properties."""

from auditledger_client.core.catalog.events import (
    CATEGORIES,
    CATEGORY_INDEX,
    SEED,
    category,
    event_type,
    platform_categories,
)
from auditledger_client.core.catalog.model import (
    Catalog,
    CategorySpec,
    EventTypeSpec,
    PropertyKind,
    PropertySpec,
)

__all__ = [
    "CATEGORIES",
    "CATEGORY_INDEX",
    "SEED",
    "Catalog",
    "CategorySpec",
    "EventTypeSpec",
    "PropertyKind",
    "PropertySpec",
    "category",
    "event_type",
    "platform_categories",
]
