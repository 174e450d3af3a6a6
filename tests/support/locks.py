"""Another process that holds SQLite's write lock until the test lets go."""

from __future__ import annotations

import subprocess
import sys

from tests.support.waiting import LOADED_MACHINE_SECONDS


def hold_write_lock(path: str, at_most: float = LOADED_MACHINE_SECONDS) -> subprocess.Popen[bytes]:
    """A process holding the write lock of the SQLite file at ``path`` until :func:`release`
    (or its stdin closing), at most ``at_most`` seconds; returns once the lock is held."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import select, sqlite3, sys\n"
            f"c = sqlite3.connect({path!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True)\n"
            f"select.select([sys.stdin], [], [], {at_most})",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == b"locked"
    return holder


def release(holder: subprocess.Popen[bytes]) -> None:
    """Let go of the lock (safe to call again, or after the holder gave up by itself)."""
    if holder.stdin is not None and not holder.stdin.closed:
        try:
            holder.stdin.write(b"release\n")
            holder.stdin.close()
        except BrokenPipeError:
            pass  # it gave up after its bound: the lock is gone already


def finish(holder: subprocess.Popen[bytes]) -> None:
    """Release the lock and wait for the holder to exit."""
    release(holder)
    holder.wait(LOADED_MACHINE_SECONDS)
    assert holder.stdout is not None
    holder.stdout.close()
