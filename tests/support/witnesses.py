"""Real ``auditledger witness serve`` processes on 127.0.0.1, and a small in-memory Merkle tree
for building checkpoints and consistency proofs to submit."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import httpx2 as httpx

from auditledger.core.canonical import node_hash
from auditledger.core.checkpoint import Checkpoint, sign_checkpoint
from auditledger.core.keys import SigningKey
from auditledger.core.merkle import NodeId, consistency_proof, root_hash
from tests.support.servers import free_port, wait_healthy


def leaf(i: int, tag: str = "") -> bytes:
    """A leaf hash for tests (RFC 6962 leaf prefix over a made-up entry)."""
    return hashlib.sha256(b"\x00" + f"entry {i}{tag}".encode()).digest()


class MemoryTree:
    """A Merkle tree over leaf hashes held in memory."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves

    def _node(self, level: int, index: int) -> bytes:
        if level == 0:
            return self.leaves[index]
        return node_hash(self._node(level - 1, 2 * index), self._node(level - 1, 2 * index + 1))

    def fetch(self, nodes: Iterable[NodeId]) -> dict[NodeId, bytes]:
        return {node: self._node(*node) for node in nodes}

    def root(self, size: int) -> bytes:
        return root_hash(size, self.fetch)

    def proof(self, old: int, new: int) -> list[bytes]:
        return [] if old in (0, new) else consistency_proof(old, new, self.fetch)

    def note(self, origin: str, size: int, key: SigningKey) -> str:
        return sign_checkpoint(Checkpoint(origin, size, self.root(size)), key)


def witness_config(
    directory: Path, name: str, logs: list[tuple[str, str]], port: int | None = None
) -> Path:
    """Write a witness configuration following ``logs`` (origin, log vkey); its path."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f'name = "{name}"', f"port = {port or free_port()}"]
    for origin, vkey in logs:
        lines += ["[[log]]", f'origin = "{origin}"', f'public_key = "{vkey}"']
    path = directory / "witness.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


WITNESS = (sys.executable, "-m", "auditledger", "witness")


class WitnessProcess:
    """``auditledger witness serve`` in a subprocess, after ``witness init``."""

    def __init__(self, config: Path, port: int) -> None:
        self.config = config
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = config.parent / "witness.log"
        init = subprocess.run(
            [*WITNESS, "init", "--config", str(config)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "COLUMNS": "400"},
        )
        self.vkey = init.stdout.strip()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_checkpoint(self, body: bytes) -> httpx.Response:
        return httpx.post(f"{self.url}/add-checkpoint", content=body, timeout=30)

    def start(self, timeout: float = 120.0) -> WitnessProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*WITNESS, "serve", "--config", str(self.config), "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_healthy(self.process, self.url, self.log_path, "witness", timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self) -> WitnessProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
