"""Delivery to a real webhook on 127.0.0.1: in order, at least once, filtered, sources only
where permitted, through receiver outages, a dead letter and a change of process."""

from __future__ import annotations

import itertools
import json
import logging
from datetime import UTC, datetime

import pytest

from auditledger.services import Services
from auditledger.streaming.model import Destination, State
from auditledger.streaming.worker import Deliverer, backoff
from auditledger_client.core.event import Actor
from tests.support.helpers import OrgAccess
from tests.support.receivers import WebhookReceiver
from tests.support.streams import drain, record

ADMIN = Actor("user", "auditledger-user:root", "Root")


def _webhook(
    services: Services, acme: OrgAccess, receiver: WebhookReceiver, **options: object
) -> Destination:
    return services.destinations.create(
        acme.org,
        name=str(options.pop("name", "siem")),
        transport="webhook",
        settings={"url": receiver.url},
        secrets={"hmac_key": "k3y-never-logged"},
        actor=ADMIN,
        **options,  # type: ignore[arg-type]
    )


def _seqs(receiver: WebhookReceiver) -> list[int]:
    return [record["seq"] for record in receiver.events()]


def _due_now(services: Services, destination: Destination) -> None:
    # Skip the backoff wait: the test is about what happens next, not about waiting.
    services.destinations.repo.change(destination.id, next_attempt_at=None)


