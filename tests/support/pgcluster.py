"""A private PostgreSQL server for fault tests: it can be restarted without disturbing the
shared one other tests use."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port


def _bindir() -> Path | None:
    # Debian's real binaries first; /usr/local/bin may hold wrappers for the shared server.
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    found = shutil.which("pg_ctl")
    for directory in candidates + ([str(Path(found).parent)] if found else []):
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    return None


def _as_owner(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs tests as root, so run it as "postgres".
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class PrivatePostgres:
    """A running private server."""

    bindir: Path
    datadir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.datadir.parent} -c listen_addresses=127.0.0.1"
        subprocess.run(
            _as_owner(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-o",
                    options,
                    "-l",
                    str(self.datadir.parent / "server.log"),
                    "-w",
                    *args,
                ]
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")


def available() -> str | None:
    """None if a private server can be made here, else why not."""
    if _bindir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


@contextmanager
def private_postgres(workdir: Path) -> Iterator[PrivatePostgres]:
    """initdb and start a server on a free port; stop and remove it afterwards.

    The data lives in its own directory under the system temp dir (pytest's own is private to
    the test user, and the server may run as another user).
    """
    del workdir  # kept for symmetry with other fixtures; see the docstring
    bindir = _bindir()
    assert bindir is not None
    base = Path(tempfile.mkdtemp(prefix="auditledger-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    datadir = base / "data"
    subprocess.run(
        _as_owner(
            [
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = PrivatePostgres(bindir, datadir, free_port())
    server.start()
    try:
        yield server
    finally:
        with suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
