"""A real ``mlflow server`` (SQLite, local artifacts through the server, basic-auth) with the
plugin, a real ``auditledger serve`` it sends to, and helpers to read what was recorded.

These tests run in the MLflow virtual environment (``make test-mlflow``); the auditledger
server runs from the project's own one (AUDITLEDGER_BIN, default ``.venv/bin/auditledger``),
so MLflow never enters the server's environment. Without MLflow they skip, unless
AUDITLEDGER_REQUIRE_MLFLOW=1 (CI), where that is a failure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

try:
    import mlflow  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("AUDITLEDGER_REQUIRE_MLFLOW") == "1":
        raise
    pytest.skip("mlflow is not installed (make venv-mlflow)", allow_module_level=True)

from auditledger_mlflow.testing import ADMIN_PASSWORD, Audit, Mlflow
from mlflow import MlflowClient
from mlflow.server import get_app_client

__all__ = ["ADA_PASSWORD", "ADMIN_PASSWORD", "FAIL_CLOSED", "Audit", "Mlflow", "Recorded", "check"]
ADA_PASSWORD = "ada-secret-passw0rd-2026"


# Actions that must not happen unaudited on the tests' MLflow (docs/mlflow.md, "Fail-closed").
FAIL_CLOSED = "model_version.approve,model_version.reject"


# One pair of servers for the whole run (an MLflow start takes a while); the outage tests
# stop and restart auditledger, and leave it running.
@pytest.fixture(scope="session")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audit]:
    server = Audit(tmp_path_factory.mktemp("audit"))
    server.prepare()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mlflow_server(audit: Audit, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mlflow]:
    server = Mlflow(
        tmp_path_factory.mktemp("mlflow"),
        audit,
        extra_env={"AUDITLEDGER_MLFLOW_FAIL_CLOSED": FAIL_CLOSED, "AUDITLEDGER_ACK_TIMEOUT": "3"},
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ada(mlflow_server: Mlflow, audit: Audit) -> Iterator[MlflowClient]:
    """The MLflow client of user ``ada`` (created by the admin), with her basic-auth
    credentials in the environment for the tests."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        env.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        recorded = Recorded(audit)
        get_app_client("basic-auth", tracking_uri=mlflow_server.url).create_user(
            "ada", ADA_PASSWORD
        )
        recorded.new(1)  # user.create, by the admin
        env.setenv("MLFLOW_TRACKING_USERNAME", "ada")
        env.setenv("MLFLOW_TRACKING_PASSWORD", ADA_PASSWORD)
        # A refused request fails at once (MLflow's client retries 5xx for minutes otherwise).
        env.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        yield MlflowClient(mlflow_server.url)


def check(
    event: dict[str, Any],
    kind: str,
    *,
    subject: dict[str, Any],
    properties: dict[str, Any],
    project: dict[str, Any] | None,
    actor: str = "ada",
    source: str = "127.0.0.1",
) -> None:
    """One recorded event is exactly this: category.type, subject (with its parent), every
    property, project, the authenticated MLflow user as actor, the client address as source."""
    assert f"{event['category']}.{event['type']}" == kind
    assert event["subject"] == subject
    assert event["properties"] == properties
    assert event.get("project") == project
    assert event["actor"] == {"type": "user", "id": actor, "name": actor}
    assert event["source"]["ip"] == source


class Recorded:
    """What the audit log received since the last look."""

    def __init__(self, audit: Audit) -> None:
        self.audit = audit
        self.seen = len(audit.events())

    def new(self, count: int, seconds: float = 30) -> list[dict[str, Any]]:
        """Exactly the next ``count`` events (waiting for the spool to ship them, bounded);
        fails if more arrive within a short grace period."""
        deadline = time.monotonic() + seconds
        events = self.audit.events()[self.seen :]
        while len(events) < count and time.monotonic() < deadline:
            time.sleep(0.2)
            events = self.audit.events()[self.seen :]
        time.sleep(0.6)  # anything extra would have been shipped by now (linger is 0.2 s)
        events = self.audit.events()[self.seen :]
        self.seen += len(events)
        assert len(events) == count, [f"{e['category']}.{e['type']}" for e in events]
        return events
