"""Evidence bundles prove themselves offline, and every kind of tampering is caught and named."""

from __future__ import annotations

import json
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.core.errors import InvalidInput
from auditledger.core.keys import generate_key
from auditledger.integrity import bundle as bundle_module
from auditledger.integrity.bundle_verify import BundleReport, verify_bundle
from auditledger.query.filters import EventFilter, parse_filters
from auditledger.services import Services
from auditledger_client.core.event import Actor
from auditledger_client.core.validate import parse_event
from tests.support.databases import NOW
from tests.support.helpers import OrgAccess, make_org, sample_event
from tests.support.hostile import hostile_events

ACTOR = Actor("user", "auditor", "An Auditor")


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    services.checkpoints.ensure_key()
    access = make_org(services, "acme")
    events = hostile_events(120, random.Random(4)) + [
        sample_event(c, t) for c, t in (("model_version", "tag_change"), ("task", "run"))
    ]
    drafts = [parse_event(e, received_at=NOW) for e in events]
    services.ingest.ingest_blocking(access.org, drafts, NOW)
    return access


@pytest.fixture
def bundle(services: Services, acme: OrgAccess, tmp_path: Path) -> Path:
    path = tmp_path / "evidence.zip"
    summary = services.export.write_bundle(
        acme.org, EventFilter(), path, actor=ACTOR, source_ip=None
    )
    assert summary.records == 122
    return path


def check(services: Services, path: Path) -> BundleReport:
    return verify_bundle(path, services.checkpoints.verifiers())


