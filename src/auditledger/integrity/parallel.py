"""Re-hashing stored events in worker processes, for verifying large logs faster.

Re-encoding and hashing events is most of a verification's work and needs nothing but the
rows, so it splits by page: each worker reads its pages of event rows itself and returns, per
row, the sequence number and leaf hash (None if the row cannot be re-encoded). The verifier
consumes the pages in order and builds the tree itself, which must happen in order anyway.

Workers are plain subprocesses (``python -m auditledger.integrity.parallel``) talking over
pipes: a JSON line of settings, then one ``start end`` line per page, answered by a length-
prefixed pickle. They open their own connection with the bare driver. On PostgreSQL they join
the caller's transaction snapshot (``pg_export_snapshot``), so every process reads the same log;
on SQLite each reads its own snapshot, which differs from the caller's only by appends past the
head the caller read (or by tampering during the run, which a second run would show).
"""

from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import IO, Any

from auditledger.integrity.rowcanon import EVENT_COLUMNS, EventHash, RowCanonicalizer

_LENGTH = struct.Struct(">Q")


@dataclass(frozen=True)
class WorkerSource:
    """How a worker reaches the log: a SQLite file, or PostgreSQL and a snapshot to join."""

    org_id: int
    org_slug: str
    sqlite_path: str | None = None
    postgres_url: str | None = None
    snapshot: str | None = None


class ParallelHasher:
    """Hashes pages of event rows in ``workers`` subprocesses; a context manager."""

    def __init__(self, source: WorkerSource, workers: int, ahead: int = 2) -> None:
        self.source = source
        self.workers = max(1, workers)
        self.ahead = ahead  # pages queued per worker beyond the one being read
        self._processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> ParallelHasher:
        config = (json.dumps(asdict(self.source)) + "\n").encode()
        for _ in range(self.workers):
            process = subprocess.Popen(
                [sys.executable, "-m", "auditledger.integrity.parallel"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert process.stdin is not None
            # Settings (a database URL with its password) go over the pipe, not argv.
            process.stdin.write(config)
            process.stdin.flush()
            self._processes.append(process)
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self._processes:
            if process.stdin is not None:
                process.stdin.close()
        for process in self._processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        self._processes = []

    def hash_pages(self, pages: Sequence[tuple[int, int]]) -> Iterator[list[EventHash]]:
        """For each page, in order: (seq, leaf hash or None) of every stored event row."""
        if not self._processes:
            raise RuntimeError("use ParallelHasher as a context manager")
        workers = self._processes
        requested = 0

        def request_up_to(limit: int) -> None:
            nonlocal requested
            while requested < min(limit, len(pages)):
                stdin = workers[requested % len(workers)].stdin
                assert stdin is not None
                start, end = pages[requested]
                stdin.write(f"{start} {end}\n".encode())
                stdin.flush()
                requested += 1

        for index in range(len(pages)):
            request_up_to(index + len(workers) * (1 + self.ahead))
            worker = workers[index % len(workers)]
            assert worker.stdout is not None
            yield _read_frame(worker.stdout)


def _read_frame(stream: IO[bytes]) -> list[EventHash]:
    header = stream.read(_LENGTH.size)
    if len(header) != _LENGTH.size:
        raise RuntimeError("a verifier worker stopped (its error is on stderr above)")
    (length,) = _LENGTH.unpack(header)
    payload = stream.read(length)
    if len(payload) != length:
        raise RuntimeError("a verifier worker stopped mid-page")
    hashed: list[EventHash] = pickle.loads(payload)  # noqa: S301 - our own child process
    return hashed


# -- the worker side -----------------------------------------------------------------------


def _connect(source: WorkerSource) -> tuple[Any, str]:
    if source.sqlite_path is not None:
        import sqlite3

        connection = sqlite3.connect(
            f"file:{source.sqlite_path}?mode=ro", uri=True, isolation_level=None
        )
        connection.execute("PRAGMA busy_timeout=10000")
        return connection, "?"
    import psycopg
    from psycopg import sql

    assert source.postgres_url is not None
    postgres = psycopg.connect(source.postgres_url, autocommit=True)
    postgres.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    if source.snapshot is not None:
        # A utility statement takes no bound parameters: quote the snapshot id as a literal.
        postgres.execute(
            sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(source.snapshot))
        )
    return postgres, "%s"


def main() -> None:
    """Serve page requests from stdin until it closes."""
    source = WorkerSource(**json.loads(sys.stdin.buffer.readline()))
    connection, marker = _connect(source)
    query = (
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM events "  # fixed column names, no input
        f"WHERE org_id = {marker} AND seq >= {marker} AND seq < {marker} ORDER BY seq"
    )
    canon = RowCanonicalizer(source.org_slug)
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        start, end = (int(part) for part in line.split())
        rows = connection.execute(query, (source.org_id, start, end)).fetchall()
        payload = pickle.dumps(canon.hash_rows(rows), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_LENGTH.pack(len(payload)) + payload)
        out.flush()


if __name__ == "__main__":
    main()
