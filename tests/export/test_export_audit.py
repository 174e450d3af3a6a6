"""Nothing leaves as an export without its audit record (issue 16, finding 2), and every
filter value is checked, ``subject`` included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from auditledger.core.errors import Unavailable
from auditledger.export.service import ExportFormat
from auditledger.query.filters import EventFilter
from auditledger.services import Services
from auditledger_client.core.event import Actor
from auditledger_client.core.validate import parse_event
from tests.support.databases import NOW
from tests.support.helpers import OrgAccess, make_org, sample_event

SQLITE = pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
SUBJECT = "mdl-churn-model"


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    access = make_org(services, "acme")
    drafts = [
        parse_event(sample_event(subject={"id": SUBJECT, "name": "churn-model"}), received_at=NOW)
        for _ in range(5)
    ]
    services.ingest.ingest_blocking(access.org, drafts, NOW)
    return access


def exports_recorded(services: Services, access: OrgAccess) -> list[Any]:
    head = services.log.head(access.org.id)
    return [
        e
        for e in services.log.events(access.org.id, access.org.slug, 0, head.tree_size)
        if (e.category, e.type) == ("audit_log", "export")
    ]


@SQLITE
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_nul_subject_neither_streams_rows_nor_skips_the_record(
    client: TestClient, services: Services, acme: OrgAccess, fmt: str
) -> None:
    # ?subject=mdl-churn-model&subject=%00 streamed every matching row, and the record failed
    # on the NUL after the last byte, outside any try: no audit_log.export at all.
    response = client.get(
        f"/api/v1/orgs/acme/export.{fmt}",
        params=[("from", "2026-01-01"), ("subject", SUBJECT), ("subject", "\x00")],
        headers=acme.headers(acme.member),
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["problems"][0]["field"] == "subject"
    assert b"churn-model" not in response.content
    assert exports_recorded(services, acme) == []


@SQLITE
def test_an_unknown_subject_is_a_422_like_every_other_filter(
    client: TestClient, acme: OrgAccess
) -> None:
    # Every other filter refused an id the log never saw; subject answered 200 and no rows.
    headers = acme.headers(acme.member)
    for url in ("/api/v1/orgs/acme/export.csv", "/api/v1/orgs/acme/events"):
        unknown = client.get(url, params={"subject": "nobody-ever"}, headers=headers)
        assert unknown.status_code == 422, url
        (problem,) = unknown.json()["error"]["problems"]
        assert problem["field"] == "subject"
        assert "nobody-ever" in problem["message"]
        assert client.get(url, params={"subject": SUBJECT}, headers=headers).status_code == 200


@SQLITE
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "zip"])
def test_an_export_whose_record_cannot_be_committed_sends_nothing(
    client: TestClient,
    services: Services,
    acme: OrgAccess,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    # The record used to be written after the data, and a failure to write it was only
    # logged: the data had left unaudited. Now the record comes first or nothing does.
    services.checkpoints.ensure_key()

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise Unavailable("the database is down", retry_after=2)

    monkeypatch.setattr(services.ingest, "ingest_blocking", refuse)
    response = client.get(f"/api/v1/orgs/acme/export.{fmt}", headers=acme.headers(acme.admin))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert SUBJECT.encode() not in response.content


@SQLITE
def test_the_record_precedes_the_first_byte_and_counts_exactly(
    services: Services, acme: OrgAccess, tmp_path: Path
) -> None:
    services.checkpoints.ensure_key()
    actor = Actor("system", "test", "test")
    chunks = services.export.stream(
        acme.org, EventFilter(), _csv(), include_source=False, actor=actor, source_ip=None
    )
    # Before a single byte was asked for, the export is on record with its row count.
    (record,) = exports_recorded(services, acme)
    assert record.properties["rows"] == 5
    body = b"".join(chunks)
    assert body.count(SUBJECT.encode()) == 5  # its own record is not part of it
    summary = services.export.write_bundle(
        acme.org, EventFilter(), tmp_path / "b.zip", actor=actor, source_ip=None
    )
    bundle_record = exports_recorded(services, acme)[-1]
    assert bundle_record.properties["format"] == "bundle"
    assert bundle_record.properties["rows"] == summary.records == 6


def _csv() -> ExportFormat:
    return ExportFormat.CSV
