"""Private files written atomically and durably: the signing key and the witness copies.

A reader sees the old content or the new, never a half-written file; the content reaches the
disk (file and directory entry) before the call returns; only the owner may read it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data``, mode 0600, atomically; FileExistsError if it exists.

    The data goes to a temporary file first and is hard-linked into place, so no process ever
    reads a half-written key, and two processes creating it at once cannot both succeed.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    _write_private(temporary, data)
    try:
        os.link(temporary, path)
    finally:
        temporary.unlink()
    _sync_directory(path.parent)


def replace_file(path: Path, data: bytes) -> None:
    """Replace (or create) ``path`` with ``data``, mode 0600, atomically."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    _write_private(temporary, data)
    os.replace(temporary, path)
    _sync_directory(path.parent)


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask: the key is the owner's alone
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
