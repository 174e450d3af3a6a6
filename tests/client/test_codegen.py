"""The typed methods are generated from the catalog and cannot drift from it."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Sequence
from typing import Literal, get_type_hints

import pytest

from auditledger.catalog import PropertyKind, PropertySpec, platform_categories
from auditledger.client import AsyncAuditClient, AuditClient, events
from auditledger.client.codegen import COMMON, OPTIONS, TARGET, method_name, render
from auditledger.client.outbox import OutboxWriter

CLASSES = [AuditClient, AsyncAuditClient, OutboxWriter]
TYPES = [(c, t) for c in platform_categories() for t in c.types]


def test_generated_module_is_current() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), (
        "auditledger/client/events.py is stale: run python -m auditledger.client.codegen"
    )


def test_there_is_a_method_for_every_platform_type_and_no_other() -> None:
    expected = {method_name(c, t) for c, t in TYPES}
    generated = {
        name
        for name, _ in inspect.getmembers(events.EventMethods, inspect.isfunction)
        if not name.startswith("_") and name != "record"
    }
    assert generated == expected
    assert len(expected) == sum(len(c.types) for c in platform_categories())


def _expected_type(prop: PropertySpec) -> object:
    base: object = {
        PropertyKind.STRING: str,
        PropertyKind.STRING_LIST: Sequence[str],
        PropertyKind.INTEGER: int,
        PropertyKind.BOOLEAN: bool,
        PropertyKind.ENUM: Literal[prop.choices],
    }[prop.kind]
    return base if prop.required else base | None


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize(("category", "event"), TYPES, ids=lambda x: getattr(x, "key", ""))
def test_each_method_takes_exactly_the_catalog_properties(
    cls: type, category: typing.Any, event: typing.Any
) -> None:
    method = getattr(cls, method_name(category, event))
    assert inspect.iscoroutinefunction(method) == (cls is AsyncAuditClient)
    params = inspect.signature(method).parameters
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in params.items() if name != "self"
    )
    props = {p.key for p in event.properties}
    common = set(COMMON + OPTIONS) - ({"parent"} if category.parent_type is None else set())
    assert set(params) - {"self"} == props | common
    # A version's parent is required; so is every required property.
    if category.parent_type:
        assert params["parent"].default is inspect.Parameter.empty
    hints = get_type_hints(method)
    for prop in event.properties:
        assert (params[prop.key].default is inspect.Parameter.empty) == prop.required
        assert hints[prop.key] == _expected_type(prop), prop.key


def test_task_run_workload_is_a_literal_of_the_catalog_choices() -> None:
    hints = get_type_hints(AuditClient.task_run)
    assert hints["workload"] == Literal["execution", "pipeline"]
