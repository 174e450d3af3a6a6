"""Each transport against a real receiver on 127.0.0.1: a webhook (HMAC signature, idempotency
key, Splunk HEC shape), Debian's rsyslog (RFC 5424, octet counting) and NATS JetStream."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import time
import uuid
from pathlib import Path

import pytest

from auditledger.services import Services
from auditledger.streaming.transports import SIGNATURE_HEADER, verify_signature
from auditledger.streaming.verify import StreamVerifier
from auditledger_client.core.event import Actor
from tests.support.helpers import OrgAccess
from tests.support.receivers import RSYSLOG, Rsyslog, WebhookReceiver
from tests.support.streams import drain, record
from tests.support.waiting import wait_until

ADMIN = Actor("user", "auditledger-user:root", "Root")
REQUIRE_RSYSLOG = os.environ.get("AUDITLEDGER_REQUIRE_RSYSLOG") == "1"
REQUIRE_NATS = os.environ.get("AUDITLEDGER_REQUIRE_NATS") == "1"
NATS_URL = os.environ.get("AUDITLEDGER_TEST_NATS_URL", "nats://127.0.0.1:4222")


def test_webhook_batches_are_signed_with_a_timestamp_and_an_idempotency_key(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    stream_services.destinations.create(
        acme.org,
        name="siem",
        transport="webhook",
        settings={"url": receiver.url},
        secrets={"hmac_key": "shared-secret"},
        start_seq=0,
        actor=ADMIN,
    )
    record(stream_services, acme.org, 3)
    drain(stream_services.make_deliverer())
    ((headers, body),) = receiver.requests
    signature = headers[SIGNATURE_HEADER]
    assert verify_signature("shared-secret", signature, body)
    assert not verify_signature("another-secret", signature, body)
    assert not verify_signature("shared-secret", signature, body + b" ")
    assert not verify_signature("shared-secret", signature, body, now=time.time() + 3600)
    batch = json.loads(body)
    assert headers["Idempotency-Key"] == f"{batch['destination']}:0-4"


def test_webhook_splunk_hec_shape(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    stream_services.destinations.create(
        acme.org,
        name="splunk",
        transport="webhook",
        settings={"url": receiver.url, "format": "splunk_hec"},
        secrets={"token": "hec-token"},
        start_seq=0,
        actor=ADMIN,
    )
    record(stream_services, acme.org, 2)
    drain(stream_services.make_deliverer())
    ((headers, body),) = receiver.requests
    assert headers["Authorization"] == "Splunk hec-token"
    entries = [json.loads(line) for line in body.decode().splitlines()]
    assert [e["sourcetype"] for e in entries] == ["auditledger:event"] * 3 + ["auditledger:batch"]
    assert [e["event"]["seq"] for e in entries[:3]] == [0, 1, 2]
    assert isinstance(entries[0]["time"], float)
    assert entries[-1]["event"]["event_count"] == 3


def _require(found: bool, what: str, required: bool) -> None:
    if not found:
        if required:
            pytest.fail(f"{what} is required here (CI) but unavailable")
        pytest.skip(f"{what} unavailable")


def _reassemble(messages: list[dict[str, object]]) -> list[dict[str, object]]:
    """Batches from a header message followed by its events (syslog and NATS carry them so)."""
    batches: list[dict[str, object]] = []
    for message in messages:
        if message.get("format") == "auditledger-stream":
            batch = dict(message)
            batch["events"] = []
            batches.append(batch)
        else:
            batches[-1]["events"].append(message)  # type: ignore[attr-defined]
    return batches


@pytest.mark.slow
def test_syslog_to_rsyslog(stream_services: Services, acme: OrgAccess, tmp_path: Path) -> None:
    _require(
        shutil.which(RSYSLOG) is not None or Path(RSYSLOG).exists(), "rsyslogd", REQUIRE_RSYSLOG
    )
    with Rsyslog(tmp_path) as rsyslog:
        stream_services.destinations.create(
            acme.org,
            name="rsyslog",
            transport="syslog",
            settings={"host": "127.0.0.1", "port": rsyslog.port},
            start_seq=0,
            actor=ADMIN,
        )
        record(stream_services, acme.org, 60)
        drain(stream_services.make_deliverer())
        # 61 events in two batches (50 at most each): two headers and 61 event messages.
        wait_until(lambda: len(rsyslog.lines()) >= 63, "rsyslog to write every message")
        lines = rsyslog.lines()
    assert len(lines) == 63
    assert all(line.startswith("<110>1 ") for line in lines)
    payloads = [json.loads(line[line.index("] ") + 2 :]) for line in lines]
    batches = _reassemble(payloads)
    seqs = [r["seq"] for b in batches for r in b["events"]]  # type: ignore[attr-defined]
    assert seqs == list(range(61))
    verifier = StreamVerifier([stream_services.checkpoints.signing_key().verifier])
    for batch in batches:
        assert verifier.feed(batch) == []


def _nats_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 4222), timeout=1).close()
    except OSError:
        return False
    return True


def test_nats_jetstream_publishes_per_organization_with_dedup_by_event_id(
    stream_services: Services, acme: OrgAccess
) -> None:
    _require(_nats_up(), f"NATS at {NATS_URL}", REQUIRE_NATS)
    import nats

    prefix = f"al{uuid.uuid4().hex[:10]}"
    stream_name = prefix.upper()

    async def setup() -> None:
        client = await nats.connect(NATS_URL)
        await client.jetstream().add_stream(name=stream_name, subjects=[f"{prefix}.>"])
        await client.close()

    async def fetch() -> list[tuple[str, str, bytes]]:
        client = await nats.connect(NATS_URL)
        js = client.jetstream()
        info = await js.stream_info(stream_name)
        found = []
        for seq in range(1, info.state.messages + 1):
            message = await js.get_msg(stream_name, seq)
            found.append(
                (
                    message.subject,
                    (message.headers or {}).get("Nats-Msg-Id", ""),
                    message.data or b"",
                )
            )
        await client.close()
        return found

    async def teardown() -> None:
        client = await nats.connect(NATS_URL)
        await client.jetstream().delete_stream(stream_name)
        await client.close()

    asyncio.run(setup())
    try:
        destination = stream_services.destinations.create(
            acme.org,
            name="nats",
            transport="nats",
            settings={"url": NATS_URL, "subject_prefix": prefix},
            start_seq=0,
            actor=ADMIN,
        )
        record(stream_services, acme.org, 10)
        deliverer = stream_services.make_deliverer()
        drain(deliverer)
        # Redeliver the same events (as after a crash before the cursor moved): JetStream
        # drops them as duplicates of their event ids.
        stream_services.destinations.repo.change(destination.id, next_seq=0, batch_from=0)
        drain(deliverer)
        messages = asyncio.run(fetch())
    finally:
        asyncio.run(teardown())
    assert {subject for subject, _, _ in messages} == {f"{prefix}.acme"}
    events = [json.loads(data) for _, msg_id, data in messages if "format" not in json.loads(data)]
    assert [e["seq"] for e in events] == list(range(11))
    assert all(
        msg_id == json.loads(data)["id"]
        for _, msg_id, data in messages
        if "format" not in json.loads(data)
    )
