# ruff: noqa: PT017 - a generated input may or may not be refused; the refusal is checked here.
"""Hostile input, generated: the event validator and the filter parser either accept or
refuse with named problems. They never crash, never hang, and never let through what the
catalog forbids."""

# The properties inspect whichever refusal a generated input produced, so their assertions sit
# in except blocks; pytest.raises would demand a single outcome.
# ruff: noqa: PT017

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditledger.core.errors import AuditLedgerError, InvalidInput, MalformedRequest, TooLarge
from auditledger.ingest.jsonbody import parse_json
from auditledger.query.filters import PARAMETERS, parse_filters
from auditledger_client.core.catalog import CATEGORY_INDEX, PropertyKind
from auditledger_client.core.validate import parse_batch, parse_event
from tests.support.helpers import all_platform_types, sample_event

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
HOSTILE_TEXT = (
    st.sampled_from(
        [
            "=cmd|'/C calc'!A0",
            "+1",
            "-1",
            "@x",
            "\t",
            "\r\n",
            "\x00",
            "\ud800",
            "\u202e",
            "'; DROP TABLE events;--",
            "../../etc/passwd",
            "%00",
            "x" * 5000,
            "🚀" * 100,
            "",
        ]
    )
    | st.text()
)


def _check_outcome(obj: Any) -> None:
    try:
        draft = parse_event(obj, received_at=NOW)
    except (InvalidInput, TooLarge) as exc:
        assert exc.message
        for problem in exc.problems:
            assert problem.field
            assert problem.message
        return
    # Whatever got through is something the catalog allows, and is storable text.
    spec = CATEGORY_INDEX[draft.category]
    assert not spec.internal
    type_spec = spec.type_index[draft.type]
    for key, value in draft.properties.items():
        prop = type_spec.property(key)
        assert prop is not None
        if prop.kind is PropertyKind.STRING:
            assert isinstance(value, str)
            assert "\x00" not in value
            value.encode("utf-8")
    assert draft.occurred_at.tzinfo is not None


@pytest.mark.slow
@SETTINGS
@given(obj=json_values)
def test_arbitrary_json_is_refused_cleanly(obj: Any) -> None:
    _check_outcome(obj)


@pytest.mark.slow
@SETTINGS
@given(
    kind=st.sampled_from(all_platform_types()),
    field=st.sampled_from(
        [
            "category",
            "type",
            "subject",
            "actor",
            "project",
            "source",
            "timestamp",
            "id",
            "properties",
        ]
    ),
    value=json_values | HOSTILE_TEXT,
)
def test_one_mutated_field(kind: tuple[str, str], field: str, value: Any) -> None:
    event = sample_event(*kind)
    event[field] = value
    _check_outcome(event)


@SETTINGS
@given(kind=st.sampled_from(all_platform_types()), text=HOSTILE_TEXT, key=st.text(max_size=20))
def test_hostile_property_values_and_keys(kind: tuple[str, str], text: str, key: str) -> None:
    event = sample_event(*kind)
    for prop in list(event["properties"]):
        event["properties"][prop] = text
    event["properties"][key] = text
    event["subject"]["name"] = text
    _check_outcome(event)


@SETTINGS
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_are_malformed_or_parsed(raw: bytes) -> None:
    try:
        obj = parse_json(raw)
    except MalformedRequest as exc:
        assert exc.message
        return
    with contextlib.suppress(AuditLedgerError):
        parse_batch(obj, received_at=NOW)


@pytest.mark.slow
@SETTINGS
@given(
    items=st.lists(
        st.tuples(
            st.sampled_from([*PARAMETERS, "bogus"]) | st.text(max_size=10),
            HOSTILE_TEXT | st.dates().map(str) | st.datetimes().map(str),
        ),
        max_size=8,
    )
)
def test_filter_parser_names_every_problem(items: list[tuple[str, str]]) -> None:
    try:
        flt = parse_filters(items)
    except InvalidInput as exc:
        assert exc.problems
        assert all(p.field and p.message for p in exc.problems)
        return
    if flt.since and flt.until:
        assert flt.since <= flt.until
    assert flt.describe()


@pytest.mark.parametrize(
    "body",
    [
        b'{"events": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
        json.dumps({"category": "model", "properties": {"a": {"b": {"c": [1] * 100}}}}).encode(),
        b'{"category": "model", "type": "rename", "type": "archive"}',
        b'{"timestamp": NaN}',
        b'{"timestamp": 1e999}',
        '{"actor": {"id": "\u0000"}}'.encode(),
        b"\xc3\x28",
        b'{"a": "\\ud800"}',
    ],
)
def test_targeted_hostile_bodies(body: bytes) -> None:
    try:
        obj = parse_json(body)
        parse_event(obj, received_at=NOW)
    except AuditLedgerError as exc:
        assert exc.message
    else:
        pytest.fail("a hostile body was accepted")
