"""The typed event classes are generated from the catalog and cannot drift from it; every
recorder shares one ``record`` signature."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Sequence
from typing import Literal, get_type_hints

import pytest

from auditledger_client import AsyncAuditClient, AuditClient, events
from auditledger_client.codegen import RESERVED, TARGET, class_name, render
from auditledger_client.core.catalog import PropertyKind, PropertySpec, platform_categories
from auditledger_client.outbox import OutboxWriter
from auditledger_client.recording import Recorder
from auditledger_client.typed import REQUIRED, TypedEvent

TYPES = [(c, t) for c in platform_categories() for t in c.types]


def test_generated_module_is_current() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), (
        "auditledger_client/events.py is stale: run python -m auditledger_client.codegen"
    )


def test_there_is_a_class_for_every_platform_type_and_no_other() -> None:
    generated = {
        (cls.CATEGORY, cls.TYPE)
        for _, cls in inspect.getmembers(events, inspect.isclass)
        if issubclass(cls, TypedEvent) and cls is not TypedEvent
    }
    expected = {(c.key, t.key) for c, t in TYPES}
    assert generated == expected == set(events.EVENT_CLASSES)
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


@pytest.mark.parametrize(("category", "event"), TYPES, ids=lambda x: getattr(x, "key", ""))
def test_each_class_has_exactly_the_catalog_properties(
    category: typing.Any, event: typing.Any
) -> None:
    cls = getattr(events, class_name(category, event))
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(fields) == {p.key for p in event.properties}
    hints = get_type_hints(cls)
    for prop in event.properties:
        assert (fields[prop.key].default is REQUIRED) == prop.required, prop.key
        assert fields[prop.key].kw_only
        assert hints[prop.key] == _expected_type(prop), prop.key
        assert prop.key not in RESERVED


def test_task_run_workload_is_a_literal_of_the_catalog_choices() -> None:
    assert get_type_hints(events.TaskRun)["workload"] == Literal["execution", "pipeline"]


def _keywords(function: typing.Any) -> list[tuple[str, object]]:
    params = inspect.signature(function).parameters.values()
    return [(p.name, p.default) for p in params if p.name not in ("self", "wait")]


@pytest.mark.parametrize(
    "cls", [AuditClient, AsyncAuditClient, OutboxWriter], ids=lambda c: c.__name__
)
def test_every_recorder_takes_the_same_record_signature(cls: type) -> None:
    assert _keywords(cls.record) == _keywords(Recorder.record)
    names = [name for name, _ in _keywords(Recorder.record)]
    assert names == [
        "event",
        "subject",
        "actor",
        "project",
        "source",
        "timestamp",
        "event_id",
        "org",
    ]
    has_wait = "wait" in inspect.signature(cls.record).parameters
    assert has_wait == (cls is not OutboxWriter)
