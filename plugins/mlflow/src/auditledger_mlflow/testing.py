"""Real processes for the tests and ``make demo-mlflow``: ``auditledger serve`` (from the
project's own virtual environment, AUDITLEDGER_BIN) with an organization ``mlflow``, and
``mlflow server --app-name auditledger-basic-auth`` on SQLite with artifacts proxied through it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import CATALOG

ROOT = Path(__file__).resolve().parents[4]
ADMIN_PASSWORD = "auditledger-test-admin-2026"  # noqa: S105 - a throwaway test/demo server


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, seconds: float, process: subprocess.Popen[bytes]) -> None:
    """Until ``url`` answers 200 (bounded), or fail with the process's output."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up in {seconds} s")


def auditledger_bin() -> str:
    return os.environ.get("AUDITLEDGER_BIN", str(ROOT / ".venv" / "bin" / "auditledger"))


@dataclass
class Audit:
    """``auditledger serve`` with an organization ``mlflow`` and its credentials."""

    workdir: Path
    port: int = field(default_factory=free_port)
    ingest: str = ""
    read: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "AUDITLEDGER_DATABASE_URL": f"sqlite:///{self.workdir / 'audit.db'}",
            "AUDITLEDGER_SIGNING_KEY_FILE": str(self.workdir / "signing.key"),
            "AUDITLEDGER_CATALOG_EXTENSIONS": str(CATALOG),
            "AUDITLEDGER_LOG_LEVEL": "warning",
        }

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [auditledger_bin(), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    def prepare(self) -> None:
        self.cli("init")
        self.cli("orgs", "create", "mlflow", "--name", "MLflow")
        token = re.compile(r"token \(shown once\): (\S+)")
        out = self.cli(
            "credentials", "create", "--kind", "ingest", "--name", "mlflow", "--org", "mlflow"
        )
        self.ingest = token.search(out).group(1)  # type: ignore[union-attr]
        out = self.cli(
            "credentials",
            "create",
            "--kind",
            "read",
            "--org",
            "mlflow",
            "--role",
            "admin",
            "--name",
            "tests",
        )
        self.read = token.search(out).group(1)  # type: ignore[union-attr]

    def start(self) -> None:
        with (self.workdir / "audit.log").open("ab") as log:
            self.process = subprocess.Popen(
                [auditledger_bin(), "serve", "--port", str(self.port)],
                env=self.env(),
                stdout=log,
                stderr=log,
            )
        wait_http(f"{self.url}/readyz", 60, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self.process = None

    def get(self, path: str) -> Any:
        """A JSON answer of auditledger's API (``path`` from ``/api/v1/orgs/mlflow/``) with the
        read credential."""
        request = urllib.request.Request(
            f"{self.url}/api/v1/orgs/mlflow/{path}",
            headers={"Authorization": f"Bearer {self.read}"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)

    def events(self) -> list[dict[str, Any]]:
        """Every event of the organization, oldest first."""
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get("events?limit=500" + (f"&cursor={cursor}" if cursor else ""))
            found.extend(page["events"])
            if not page.get("has_more"):
                break
            cursor = page["next_cursor"]
        # Reads by a read credential are audited too (audit_log.read): these are this helper's
        # own reads, not something MLflow did.
        mapped = [e for e in found if (e["category"], e["type"]) != ("audit_log", "read")]
        return sorted(mapped, key=lambda e: e["seq"])


@dataclass
class Mlflow:
    """``mlflow server --app-name auditledger-basic-auth`` on SQLite, artifacts proxied."""

    workdir: Path
    audit: Audit
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        config = self.workdir / "basic_auth.ini"
        config.write_text(
            "[mlflow]\ndefault_permission = READ\n"
            f"database_uri = sqlite:///{self.workdir / 'auth.db'}\n"
            "admin_username = admin\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
            encoding="utf-8",
        )
        return {
            **os.environ,
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": "auditledger-tests-secret",
            "AUDITLEDGER_SERVER": self.audit.url,
            "AUDITLEDGER_TOKEN": self.audit.ingest,
            "AUDITLEDGER_ORG": "mlflow",
            "AUDITLEDGER_MLFLOW_SPOOL_DIR": str(self.workdir / "spool"),
            **self.extra_env,
        }

    def start(self) -> None:
        env = self.env()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mlflow.server.auth",
                "db",
                "upgrade",
                "--url",
                f"sqlite:///{self.workdir / 'auth.db'}",
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        mlflow_bin = Path(sys.executable).with_name("mlflow")
        with (self.workdir / "mlflow.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(mlflow_bin),
                    "server",
                    "--app-name",
                    "auditledger-basic-auth",
                    "--backend-store-uri",
                    self.backend_uri,
                    "--artifacts-destination",
                    str(self.workdir / "artifacts"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                    "--uvicorn-opts",
                    "--forwarded-allow-ips=127.0.0.1",
                ],
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_http(f"{self.url}/health", 300, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # The whole group: mlflow's uvicorn supervisor and its workers.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)
        self.process = None

    @property
    def backend_uri(self) -> str:
        """MLflow's own database (a test may reach the store as a model made before the plugin
        would: without the server)."""
        return f"sqlite:///{self.workdir / 'mlflow.db'}"

    def log(self) -> str:
        return (self.workdir / "mlflow.log").read_text(encoding="utf-8", errors="replace")