def test_every_event_is_delivered_in_order_with_id_and_seq(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    record(stream_services, acme.org, 5)
    destination = _webhook(stream_services, acme, receiver, start_seq=0)
    record(stream_services, acme.org, 120)
    deliverer = stream_services.make_deliverer()
    drain(deliverer)
    # 5 + 120 platform events and the destination_create event itself (seq 5).
    assert _seqs(receiver) == list(range(126))
    for item in receiver.events():
        assert item["event"]["id"] == item["id"]
        assert item["event"]["seq"] == item["seq"]
    batches = receiver.batches()
    assert len(batches) >= 3  # at most 50 events a batch in these tests
    assert all(b["to_seq"] == n["from_seq"] for b, n in itertools.pairwise(batches))
    stored = stream_services.destinations.get(acme.org, destination.id)
    assert stored.next_seq == 126
    assert stored.delivered == 126


def test_starting_from_now_skips_history(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    record(stream_services, acme.org, 10)
    _webhook(stream_services, acme, receiver)
    record(stream_services, acme.org, 3)
    drain(stream_services.make_deliverer())
    assert _seqs(receiver) == [10, 11, 12, 13]  # the create event, then the three new ones


def test_filters_are_respected(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    _webhook(stream_services, acme, receiver, start_seq=0, filters=[("project", "prj-2")])
    record(stream_services, acme.org, 30)
    record(stream_services, acme.org, 7, project={"id": "prj-2", "name": "Two"})
    record(stream_services, acme.org, 30)
    drain(stream_services.make_deliverer())
    received = receiver.events()
    assert len(received) == 7
    assert {r["event"]["project"]["id"] for r in received} == {"prj-2"}
    assert all(b["filtered"] for b in receiver.batches())


@pytest.mark.slow
def test_sources_only_reach_destinations_with_that_permission(
    stream_services: Services, acme: OrgAccess
) -> None:
    with WebhookReceiver() as plain, WebhookReceiver() as trusted:
        _webhook(stream_services, acme, plain, name="plain", start_seq=0)
        _webhook(stream_services, acme, trusted, name="trusted", start_seq=0, include_source=True)
        record(stream_services, acme.org, 20)
        drain(stream_services.make_deliverer())
        plain_bodies = b"".join(body for _, body in plain.requests)
        assert len(plain.events()) == 22
        assert b"193.166.3.7" not in plain_bodies
        assert all("source" not in r["event"] for r in plain.events())
        with_source = [r for r in trusted.events() if r["event"]["source"]]
        assert len(with_source) == 20
        assert with_source[0]["event"]["source"]["ip"] == "193.166.3.7"


@pytest.mark.slow
def test_a_receiver_outage_loses_nothing(
    stream_services: Services,
    acme: OrgAccess,
    receiver: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    destination = _webhook(stream_services, acme, receiver, start_seq=0)
    record(stream_services, acme.org, 60)
    deliverer = stream_services.make_deliverer()
    deliverer.run_once()  # the first batch of 50 arrives
    receiver.failing = True
    record(stream_services, acme.org, 40)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            _due_now(stream_services, destination)
            deliverer.run_once()
    failed = stream_services.destinations.get(acme.org, destination.id)
    assert failed.attempts == 3
    assert failed.failed == 3
    assert failed.last_error == "webhook answered 503"
    assert failed.next_attempt_at is not None
    assert "k3y-never-logged" not in caplog.text
    receiver.failing = False
    _due_now(stream_services, destination)
    drain(deliverer)
    assert _seqs(receiver) == list(range(101))
    healed = stream_services.destinations.get(acme.org, destination.id)
    assert (healed.attempts, healed.last_error, healed.next_attempt_at) == (0, None, None)


@pytest.mark.slow
def test_retries_run_out_into_a_dead_letter_that_an_admin_retries(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    destination = _webhook(stream_services, acme, receiver, start_seq=0)
    record(stream_services, acme.org, 5)
    receiver.failing = True
    deliverer = stream_services.make_deliverer()
    for _ in range(stream_services.settings.stream_max_attempts):
        _due_now(stream_services, destination)
        deliverer.run_once()
    dead = stream_services.destinations.get(acme.org, destination.id)
    assert dead.state is State.DEAD
    receiver.failing = False
    _due_now(stream_services, destination)
    drain(deliverer)
    assert receiver.events() == []  # a dead letter waits for a person
    stream_services.destinations.transition(acme.org, dead, "retry", actor=ADMIN, source_ip=None)
    drain(deliverer)
    assert _seqs(receiver) == list(range(7))  # create, 5 events, the resume itself


def test_a_paused_destination_receives_nothing_until_resumed(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    destination = _webhook(stream_services, acme, receiver, start_seq=0, paused=True)
    record(stream_services, acme.org, 4)
    drain(stream_services.make_deliverer())
    assert receiver.events() == []
    stream_services.destinations.transition(
        acme.org, destination, "resume", actor=ADMIN, source_ip=None
    )
    drain(stream_services.make_deliverer())
    assert _seqs(receiver) == list(range(6))


def test_a_new_process_resumes_right_after_the_last_acknowledged_seq(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    _webhook(stream_services, acme, receiver, start_seq=0)
    record(stream_services, acme.org, 70)
    first = stream_services.make_deliverer()
    first.run_once()
    first.stop()  # hands its lease over
    second = stream_services.make_deliverer()
    drain(second)
    assert _seqs(receiver) == list(range(71))  # nothing twice, nothing missing


def test_one_deliverer_at_a_time_and_a_dead_one_hands_over(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    destination = _webhook(stream_services, acme, receiver, start_seq=0)
    record(stream_services, acme.org, 10)
    repo = stream_services.destinations.repo
    now = datetime.now(UTC)
    holder = Deliverer.__new__(Deliverer)  # only its owner name matters here
    holder.owner = "dead-process"
    assert repo.acquire(destination.id, holder.owner, now, now.replace(year=now.year + 1))
    other = stream_services.make_deliverer()
    drain(other)
    assert receiver.events() == []  # the lease is someone else's
    # The holder dies: its lease expires, and the next pass takes over.
    repo.change(destination.id, lease_expires=now)
    drain(other)
    assert _seqs(receiver) == list(range(11))
    assert not repo.as_holder(destination.id, "dead-process", next_seq=0)  # fenced off


def test_backoff_grows_exponentially_with_jitter() -> None:
    assert backoff(1, lambda: 0.0) == 0.25
    assert backoff(1, lambda: 1.0) == 0.5
    assert backoff(4, lambda: 1.0) == 4.0
    assert backoff(50, lambda: 1.0) == 300.0
    assert len({round(backoff(3), 6) for _ in range(20)}) > 1


def test_lag_and_counters_in_metrics(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    from prometheus_client import generate_latest

    _webhook(stream_services, acme, receiver, start_seq=0)
    record(stream_services, acme.org, 8)
    text = generate_latest(stream_services.metrics.registry).decode()
    assert 'auditledger_stream_lag_events{destination="siem",organization="acme"} 9.0' in text
    drain(stream_services.make_deliverer())
    text = generate_latest(stream_services.metrics.registry).decode()
    assert 'auditledger_stream_lag_events{destination="siem",organization="acme"} 0.0' in text
    assert 'auditledger_stream_delivered_events{destination="siem",organization="acme"} 9.0' in text
    assert json.dumps("k3y-never-logged") not in text
