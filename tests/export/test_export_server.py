"""Exports against a real server: a broken export is visibly broken; the CLI writes files only
when complete."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx2 as httpx
import psycopg
import pytest
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.services import build_services
from auditledger.settings import load_settings
from auditledger_client.core.validate import parse_event
from tests.support.helpers import OrgAccess, make_org, sample_event
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow


def prepare(database_url: str, tmp_path: Path, count: int) -> OrgAccess:
    services = build_services(
        load_settings(environ={}, database_url=database_url, signing_key_file=tmp_path / "k")
    )
    services.db.migrate()
    services.start()
    try:
        access = make_org(services, "acme")
        for offset in range(0, count, 1000):
            drafts = [
                parse_event(sample_event(), received_at=services.clock.now())
                for _ in range(min(1000, count - offset))
            ]
            services.ingest.ingest_blocking(access.org, drafts, services.clock.now())
    finally:
        services.stop()
    return access


@pytest.mark.postgres
@pytest.mark.parametrize("engine_kind", ["postgres"], indirect=True)
def test_database_failure_mid_export_truncates_the_transfer(
    database_url: str, tmp_path: Path
) -> None:
    access = prepare(database_url, tmp_path, 40_000)
    with (
        ServerProcess(database_url, tmp_path) as server,
        httpx.stream(
            "GET",
            f"{server.url}/api/v1/orgs/acme/export.csv",
            headers=access.headers(access.admin),
            timeout=30,
        ) as response,
    ):
        assert response.status_code == 200
        chunks = response.iter_bytes()
        received = next(chunks)
        # Kill the export's own database session while it is mid-stream: its snapshot
        # transaction, idle between pages or partitions, or running a partition's COPY.
        with psycopg.connect(database_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND (state LIKE 'idle in transaction%' "
                "OR (state = 'active' AND query ILIKE 'COPY%'))"
            ).fetchall()
        assert killed
        with pytest.raises(httpx.RemoteProtocolError):
            received += b"".join(chunks)
    rows = list(csv.reader(received.decode("utf-8", "replace").splitlines()))
    assert len(rows) < 40_001


def test_cli_exports_from_a_database_and_a_server(database_url: str, tmp_path: Path) -> None:
    access = prepare(database_url, tmp_path, 1200)
    runner = CliRunner()
    out = tmp_path / "direct.csv"
    result = runner.invoke(
        app, ["export", "--org", "acme", "-o", str(out), "--database-url", database_url]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 1,200 events" in result.output
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1200
    assert rows[0]["Source IP"] == "193.166.3.7"  # the operator sees everything
    assert not out.with_name("direct.csv.partial").exists()

    with ServerProcess(database_url, tmp_path) as server:
        via = tmp_path / "via-server.jsonl"
        result = runner.invoke(
            app,
            [
                "export",
                "--org",
                "acme",
                "-o",
                str(via),
                "--format",
                "jsonl",
                "--server",
                server.url,
                "--token",
                access.member,
                "--type",
                "model.rename",
            ],
        )
        assert result.exit_code == 0, result.output
        # 1,200 events plus the record of the CLI's direct export (not a model.rename).
        assert len(via.read_text(encoding="utf-8").splitlines()) == 1200
        assert "193.166.3.7" not in via.read_text(encoding="utf-8")
        denied = runner.invoke(
            app,
            [
                "export",
                "--org",
                "acme",
                "-o",
                str(tmp_path / "x.csv"),
                "--server",
                server.url,
                "--token",
                "al_read_bogus_bogus",
            ],
        )
        assert denied.exit_code == 1
        assert "401" in denied.output
        assert not (tmp_path / "x.csv").exists()
        assert not (tmp_path / "x.csv.partial").exists()
