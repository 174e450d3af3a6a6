"""``auditledger verify-stream``: a captured stream checks out with the public key alone; a
tampered event, a forged checkpoint, a dropped batch or a missing event is rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.core.keys import generate_key
from auditledger.services import Services
from auditledger.streaming.verify import verify_stream
from auditledger_client.core.event import Actor
from tests.support.helpers import OrgAccess
from tests.support.receivers import WebhookReceiver
from tests.support.streams import drain, record

ADMIN = Actor("user", "auditledger-user:root", "Root")


def _capture(
    services: Services, acme: OrgAccess, receiver: WebhookReceiver, **options: object
) -> list[str]:
    services.destinations.create(
        acme.org,
        name="siem",
        transport="webhook",
        settings={"url": receiver.url},
        actor=ADMIN,
        start_seq=0,
        **options,  # type: ignore[arg-type]
    )
    deliverer = services.make_deliverer()
    for _ in range(3):  # the log grows between batches: consistency proofs link them
        record(services, acme.org, 40)
        drain(deliverer)
    return receiver.stream_lines()


def _key(services: Services) -> str:
    return services.checkpoints.signing_key().verifier.vkey()


def test_a_captured_stream_verifies(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    lines = _capture(stream_services, acme, receiver, include_source=True)
    assert len(lines) >= 3
    assert any(json.loads(line)["consistency"] for line in lines)
    path = tmp_path / "stream.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(
        app, ["verify-stream", str(path), "--public-key", _key(stream_services)]
    )
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    assert "121 events" in result.output
    piped = CliRunner().invoke(
        app, ["verify-stream", "--public-key", _key(stream_services)], input=path.read_text()
    )
    assert piped.exit_code == 0, piped.output


def _problems(services: Services, lines: list[str]) -> list[str]:
    return verify_stream(lines, [services.checkpoints.signing_key().verifier]).problems


def _edit(lines: list[str], index: int, change: object) -> list[str]:
    batch = json.loads(lines[index])
    change(batch)  # type: ignore[operator]
    return [*lines[:index], json.dumps(batch), *lines[index + 1 :]]


def test_a_tampered_event_is_rejected(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    lines = _capture(stream_services, acme, receiver, include_source=True)
    assert _problems(stream_services, lines) == []

    def rename_actor(batch: dict[str, object]) -> None:
        batch["events"][3]["event"]["actor"]["name"] = "Mallory"  # type: ignore[index]

    tampered = _edit(lines, 1, rename_actor)
    problems = _problems(stream_services, tampered)
    assert len(problems) == 1
    assert "tampered: its actor differs" in problems[0]

    def rewrite_both(batch: dict[str, object]) -> None:
        record_ = batch["events"][0]  # type: ignore[index]
        canonical = json.loads(record_["canonical"])
        canonical["properties"]["new_name"] = "forged"
        record_["canonical"] = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        record_["event"]["properties"]["new_name"] = "forged"

    problems = _problems(stream_services, _edit(lines, 0, rewrite_both))
    assert any("does not hash to its leaf hash" in p for p in problems)
    path = tmp_path / "tampered.jsonl"
    path.write_text("\n".join(tampered))
    result = CliRunner().invoke(
        app, ["verify-stream", str(path), "--public-key", _key(stream_services)]
    )
    assert result.exit_code == 1
    assert "FAILED" in result.output
    assert "tampered" in result.output


def test_a_dropped_batch_or_a_missing_event_is_a_gap(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    lines = _capture(stream_services, acme, receiver, include_source=True)
    dropped = [lines[0], *lines[2:]]
    assert any("gap: it starts at seq" in p for p in _problems(stream_services, dropped))

    def drop_event(batch: dict[str, object]) -> None:
        del batch["events"][5]  # type: ignore[attr-defined]

    problems = _problems(stream_services, _edit(lines, 1, drop_event))
    assert any("gap: an unfiltered batch" in p for p in problems)


def test_a_checkpoint_signed_by_another_key_is_rejected(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    lines = _capture(stream_services, acme, receiver)
    stranger = generate_key(stream_services.settings.log_origin).verifier
    problems = verify_stream(lines, [stranger]).problems
    assert problems
    assert all("checkpoint does not verify" in p for p in problems)


def test_without_source_permission_events_with_sources_cannot_be_content_checked(
    stream_services: Services, acme: OrgAccess, receiver: WebhookReceiver
) -> None:
    # Their hashed content holds the source, so it is withheld: inclusion is still proven, and
    # verify-stream says how many events it could not check the content of.
    lines = _capture(stream_services, acme, receiver)
    report = verify_stream(lines, [stream_services.checkpoints.signing_key().verifier])
    assert report.ok, report.problems
    assert report.unbound == 120
    assert all(
        "canonical" not in r or json.loads(r["canonical"])["source"] is None
        for line in lines
        for r in json.loads(line)["events"]
    )
    for line in lines:
        assert "193.166.3.7" not in line


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_verify_stream_refuses_an_empty_or_unreadable_stream(
    stream_services: Services, tmp_path: Path
) -> None:
    key = _key(stream_services)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = CliRunner().invoke(app, ["verify-stream", str(empty), "--public-key", key])
    assert result.exit_code == 1
    assert "no batch" in result.output
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("{not json\n")
    result = CliRunner().invoke(app, ["verify-stream", str(garbage), "--public-key", key])
    assert result.exit_code == 1
    assert "not an auditledger-stream batch" in result.output
    missing = CliRunner().invoke(
        app, ["verify-stream", str(tmp_path / "nope"), "--public-key", key]
    )
    assert missing.exit_code == 1
    assert "cannot read" in missing.output
