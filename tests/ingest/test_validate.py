"""Event validation: every catalog type accepted with its properties, rejected without, and
every kind of bad input answered with a problem that names the field."""

from __future__ import annotations

import ipaddress
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auditledger.core.errors import InvalidInput, MalformedRequest, TooLarge
from auditledger.ingest.jsonbody import parse_json
from auditledger_client.core.catalog import CATEGORY_INDEX, PropertyKind
from auditledger_client.core.validate import MAX_EXPANSION, _encoded_size, parse_batch, parse_event
from auditledger_client.core.wire import address_text
from tests.support.helpers import all_platform_types, sample_event

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def problems_of(obj: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_event(obj, received_at=NOW)
    return {p.field: p.message for p in caught.value.problems}


@pytest.mark.parametrize(("category", "type_"), all_platform_types())
def test_every_catalog_type_is_accepted_with_its_properties(category: str, type_: str) -> None:
    event = sample_event(category, type_)
    draft = parse_event(event, received_at=NOW)
    assert (draft.category, draft.type) == (category, type_)
    assert draft.properties == event["properties"]
    assert draft.event_id == uuid.UUID(event["id"])


@pytest.mark.parametrize(
    ("category", "type_", "key"),
    [
        (c, t.key, p.key)
        for c, spec in CATEGORY_INDEX.items()
        if not spec.internal
        for t in spec.types
        for p in t.properties
        if p.required
    ],
)
def test_every_required_property_is_required(category: str, type_: str, key: str) -> None:
    event = sample_event(category, type_)
    del event["properties"][key]
    problems = problems_of(event)
    assert f"properties.{key}" in problems
    assert "is required" in problems[f"properties.{key}"]


@pytest.mark.parametrize(
    ("category", "type_", "key", "kind"),
    [
        (c, t.key, p.key, p.kind)
        for c, spec in CATEGORY_INDEX.items()
        if not spec.internal
        for t in spec.types
        for p in t.properties
    ],
)
def test_wrongly_typed_properties_are_named(
    category: str, type_: str, key: str, kind: PropertyKind
) -> None:
    event = sample_event(category, type_)
    event["properties"][key] = 42 if kind is not PropertyKind.INTEGER else "42"
    problems = problems_of(event)
    assert f"properties.{key}" in problems


def test_types_without_properties_refuse_extra_ones() -> None:
    event = sample_event("model", "archive", properties={"reason": "old"})
    assert "allowed properties: none" in problems_of(event)["properties.reason"]


def test_unknown_category_names_the_allowed_ones() -> None:
    message = problems_of(sample_event(category="modle"))["category"]
    assert "unknown category 'modle'" in message
    for key in ("execution", "model_version", "user"):
        assert key in message


def test_own_category_cannot_be_sent() -> None:
    message = problems_of(sample_event(category="audit_log", type="export"))["category"]
    assert "recorded by auditledger itself" in message


def test_unknown_type_names_the_allowed_ones() -> None:
    message = problems_of(sample_event("model", "rename", type="renam"))["type"]
    assert "create, archive, rename, description_change" in message


def test_task_workload_must_be_one_of_the_choices() -> None:
    event = sample_event("task", "run", properties={"workload": "notebook"})
    assert "'execution', 'pipeline'" in problems_of(event)["properties.workload"]


def test_tags_must_be_lists_of_strings() -> None:
    event = sample_event("model_version", "tag_change")
    event["properties"]["old_tags"] = ["ok", 3]
    assert "properties.old_tags" in problems_of(event)


def test_version_subjects_need_their_parent() -> None:
    event = sample_event("model_version", "approve")
    del event["subject"]["parent"]
    assert "names its model" in problems_of(event)["subject.parent"]


def test_parent_type_must_match() -> None:
    event = sample_event("model_version", "approve")
    event["subject"]["parent"]["type"] = "dataset"
    assert "subject.parent.type" in problems_of(event)


def test_subject_type_must_match_category() -> None:
    event = sample_event("model", "archive")
    event["subject"]["type"] = "dataset"
    assert "subject.type" in problems_of(event)


def test_model_version_subject_names_its_model_for_model_views() -> None:
    draft = parse_event(sample_event("model_version", "approve"), received_at=NOW)
    assert draft.subject.model_id == "model-1"
    assert parse_event(sample_event("model", "archive"), received_at=NOW).subject.model_id == (
        "model-1"
    )


def test_naive_timestamp_is_refused() -> None:
    message = problems_of(sample_event(timestamp="2026-11-25T10:00:00"))["timestamp"]
    assert "timezone offset" in message


def test_timestamp_is_stored_in_utc_with_microseconds() -> None:
    draft = parse_event(sample_event(timestamp="2026-11-25T13:00:00.123456+02:00"), received_at=NOW)
    assert draft.occurred_at == datetime(2026, 11, 25, 11, 0, 0, 123456, tzinfo=UTC)
    assert draft.timestamp_supplied


def test_missing_timestamp_means_time_received() -> None:
    event = sample_event()
    draft = parse_event(event, received_at=NOW)
    assert draft.occurred_at == NOW
    assert not draft.timestamp_supplied


def test_far_future_is_refused_but_small_skew_is_not() -> None:
    soon = (NOW + timedelta(minutes=4, seconds=59)).isoformat()
    parse_event(sample_event(timestamp=soon), received_at=NOW)
    later = (NOW + timedelta(minutes=5, seconds=1)).isoformat()
    assert "more than 5 minutes ahead" in problems_of(sample_event(timestamp=later))["timestamp"]


def test_timestamp_must_be_text() -> None:
    assert "ISO 8601" in problems_of(sample_event(timestamp=1764072000))["timestamp"]


@pytest.mark.parametrize("ip", ["999.1.1.1", "1.2.3", "example.com", "", "::g"])
def test_invalid_ip_is_refused(ip: str) -> None:
    assert "source.ip" in problems_of(sample_event(source={"ip": ip}))


def test_ipv6_is_normalised() -> None:
    draft = parse_event(sample_event(source={"ip": "2001:DB8:0:0::1"}), received_at=NOW)
    assert draft.source_ip == "2001:db8::1"


def test_client_cannot_supply_a_location() -> None:
    event = sample_event(source={"ip": "193.166.3.7", "location": "Mars"})
    assert problems_of(event)["source.location"] == "is not a recognised field"


def test_missing_actor_and_subject_are_named() -> None:
    event = sample_event()
    del event["actor"]
    event["subject"] = {"name": "no id"}
    problems = problems_of(event)
    assert problems["actor"] == "is required"
    assert problems["subject.id"] == "is required"


def test_event_id_must_be_a_uuid() -> None:
    assert "id" in problems_of(sample_event(id="not-a-uuid"))
    assert "id" in problems_of(sample_event(id=12345))


def test_nul_is_refused_everywhere() -> None:
    assert "NUL" in problems_of(sample_event(actor={"id": "u\x00", "name": "x"}))["actor.id"]
    event = sample_event("model", "rename", properties={"old_name": "a\x00b", "new_name": "c"})
    assert "NUL" in problems_of(event)["properties.old_name"]


def test_lone_surrogates_are_refused() -> None:
    body = json.dumps(sample_event("model", "rename")).replace("value of old_name", "\\ud800")
    obj = parse_json(body.encode())
    assert "lone surrogate" in problems_of(obj)["properties.old_name"]


def test_integers_beyond_double_precision_are_refused() -> None:
    from auditledger_client.core.validate import check_properties

    problems = check_properties(
        "",
        "audit_log",
        "export",
        {
            "format": "csv",
            "filters": "",
            "rows": 2**60,
            "completed": True,
        },
    )
    assert problems
    assert problems[0].field == "properties.rows"
    problems = check_properties(
        "",
        "audit_log",
        "export",
        {
            "format": "csv",
            "filters": "",
            "rows": True,
            "completed": True,
        },
    )
    assert problems
    assert "an integer" in problems[0].message


def test_event_over_64_kib_is_too_large() -> None:
    event = sample_event("model", "rename", properties={"old_name": "x" * 70_000, "new_name": "y"})
    with pytest.raises(TooLarge, match="64 KiB"):
        parse_event(event, received_at=NOW)


def test_event_must_be_an_object() -> None:
    with pytest.raises(InvalidInput):
        parse_event([1, 2], received_at=NOW)


def test_batch_reports_every_bad_event_with_its_index() -> None:
    good = sample_event()
    bad1 = sample_event(category="nope")
    bad2 = sample_event("model", "rename", properties={})
    with pytest.raises(InvalidInput) as caught:
        parse_batch({"events": [good, bad1, bad2]}, received_at=NOW)
    fields = {p.field for p in caught.value.problems}
    assert "events[1].category" in fields
    assert {"events[2].properties.old_name", "events[2].properties.new_name"} <= fields
    assert "nothing from this batch was stored" in caught.value.message


def test_batch_shape_and_limits() -> None:
    with pytest.raises(MalformedRequest):
        parse_batch([sample_event()], received_at=NOW)
    with pytest.raises(InvalidInput):
        parse_batch({"events": []}, received_at=NOW)
    with pytest.raises(InvalidInput, match="batch"):
        parse_batch({"events": [sample_event() for _ in range(1001)]}, received_at=NOW)


class TestJsonBody:
    def test_duplicate_keys_are_refused(self) -> None:
        with pytest.raises(MalformedRequest, match="duplicate key 'type'"):
            parse_json(b'{"type": "a", "type": "b"}')

    @pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
    def test_non_finite_numbers_are_refused(self, literal: bytes) -> None:
        with pytest.raises(MalformedRequest, match="not valid JSON"):
            parse_json(b'{"x": ' + literal + b"}")

    def test_invalid_utf8_is_refused(self) -> None:
        with pytest.raises(MalformedRequest, match="UTF-8"):
            parse_json(b'{"x": "\xff\xfe"}')

    def test_deep_nesting_is_refused(self) -> None:
        with pytest.raises(MalformedRequest):
            parse_json(b"[" * 100_000 + b"]" * 100_000)

    @pytest.mark.parametrize("body", [b"", b"   ", b"{", b"{'a': 1}", b"[1,]"])
    def test_garbage_is_refused(self, body: bytes) -> None:
        with pytest.raises(MalformedRequest):
            parse_json(body)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1e15, 9e15, 1e16, 1e22, 5e-324, 1.7976931348623157e308, -1e15]}',
        '{"a": "\\u00e9\\u2028\\ud800\\n\\/", "b": [true, false, null, -0, 10]}',
        '{ "a" : [ 1 , 2 ] ,\n\t"b" : { "c" : "d" } }',
        '{"a": [' + ",".join(["1e15"] * 500) + "]}",
    ],
)
def test_the_re_encoding_never_outgrows_its_source_by_more_than_the_bound(text: str) -> None:
    # parse_event skips measuring an event whose source text is MAX_EXPANSION times below the
    # limit: that is only sound if no JSON text re-encodes to more than MAX_EXPANSION times
    # its own length.
    source = text.encode()
    size, _clean = _encoded_size(parse_json(source))
    assert size <= MAX_EXPANSION * len(source)


def test_a_large_source_is_still_measured() -> None:
    event = sample_event("model", "rename", properties={"old_name": "x" * 70_000, "new_name": "y"})
    source = len(json.dumps(event).encode())
    with pytest.raises(TooLarge, match="64 KiB"):
        parse_event(event, received_at=NOW, source_bytes=source)


def test_ipv4_mapped_addresses_have_one_text_form_on_every_python() -> None:
    mapped = ipaddress.ip_address("::ffff:193.166.3.7")
    assert address_text(mapped) == "::ffff:c1a6:307"
    assert address_text(ipaddress.ip_address("::FFFF:0:1")) == "::ffff:0:1"
    assert address_text(ipaddress.ip_address("2001:DB8::1")) == "2001:db8::1"
    assert address_text(ipaddress.ip_address("193.166.3.7")) == "193.166.3.7"
