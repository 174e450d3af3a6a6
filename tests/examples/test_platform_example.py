"""The example platform, in-process, against a real auditledger server: its events arrive,
with the actor's address taken from trusted proxies only, and approvals fail closed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from examples.platform.app import Settings, create_app, model_versions
from fastapi.testclient import TestClient
from sqlalchemy import select

from auditledger.services import Services, build_services
from auditledger.settings import load_settings
from auditledger_client.core.event import Location
from tests.support.helpers import OrgAccess, make_org
from tests.support.servers import ServerProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def audit(
    tmp_path: Path, sqlite_template: Path
) -> Iterator[tuple[ServerProcess, Services, OrgAccess]]:
    path = tmp_path / "auditledger.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    services = build_services(
        load_settings(environ={}, database_url=url, signing_key_file=tmp_path / "k.key")
    )
    access = make_org(services, "acme")
    with ServerProcess(url, tmp_path) as server:
        yield server, services, access
    services.stop()


def settings_for(server: ServerProcess, access: OrgAccess, tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'platform.db'}",
        audit_server=server.url,
        audit_token=access.ingest,
        audit_org="acme",
        spool_path=str(tmp_path / "spool.db"),
        trusted_proxies=("10.0.0.0/8",),
        # A bound on the wait for the audit log's answer, not its expected time (a loaded
        # machine may take seconds); a refused connection fails at once regardless.
        ack_timeout=60.0,
    )


def shipped(app: object) -> None:
    """Wait (bounded) until the relay emptied the outbox, then flush the client."""
    platform = app.state.platform  # type: ignore[attr-defined]

    def emptied() -> bool:
        with platform.engine.connect() as conn:
            return bool(platform.outbox.pending(conn) == 0)

    wait_until(emptied, "the relay to empty the outbox")
    platform.audit.flush(60)


def test_example_platform_records_through_outbox_client_and_middleware(
    audit: tuple[ServerProcess, Services, OrgAccess], tmp_path: Path
) -> None:
    server, services, access = audit
    app = create_app(settings_for(server, access, tmp_path))
    behind_proxy = {"X-Forwarded-For": "81.2.69.160"}
    with TestClient(app, client=("10.0.0.5", 40000)) as web:
        model = web.post("/models", json={"name": "churn"}, headers=behind_proxy).json()
        assert web.patch(
            f"/models/{model['id']}",
            json={"name": "churn-eu", "description": "EU churn"},
            headers=behind_proxy,
        ).is_success
        approved = web.post(f"/models/{model['id']}/versions/3/approve", headers=behind_proxy)
        assert approved.json()["approved"] is True
        assert isinstance(approved.json()["audit_seq"], int)
        run = web.post(
            "/executions",
            json={"name": "train #1", "step": "train", "commit_id": "abc123"},
            headers=behind_proxy,
        )
        assert run.status_code == 201
        dataset = web.post("/datasets", json={"name": "customers"}).json()
        # From the open internet, a forged header is ignored: the peer's address is used.
        # (No `with`: the app's lifespan is already running.)
        outsider = TestClient(app, client=("193.166.3.7", 40001))
        assert outsider.get(
            f"/datasets/{dataset['id']}/files/part-0.csv",
            headers={"X-Forwarded-For": "8.8.8.8", "X-User-Id": "u-ben"},
        ).is_success
        shipped(app)
    org = access.org
    events = services.log.events(org.id, org.slug, 0, services.log.head(org.id).tree_size)
    by_type = {f"{e.category}.{e.type}": e for e in events}
    assert sorted(by_type) == [
        "dataset.create",
        "datum.download",
        "execution.run",
        "model.create",
        "model.description_change",
        "model.rename",
        "model_version.approve",
    ]
    rename = by_type["model.rename"]
    assert rename.properties == {"old_name": "churn", "new_name": "churn-eu"}
    assert rename.source is not None
    assert rename.source.ip == "81.2.69.160"
    assert rename.source.location == Location("GB", "United Kingdom")
    approve = by_type["model_version.approve"]
    assert approve.subject.parent is not None
    assert approve.subject.parent.name == "churn-eu"
    dataset_create = by_type["dataset.create"]
    assert dataset_create.source is not None
    assert dataset_create.source.ip == "10.0.0.5"  # a proxy address sent no header: itself
    download = by_type["datum.download"]
    assert download.source is not None
    assert download.source.ip == "193.166.3.7"
    assert download.actor.id == "u-ben"
    # The outbox's events arrive in the order of their transactions.
    outbox_order = [f"{e.category}.{e.type}" for e in events if e.category != "datum"]
    assert outbox_order.index("model.create") < outbox_order.index("model.rename")


def test_approval_fails_closed_when_the_audit_log_cannot_confirm(
    audit: tuple[ServerProcess, Services, OrgAccess], tmp_path: Path
) -> None:
    server, _services, access = audit
    app = create_app(settings_for(server, access, tmp_path))
    with TestClient(app, client=("10.0.0.5", 40000)) as web:
        model = web.post("/models", json={"name": "churn"}).json()
        server.stop()
        refused = web.post(f"/models/{model['id']}/versions/1/approve")
        assert refused.status_code == 503
        assert "not approved" in refused.json()["detail"]
        platform = app.state.platform
        with platform.engine.connect() as conn:
            assert conn.execute(select(model_versions)).all() == []
        server.start()
        shipped(app)


def test_the_example_takes_its_server_and_ports_from_the_environment() -> None:
    # A new user runs the example beside a service on any port: nothing in it is fixed.
    settings = Settings.from_env(
        {
            "AUDITLEDGER_SERVER": "http://127.0.0.1:18123",
            "AUDITLEDGER_TOKEN": "al_ingest_x",
            "AUDITLEDGER_ORG": "acme",
            "PLATFORM_DATABASE_URL": "sqlite:///elsewhere.db",
            "PLATFORM_AUDIT_SPOOL": "elsewhere-spool.db",
            "PLATFORM_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.0.1/32",
        }
    )
    assert (settings.audit_server, settings.audit_token, settings.audit_org) == (
        "http://127.0.0.1:18123",
        "al_ingest_x",
        "acme",
    )
    assert settings.database_url == "sqlite:///elsewhere.db"
    assert settings.spool_path == "elsewhere-spool.db"
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.0.1/32")
    readme = (Path(__file__).parents[2] / "examples" / "platform" / "README.md").read_text("utf-8")
    assert "PLATFORM_PORT" in readme
    assert "AUDITLEDGER_SERVER" in readme
