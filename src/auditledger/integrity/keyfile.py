"""The deployment's signing key file: created once, re-read when it changes, rotated on demand.

Every server process of a deployment reads the same file. A process notices a rotation by the
file's identity changing (``auditledger keys rotate`` swaps it atomically), so processes pick up
a new key at their next checkpoint without a restart.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from auditledger.core.errors import Unavailable
from auditledger.core.keys import SigningKey, generate_key, read_key_file
from auditledger.integrity.files import replace_file, write_new_file
from auditledger.settings import SETTING_INDEX

_ENV = SETTING_INDEX["signing_key_file"].env


class KeyFile:
    """The Ed25519 key at ``path``, named ``name`` (the deployment's ``log_origin``)."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name  # checked when a key is read or made, not at every process start
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int, int], SigningKey] | None = None

    def exists(self) -> bool:
        """Whether the key file exists."""
        return self.path.exists()

    def can_create(self) -> bool:
        """Whether this process could create the key file (its directory exists and is
        writable)."""
        directory = self.path.parent
        return directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)

    def current(self) -> SigningKey:
        """The key in the file; :class:`Unavailable` (saying what to do) if there is none."""
        try:
            stat = self.path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise Unavailable(
                f"no signing key at {self.path}: run `auditledger init` on this machine, or "
                f"point {_ENV} at the deployment's key file",
                retry_after=30,
            ) from None
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._cached is not None and self._cached[0] == identity:
                return self._cached[1]
            try:
                key = read_key_file(self.path, self.name)
            except (OSError, ValueError) as exc:
                raise Unavailable(
                    f"the signing key at {self.path} cannot be read ({exc}); restore it from a "
                    "backup or rotate to a new key with `auditledger keys rotate`",
                    retry_after=30,
                ) from None
            self._cached = (identity, key)
            return key

    def ensure(self) -> tuple[SigningKey, bool]:
        """The key, creating the file first if it is missing: (key, whether it was created).

        OSError if the file is missing and cannot be created.
        """
        if not self.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                write_new_file(self.path, generate_key(self.name).pem())
            except FileExistsError:
                return self.current(), False  # another process created it first: use theirs
            return self.current(), True
        return self.current(), False

    def rotate(self) -> tuple[SigningKey, SigningKey]:
        """Replace the key with a new one; the old file is kept as ``<file>.retired-<key id>``.

        Returns (old key, new key). The file is swapped atomically, so a process reading it
        sees the old key or the new one, never neither.
        """
        old = self.current()
        new = generate_key(self.name)
        retired = self.retired_path(old)
        try:
            os.link(self.path, retired)
        except FileExistsError:
            if retired.read_bytes() != self.path.read_bytes():
                raise
        replace_file(self.path, new.pem())
        return old, self.current()

    def retired_path(self, key: SigningKey) -> Path:
        """Where a rotated-out key is kept."""
        return self.path.with_name(f"{self.path.name}.retired-{key.verifier.key_id_hex}")
