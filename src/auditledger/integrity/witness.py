"""The witness copy: the newest checkpoint this deployment signed per organization, kept in a
file outside the database.

A database restored from an older backup forgets the checkpoints signed since; the files do
not. Before signing, the checkpointer requires the log to be at least as large as, and
consistent with, the witnessed checkpoint, so a rolled-back database is refused, not re-signed.

Processes sharing the directory take a per-organization file lock around "read the witness,
read the log, sign, store, update the witness", so they never see each other's half-done work
and the witness only ever moves forward.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from auditledger.integrity.files import replace_file


class WitnessSlot:
    """One organization's witness file, while its lock is held."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> str | None:
        """The witnessed checkpoint note, or None if there is none yet."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write(self, note: str) -> None:
        """Replace the witnessed checkpoint, atomically and durably."""
        replace_file(self.path, note.encode("utf-8"))


class WitnessStore:
    """Witness files, one per organization, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @contextmanager
    def locked(self, org_slug: str) -> Iterator[WitnessSlot]:
        """Hold the organization's witness lock (OSError if the directory cannot be made)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_path = self.directory / f"{org_slug}.lock"
        with lock_path.open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield WitnessSlot(self.directory / f"{org_slug}.txt")
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
