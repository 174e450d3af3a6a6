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

__all__ = ["ADMIN_PASSWORD", "Audit", "Mlflow", "Recorded"]


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audit]:
    server = Audit(tmp_path_factory.mktemp("audit"))
    server.prepare()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mlflow_server(audit: Audit, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mlflow]:
    server = Mlflow(tmp_path_factory.mktemp("mlflow"), audit)
    server.start()
    yield server
    server.stop()


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
