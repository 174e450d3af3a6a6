"""Real ``auditledger serve`` subprocesses on 127.0.0.1, for tests that need a real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx2 as httpx


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(
    process: subprocess.Popen[bytes], url: str, log_path: Path, what: str, timeout: float
) -> None:
    """Until ``url``/healthz answers 200; raises naming ``what``, with the end of its log, when
    the process exits first or ``timeout`` passes (the caller stops it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start:\n{log_path.read_text()[-3000:]}")


class ServerProcess:
    """``auditledger serve`` in a subprocess; stop it gently or with ``kill -9``."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.port = port or free_port()
        self.env = env or {}
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> ServerProcess:
        env = dict(os.environ)
        env.update(
            {
                "AUDITLEDGER_SIGNING_KEY_FILE": str(self.workdir / "signing.key"),
                "AUDITLEDGER_LOG_LEVEL": "warning",
                "AUDITLEDGER_PURGE_INTERVAL": "0",
            }
        )
        env.update(self.env)
        with self.log_path.open("ab") as log:
            self._spawn(env, log)
        return self._wait_ready(timeout)

    def _spawn(self, env: dict[str, str], log: IO[bytes]) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "auditledger",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--database-url",
                self.database_url,
                *self.args,
            ],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait_ready(self, timeout: float) -> ServerProcess:
        assert self.process is not None
        try:
            wait_healthy(self.process, self.url, self.log_path, "server", timeout)
        except RuntimeError:
            self.kill()
            raise
        return self

    def kill(self) -> None:
        """``kill -9``: no shutdown, no flush, nothing."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """A graceful stop (SIGTERM)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
