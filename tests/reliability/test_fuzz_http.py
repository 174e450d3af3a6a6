"""Catalog-aware fuzzing through HTTP: a valid event of every catalog type with one part
mutated (text, numbers, timestamps and offsets, keys, nesting, sizes) is either stored (201) or
refused with a 4xx JSON error naming a field; never a 5xx.

The in-process validator is fuzzed in ``test_fuzz.py``; this goes through the whole app,
because two of the crashes issue 16 found were in decoding the body and in rendering the
error, which a validator-level test never reaches.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditledger.services import Services
from auditledger.web.app import create_app
from tests.support.helpers import OrgAccess, all_platform_types, make_org, sample_event

pytestmark = pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)

SETTINGS = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EVENTS = "/api/v1/orgs/acme/events"
KINDS = all_platform_types()

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        "\x00",
        "\ud800",
        "\udfff",
        "\u202egnp.exe",
        "=1+1",
        "x;=1+1;y",
        "a\r\n=2+2",
        "a/b",
        "%00",
        "\\",
        '"',
        "x" * 257,
        "y" * 1025,
        "z" * 70_000,
        "🚀" * 300,
    ]
) | st.text(max_size=40)


class RawNumber(str):
    """A number literal sent as written: ``json.dumps`` cannot even write 10**4300."""


def encode(obj: Any) -> bytes:
    """JSON text of ``obj`` with every :class:`RawNumber` spliced in unquoted; ensure_ascii,
    so lone surrogates travel as ``\\udfff`` escapes (valid JSON text)."""
    raws: dict[str, str] = {}

    def swap(value: Any) -> Any:
        if isinstance(value, RawNumber):
            token = f"@raw{len(raws)}@"
            raws[token] = str(value)
            return token
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(obj))
    for token, literal in raws.items():
        text = text.replace(f'"{token}"', literal)
    return text.encode()


NUMBERS = (
    st.sampled_from(
        [
            2**53,
            -(2**53),
            2**63,
            RawNumber("1" * 4301),
            RawNumber("9" * 5000),
            RawNumber("-" + "1" * 4400),
            RawNumber("1" * 500 + ".5"),
            RawNumber("1e999999"),
            0,
            -1,
            1.5,
            1e308,
            -1e-308,
        ]
    )
    | st.integers()
)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """ISO 8601 text across the whole calendar and every offset, with 0 to 9 fraction digits;
    sometimes without an offset, sometimes malformed."""
    year = draw(st.sampled_from([1, 2, 1969, 1970, 2026, 9998, 9999]) | st.integers(1, 9999))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    hour = draw(st.integers(0, 23))
    digits = draw(st.integers(0, 9))
    fraction = (
        "."
        + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits)))
        if digits
        else ""
    )
    sign = draw(st.sampled_from("+-"))
    offset = draw(
        st.sampled_from(["Z", "", f"{sign}23:59", f"{sign}01:00", f"{sign}00:00", "+24:00"])
    )
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:00:00{fraction}{offset}"


Mutation = Callable[[dict[str, Any], st.DrawFn], str | None]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from _paths(value, (*prefix, index))


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        obj = obj[part]
    obj[path[-1]] = value


def _leaf(event: dict[str, Any], draw: st.DrawFn) -> tuple[Any, ...]:
    paths = [p for p in _paths(event) if p]
    return draw(st.sampled_from(paths))


def mutate_text(event: dict[str, Any], draw: st.DrawFn) -> None:
    _set(event, _leaf(event, draw), draw(HOSTILE_TEXT))


def mutate_number(event: dict[str, Any], draw: st.DrawFn) -> None:
    _set(event, _leaf(event, draw), draw(NUMBERS))


def mutate_timestamp(event: dict[str, Any], draw: st.DrawFn) -> None:
    event["timestamp"] = draw(timestamps())


def mutate_key(event: dict[str, Any], draw: st.DrawFn) -> None:
    dicts = [p for p in _paths(event) if isinstance(_get(event, p), dict)]
    target = _get(event, draw(st.sampled_from(dicts)))
    key = draw(HOSTILE_TEXT | st.sampled_from(["id", "__proto__", "constructor"]))
    target[key] = draw(st.none() | st.booleans() | NUMBERS | HOSTILE_TEXT)


def mutate_nesting(event: dict[str, Any], draw: st.DrawFn) -> None:
    depth = draw(st.sampled_from([2, 10, 100, 900]))
    value: Any = draw(HOSTILE_TEXT)
    for _ in range(depth):
        value = draw(st.sampled_from([[value], {"k": value}]))
    _set(event, _leaf(event, draw), value)


def mutate_size(event: dict[str, Any], draw: st.DrawFn) -> None:
    size = draw(st.sampled_from([0, 1, 255, 256, 257, 1024, 1025, 65_000, 66_000]))
    _set(event, _leaf(event, draw), "a" * size)


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        obj = obj[part]
    return obj


MUTATIONS = [mutate_text, mutate_number, mutate_timestamp, mutate_key, mutate_nesting, mutate_size]


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event of a drawn catalog type with one part mutated."""
    event = sample_event(*draw(st.sampled_from(KINDS)))
    del event["id"]  # a mutated retry of the same id would only ever be a 409
    draw(st.sampled_from(MUTATIONS))(event, draw)
    return event


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    return make_org(services)


@pytest.fixture
def http(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services, manage_services=False)) as client:
        yield client


def _send(http: TestClient, acme: OrgAccess, body: bytes) -> Any:
    return http.post(
        EVENTS,
        content=body,
        headers={**acme.headers(acme.ingest), "Content-Type": "application/json"},
    )


def _assert_answered(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["message"]
        for problem in error.get("problems", []):
            assert problem["field"]
            assert problem["message"]


def test_every_catalog_type_unmutated_is_accepted(http: TestClient, acme: OrgAccess) -> None:
    # The strategy starts from events the service accepts, so a mutation is what is tested.
    for kind in KINDS:
        response = _send(http, acme, encode(sample_event(*kind)))
        assert response.status_code == 201, (kind, response.text)


@pytest.mark.slow
@SETTINGS
@given(event=mutated_events())
def test_a_mutated_event_is_stored_or_refused_with_a_4xx(
    http: TestClient, acme: OrgAccess, event: dict[str, Any]
) -> None:
    _assert_answered(_send(http, acme, encode(event)))


@pytest.mark.slow
@SETTINGS
@given(event=mutated_events(), batch=st.integers(1, 3))
def test_a_batch_with_a_mutated_event_is_stored_or_refused_with_a_4xx(
    http: TestClient, acme: OrgAccess, event: dict[str, Any], batch: int
) -> None:
    events = [sample_event(), event, *[sample_event() for _ in range(batch - 1)]]
    response = http.post(
        f"{EVENTS}/batch",
        content=encode({"events": events}),
        headers={**acme.headers(acme.ingest), "Content-Type": "application/json"},
    )
    _assert_answered(response)