def rewrite(path: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    change(files)
    tampered = path.with_name("tampered.zip")
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return tampered


def lines(data: bytes) -> list[bytes]:
    return data.rstrip(b"\n").split(b"\n")


def joined(items: list[bytes]) -> bytes:
    return b"\n".join(items) + b"\n"


@pytest.mark.slow
def test_an_intact_bundle_verifies(services: Services, bundle: Path) -> None:
    report = check(services, bundle)
    assert report.ok, report.problems
    assert (report.organization, report.records) == ("acme", 122)
    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["filters"]["description"] == "all events"
    # The export itself is recorded in the log, before the bundle was written.
    head = services.log.head(services.tenancy.org("acme").id)
    (record,) = services.log.events(1, "acme", head.tree_size - 1, head.tree_size)
    assert record.properties == {
        "filters": "all events",
        "format": "bundle",
        "rows": 122,
    }


@pytest.mark.slow
def test_editing_a_csv_cell_is_caught(services: Services, bundle: Path) -> None:
    def edit(files: dict[str, bytes]) -> None:
        files["events.csv"] = files["events.csv"].replace(b"Ada Okafor", b"Mallory", 1)

    problems = check(services, rewrite(bundle, edit)).problems
    assert "events.csv differs from the signed manifest (altered)" in problems
    assert any("(edited cell)" in p for p in problems)


@pytest.mark.slow
def test_editing_a_record_is_caught_and_located(services: Services, bundle: Path) -> None:
    def edit(files: dict[str, bytes]) -> None:
        records = lines(files["records.jsonl"])
        record = json.loads(records[7])
        record["actor"]["name"] = "Somebody Else"
        records[7] = json.dumps(
            record, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        files["records.jsonl"] = joined(records)

    problems = check(services, rewrite(bundle, edit)).problems
    assert "records.jsonl differs from the signed manifest (altered)" in problems
    assert any(p.startswith("record 8 (") and "not proven by the checkpoint" in p for p in problems)


@pytest.mark.slow
def test_dropping_a_record_is_caught_and_named(services: Services, bundle: Path) -> None:
    dropped: dict[str, str] = {}

    def drop(files: dict[str, bytes]) -> None:
        records = lines(files["records.jsonl"])
        dropped["id"] = json.loads(records.pop(3))["id"]
        proofs = lines(files["proofs.jsonl"])
        proofs.pop(3)
        files["records.jsonl"], files["proofs.jsonl"] = joined(records), joined(proofs)

    problems = check(services, rewrite(bundle, drop)).problems
    assert "121 records, but the manifest lists 122 (dropped records)" in problems
    assert any(dropped["id"] in p and "has no record" in p for p in problems)


@pytest.mark.slow
def test_adding_a_record_is_caught(services: Services, bundle: Path) -> None:
    def add(files: dict[str, bytes]) -> None:
        records = lines(files["records.jsonl"])
        forged = json.loads(records[-1])
        forged["id"] = "00000000-0000-4000-8000-000000000000"
        forged["seq"] += 1000
        records.append(
            json.dumps(forged, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        )
        proofs = lines(files["proofs.jsonl"])
        proofs.append(proofs[-1])
        files["records.jsonl"], files["proofs.jsonl"] = joined(records), joined(proofs)

    problems = check(services, rewrite(bundle, add)).problems
    assert "123 records, but the manifest lists 122 (added records)" in problems
    assert any(p.startswith("record 123 (") and "not proven" in p for p in problems)


def test_reordering_records_is_caught(services: Services, bundle: Path) -> None:
    def swap(files: dict[str, bytes]) -> None:
        for name in ("records.jsonl", "proofs.jsonl"):
            items = lines(files[name])
            items[10], items[40] = items[40], items[10]
            files[name] = joined(items)

    problems = check(services, rewrite(bundle, swap)).problems
    assert any("out of order (reordered)" in p for p in problems)


def test_another_organizations_checkpoint_is_caught(
    services: Services, bundle: Path, acme: OrgAccess
) -> None:
    globex = make_org(services, "globex")
    services.ingest.ingest_blocking(globex.org, [parse_event(sample_event(), received_at=NOW)], NOW)
    other, _ = services.checkpoints.checkpoint(globex.org.id, "globex")

    def replace(files: dict[str, bytes]) -> None:
        files["checkpoint.txt"] = other.note.encode()

    problems = check(services, rewrite(bundle, replace)).problems
    assert any("checkpoint.txt is not a valid checkpoint of this log" in p for p in problems)


@pytest.mark.slow
def test_altering_the_manifest_is_caught(services: Services, bundle: Path) -> None:
    def alter(files: dict[str, bytes]) -> None:
        manifest = json.loads(files["manifest.json"])
        manifest["records"] = 121
        files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode()

    problems = check(services, rewrite(bundle, alter)).problems
    assert problems == ["manifest.json differs from the one that was signed (altered)"]


def test_another_key_is_not_trusted(services: Services, bundle: Path) -> None:
    stranger = generate_key("auditledger.local").verifier
    problems = verify_bundle(bundle, [stranger]).problems
    assert any("manifest.sig does not verify" in p for p in problems)


def test_an_added_file_is_reported(services: Services, bundle: Path) -> None:
    def add(files: dict[str, bytes]) -> None:
        files["extra.csv"] = b"x"

    problems = check(services, rewrite(bundle, add)).problems
    assert problems == ["extra.csv is not listed by the signed manifest (added)"]


def test_filters_apply_and_the_size_is_bounded(
    services: Services, acme: OrgAccess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "one-type.zip"
    flt = parse_filters([("type", "task.run")])
    summary = services.export.write_bundle(acme.org, flt, path, actor=ACTOR, source_ip=None)
    assert summary.records == 1
    assert check(services, path).ok
    monkeypatch.setattr(bundle_module, "MAX_RECORDS", 10)
    with pytest.raises(InvalidInput, match="too many events"):
        services.export.write_bundle(
            acme.org, EventFilter(), tmp_path / "big.zip", actor=ACTOR, source_ip=None
        )


def test_a_tampered_database_yields_no_bundle(
    services: Services, acme: OrgAccess, tmp_path: Path
) -> None:
    with services.db.write() as connection:
        if services.db.is_postgres:
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER events_append_only_update"))
        connection.execute(text("UPDATE events SET actor_name = 'Mallory' WHERE seq = 5"))
    with pytest.raises(InvalidInput, match="does not verify"):
        services.export.write_bundle(
            acme.org, EventFilter(), tmp_path / "x.zip", actor=ACTOR, source_ip=None
        )


@pytest.mark.slow
def test_bundle_over_http_and_the_cli(
    client: TestClient, services: Services, acme: OrgAccess, tmp_path: Path
) -> None:
    member = client.get("/api/v1/orgs/acme/export.zip", headers=acme.headers(acme.member))
    assert member.status_code == 403
    response = client.get(
        "/api/v1/orgs/acme/export.zip",
        params={"category": "model"},
        headers=acme.headers(acme.admin),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "auditledger-acme-all.zip" in response.headers["content-disposition"]
    downloaded = tmp_path / "downloaded.zip"
    downloaded.write_bytes(response.content)
    vkey = tmp_path / "key.txt"
    vkey.write_text(services.checkpoints.verifiers()[0].vkey() + "\n")
    runner = CliRunner(env={"COLUMNS": "200"})
    result = runner.invoke(app, ["verify-bundle", str(downloaded), "--public-key", str(vkey)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    broken = rewrite(downloaded, lambda files: files.update({"events.csv": b"nope"}))
    result = runner.invoke(app, ["verify-bundle", str(broken), "--public-key", str(vkey)])
    assert result.exit_code == 1
    assert "events.csv differs from the signed manifest" in result.output
