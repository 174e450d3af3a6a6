"""How every answer of the service is classified, and the backoff between retries."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime

import httpx2 as httpx
import pytest

from auditledger_client.backoff import MAX_RETRY_AFTER, Backoff
from auditledger_client.core.errors import Problem
from auditledger_client.delivery import (
    Delivered,
    Deliverer,
    Rejected,
    Retry,
    retry_after_seconds,
)
from tests.support.client import Stub, unreachable


def deliver(response: httpx.Response | None, size: int = 2) -> Delivered | Retry | Rejected:
    stub = Stub(lambda request: response if response is not None else unreachable(request))
    deliverer = Deliverer("http://audit.test/", "tok", transport=stub)
    outcome = deliverer.send("a b", ["{}"] * size)
    deliverer.close()
    (request,) = stub.requests
    assert request.url.raw_path == b"/api/v1/orgs/a%20b/events/batch"
    assert request.headers["authorization"] == "Bearer tok"
    assert json.loads(request.content) == {"events": [{}] * size}
    return outcome


def error(
    status: int, problems: list[dict[str, str]] | None = None, **headers: str
) -> httpx.Response:
    body = {"error": {"code": "invalid_input", "message": "the batch is not valid"}}
    if problems:
        body["error"]["problems"] = problems  # type: ignore[index]
    return httpx.Response(status, json=body, headers=headers)


def test_receipts_are_delivered() -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    receipts = [
        {"id": str(ids[0]), "organization": "a", "seq": 4, "hash": "ab", "status": "created"},
        {"id": str(ids[1]), "organization": "a", "seq": 5, "hash": "cd", "status": "duplicate"},
    ]
    outcome = deliver(httpx.Response(201, json={"receipts": receipts}))
    assert isinstance(outcome, Delivered)
    assert [(r.id, r.seq, r.status) for r in outcome.receipts] == [
        (ids[0], 4, "created"),
        (ids[1], 5, "duplicate"),
    ]


def test_an_unreadable_2xx_is_retried_not_trusted() -> None:
    assert isinstance(deliver(httpx.Response(200, text="<html>proxy</html>")), Retry)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_answers_are_retried_with_their_retry_after(status: int) -> None:
    outcome = deliver(error(status, **{"Retry-After": "7"}))
    assert outcome == Retry(outcome.reason, 7.0) if isinstance(outcome, Retry) else False
    assert str(status) in outcome.reason


def test_network_errors_are_retried() -> None:
    outcome = deliver(None)
    assert isinstance(outcome, Retry)
    assert "ConnectError" in outcome.reason


@pytest.mark.parametrize("status", [401, 403, 404, 405])
def test_configuration_problems_hold_the_events(status: int) -> None:
    outcome = deliver(error(status))
    assert isinstance(outcome, Retry)
    assert outcome.hold


def test_rejections_name_the_events_at_fault() -> None:
    outcome = deliver(
        error(
            422,
            [
                {"field": "events[1].timestamp", "message": "past retention"},
                {"field": "events[1].properties.x", "message": "unknown"},
            ],
        )
    )
    assert isinstance(outcome, Rejected)
    assert outcome.culprits == {
        1: [Problem("timestamp", "past retention"), Problem("properties.x", "unknown")]
    }


def test_a_413_names_the_event_in_its_message() -> None:
    body = {"error": {"code": "too_large", "message": "events[0] is 70000 bytes; at most 64 KiB"}}
    outcome = deliver(httpx.Response(413, json=body))
    assert isinstance(outcome, Rejected)
    assert outcome.culprits is not None
    assert list(outcome.culprits) == [0]


@pytest.mark.parametrize(
    "response",
    [
        error(400),  # malformed: which event?
        error(413, [{"field": "body", "message": "over 10 MiB"}]),
        error(422, [{"field": "events[9].id", "message": "out of range"}]),
    ],
)
def test_rejections_that_name_no_event_say_so(response: httpx.Response) -> None:
    outcome = deliver(response)
    assert isinstance(outcome, Rejected)
    assert outcome.culprits is None


def test_a_single_event_rejection_is_always_that_event() -> None:
    outcome = deliver(error(409, [{"field": "id", "message": "other content"}]), size=1)
    assert isinstance(outcome, Rejected)
    assert outcome.culprits == {0: [Problem("id", "other content")]}


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 25 Nov 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Wed, 25 Nov 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_backoff_is_exponential_with_full_jitter_and_a_cap() -> None:
    backoff = Backoff(base=0.5, cap=8.0, rng=random.Random(7))
    assert [backoff.ceiling(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    delays = [backoff.delay(3) for _ in range(500)]
    assert all(0.0 <= d <= 4.0 for d in delays)
    assert min(delays) < 0.5 and max(delays) > 3.5  # spread over the whole range  # noqa: PT018
    assert backoff.ceiling(10_000) == 8.0


def test_backoff_never_retries_sooner_than_retry_after() -> None:
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(1))
    assert all(backoff.delay(0, 5.0) == 5.0 for _ in range(50))
    assert backoff.delay(0, 10**9) == MAX_RETRY_AFTER
