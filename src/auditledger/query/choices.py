"""What the filters can be set to in one organization: for the filter form and for scripts.

Projects, models, versions and actors come from the organization's directory (kept at ingest,
so no scan of events); categories and types come from the catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from auditledger.query.search import DirectoryEntry, directory_entries
from auditledger_client.core.catalog import SEED, Catalog


@dataclass(frozen=True)
class TypeChoice:
    """An event type as a filter value (``model.rename``)."""

    category: str
    type: str
    label: str

    @property
    def value(self) -> str:
        """The query-string value."""
        return f"{self.category}.{self.type}"


@dataclass(frozen=True)
class CategoryChoice:
    """A category and its types."""

    key: str
    label: str
    types: tuple[TypeChoice, ...]


@dataclass(frozen=True)
class FilterChoices:
    """Every value the filters accept in an organization."""

    projects: list[DirectoryEntry]
    models: list[DirectoryEntry]
    model_versions: list[DirectoryEntry]
    actors: list[DirectoryEntry]
    categories: tuple[CategoryChoice, ...]


def catalog_choices(catalog: Catalog = SEED) -> tuple[CategoryChoice, ...]:
    """Categories and types from the catalog (extensions included), auditledger's own last."""
    ordered = sorted(catalog.categories, key=lambda c: c.internal)
    return tuple(
        CategoryChoice(
            c.key,
            c.label,
            tuple(TypeChoice(c.key, t.key, f"{c.label}: {t.label}") for t in c.types),
        )
        for c in ordered
    )


def filter_choices(
    connection: Connection,
    org_id: int,
    *,
    versions_of: Sequence[str] | None = None,
    catalog: Catalog = SEED,
) -> FilterChoices:
    """The organization's choices, from a few directory queries.

    ``versions_of`` limits the model versions to those of the given models (a form offers the
    versions of the model picked, not the thousands of a large registry); None means all.
    """
    if versions_of is None:
        versions = directory_entries(connection, org_id, "model_version")
    else:
        versions = [
            v
            for model_id in versions_of
            for v in directory_entries(connection, org_id, "model_version", parent_id=model_id)
        ]
    return FilterChoices(
        projects=directory_entries(connection, org_id, "project"),
        models=directory_entries(connection, org_id, "model"),
        model_versions=versions,
        actors=directory_entries(connection, org_id, "actor"),
        categories=catalog_choices(catalog),
    )
