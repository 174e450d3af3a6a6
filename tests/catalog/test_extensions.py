"""Catalog extensions: extra categories and types from a TOML file, never a change of the seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditledger_client.core.catalog import SEED, PropertyKind
from auditledger_client.core.catalog.docs import render_markdown
from auditledger_client.core.catalog.extensions import (
    CatalogExtensionError,
    extend,
    load_extensions,
)

VALID = """
[categories.mlflow_experiment]
label = "MLflow experiment"
description = "An MLflow experiment."

[categories.mlflow_experiment.types.rename]
label = "Rename"
description = "The experiment was renamed."
properties.old_name = { kind = "string", description = "Before." }
properties.new_name = { kind = "string", description = "After." }

[categories.mlflow_experiment.types.delete]
label = "Delete"
description = "The experiment was deleted."
properties.lifecycle = { kind = "enum", choices = ["deleted", "purged"] }
properties.runs = { kind = "integer", required = false }

[categories.execution.types.tag_change]
label = "Tag change"
description = "A run's tags changed."
properties.old_tags = { kind = "string_list" }
properties.new_tags = { kind = "string_list" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "extension.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_extension_adds_categories_and_types(tmp_path: Path) -> None:
    catalog = load_extensions(write(tmp_path, VALID))
    experiment = catalog.category("mlflow_experiment")
    assert experiment is not None
    assert experiment.subject_types == ("mlflow_experiment",)
    delete = experiment.type("delete")
    assert delete is not None
    lifecycle, runs = delete.properties
    assert (lifecycle.kind, lifecycle.choices) == (PropertyKind.ENUM, ("deleted", "purged"))
    assert (runs.kind, runs.required) == (PropertyKind.INTEGER, False)
    execution = catalog.category("execution")
    assert execution is not None
    assert execution.type("tag_change") is not None
    # Every seed type is still there, unchanged; the seed itself is untouched.
    for seed in SEED.categories:
        extended = catalog.category(seed.key)
        assert extended is not None
        assert extended.types[: len(seed.types)] == seed.types
    assert SEED.category("mlflow_experiment") is None
    assert catalog.extension_keys == {"mlflow_experiment", "execution"}


def test_the_docs_of_an_extended_catalog_mark_what_the_extension_added(tmp_path: Path) -> None:
    text = render_markdown(load_extensions(write(tmp_path, VALID)))
    assert "## MLflow experiment (`mlflow_experiment`)" in text
    assert "| `execution.tag_change` (extension) |" in text
    assert "| `execution.run` |" in text
    assert "declared by this deployment's catalog extension" in text


@pytest.mark.parametrize(
    ("text", "field", "says"),
    [
        ('[categories.model]\nlabel = "Mine"\n', "categories.model.label", "cannot be redefined"),
        (
            '[categories.model.types.rename]\nlabel = "R"\ndescription = "d"\n',
            "categories.model.types.rename",
            "seed type",
        ),
        (
            '[categories.audit_log.types.x]\nlabel = "X"\ndescription = "d"\n',
            "categories.audit_log",
            "auditledger itself",
        ),
        (
            '[categories.thing]\nlabel = "T"\ndescription = "d"\n'
            '[categories.thing.types.make]\nlabel = "M"\ndescription = "d"\n'
            'properties.size = { kind = "float" }\n',
            "categories.thing.types.make.properties.size.kind",
            "must be one of",
        ),
        (
            '[categories.thing]\ndescription = "d"\n'
            '[categories.thing.types.make]\nlabel = "M"\ndescription = "d"\n',
            "categories.thing.label",
            "is required",
        ),
        (
            '[categories.thing]\nlabel = "T"\ndescription = "d"\n',
            "categories.thing.types",
            "required",
        ),
        (
            '[categories."Bad Key"]\nlabel = "T"\ndescription = "d"\n',
            "categories.Bad Key",
            "not a valid key",
        ),
        ("[other]\n", "other", "not a recognised field"),
        ("this is not toml", "file", ""),
    ],
)
def test_a_bad_extension_is_refused_naming_the_place(
    tmp_path: Path, text: str, field: str, says: str
) -> None:
    with pytest.raises(CatalogExtensionError) as refused:
        load_extensions(write(tmp_path, text))
    fields = {p.field: p.message for p in refused.value.problems}
    assert field in fields, fields
    assert says in fields[field]


def test_a_missing_file_is_a_catalog_extension_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogExtensionError, match="cannot read"):
        load_extensions(tmp_path / "absent.toml")


def test_every_problem_is_reported_at_once() -> None:
    data = {
        "categories": {
            "model": {"label": "x"},
            "thing": {"description": "d", "types": {"t": {"label": "T"}}},
        }
    }
    with pytest.raises(CatalogExtensionError) as refused:
        extend(SEED, data)
    fields = [p.field for p in refused.value.problems]
    assert "categories.model.label" in fields
    assert "categories.thing.label" in fields
    assert "categories.thing.types.t.description" in fields
