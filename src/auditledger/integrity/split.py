"""``verify`` over two processes: a second one checks the upper range of seqs meanwhile.

Re-encoding and hashing every event is CPU work in Python, so a second process halves the
wall time on a machine with two free cores. The split never changes a verdict:

- The second process checks only pages the join shows whole (one event and one leaf per
  seq); at the first other page it stops, and this process goes on from there itself, with
  the reads and findings of an ordinary pass.
- Its range ends below the head of this process's snapshot. It opens its own snapshot,
  later than this one; below that head the log only ever loses rows (retention purges),
  and a page that lost rows is not whole, so every page it checks holds what this snapshot
  holds there.
- It starts the tree from the stored nodes at the split point (the tree's edge there). When
  this process reaches the split point, its recomputed edge must be exactly that; if not
  (the stored nodes there are wrong, or this pass could not recompute the tree), the other
  process's work is set aside and this one checks the whole range itself. So it does if the
  other process fails (it could not open the database, say).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from auditledger.core.columns import ColumnCheck
from auditledger.core.expiry import ExpiryProof
from auditledger.core.merkle import HASH_SIZE, Frontier, completing_leaf, perfect_decomposition
from auditledger.integrity.seq_pass import SeqPass, SeqRanges
from auditledger.integrity.source import LogSource, open_source
from auditledger.store.database import Database

# Below this many seqs, starting a process (about half a second of imports) saves nothing.
SPLIT_MIN_SEQS = 200_000


@dataclass(frozen=True)
class RangeJob:
    """The seqs a second process checks, and what it needs to open the log itself."""

    url: str
    org_id: int
    org_slug: str
    tree_size: int
    wanted: frozenset[int]
    start: int
    end: int
    page_size: int
    edge: tuple[bytes, ...]  # the stored perfect-subtree hashes left of ``start``


@dataclass
class RangeResult:
    """What the second process found over ``[job.start, reached)``."""

    reached: int
    found: dict[str, SeqRanges]
    roots: dict[int, bytes]
    frontier_size: int
    frontier_edge: list[bytes]
    events: int
    leaves: int
    columns: ColumnCheck


def _not_purged(seq: int, proof: ExpiryProof | None, leaf_hash: bytes) -> bool:
    return False  # never asked: the second process checks whole pages only


def check_range(job: RangeJob) -> RangeResult:
    """Check ``job``'s seqs from its own snapshot (run in the second process)."""
    # The process that asked: when it is gone (killed outright, so it could not stop this
    # one), this one is adopted by another and stops at the next page, rather than keep a
    # snapshot open (which holds back PostgreSQL's vacuum and SQLite's WAL checkpoints) for a
    # result no one will read.
    parent = os.getppid()
    db = Database(job.url, pool_size=1)
    try:
        with open_source(db, job.org_id) as source:
            checker = SeqPass(
                job.org_slug,
                job.tree_size,
                set(job.wanted),
                _not_purged,
                frontier=Frontier(job.start, job.edge),
            )
            columns = ColumnCheck()
            reached = job.start
            for start in range(job.start, job.end, job.page_size):
                if os.getppid() != parent:
                    break
                end = min(start + job.page_size, job.end)
                joined = source.joined_rows(start, end)
                digests = checker.joined_page(start, end, joined)
                if digests is None:
                    break
                columns.joined_page(joined, digests)
                reached = end
    finally:
        db.dispose()
    return RangeResult(
        reached,
        checker.found,
        checker.roots,
        checker.frontier.size,
        checker.frontier.edge(),
        checker.events,
        checker.leaves,
        columns,
    )


def stored_edge(source: LogSource, size: int) -> tuple[bytes, ...] | None:
    """The stored hashes of the perfect subtrees that tile the first ``size`` leaves (the
    tree's edge there), or None if one is not stored as auditledger stores them."""
    edge = []
    for level, index in perfect_decomposition(0, size):
        leaf = completing_leaf((level, index))
        rows = source.leaves(leaf, leaf + 1)
        if len(rows) != 1:
            return None
        _seq, leaf_hash, nodes = rows[0][:3]
        stored = leaf_hash if level == 0 else nodes
        if type(stored) is not bytes:  # SQLite keeps what a hand-written UPDATE stores
            return None
        node = stored if level == 0 else stored[(level - 1) * 32 : level * 32]
        if len(node) != HASH_SIZE:
            return None
        edge.append(node)
    return tuple(edge)


class SecondProcess:
    """The upper range of a log's seqs, checked by another process while this one checks
    the lower range; see the module docstring."""

    def __init__(self, pool: ProcessPoolExecutor, job: RangeJob) -> None:
        self.job = job
        self._pool = pool
        self._future: Future[RangeResult] = pool.submit(check_range, job)

    @classmethod
    def start(
        cls,
        source: LogSource,
        *,
        org_slug: str,
        low: int,
        tree_size: int,
        wanted: set[int],
        page_size: int,
    ) -> SecondProcess | None:
        """Hand the upper part of ``[low, tree_size)`` to a second process, or None where a
        split does not pay (a small log) or cannot be made (an in-memory database, a
        tree edge not stored at the split point)."""
        where = source.reopenable()
        if where is None or low < 0 or tree_size - low < SPLIT_MIN_SEQS:
            return None
        # The halves cost the same per seq; this process also reads the checkpoints and
        # the directory, the other one starts up: an even split, on a page boundary.
        split = low + (tree_size - low) // 2 // page_size * page_size
        edge = stored_edge(source, split)
        if edge is None:
            return None
        url, org_id = where
        job = RangeJob(
            url, org_id, org_slug, tree_size, frozenset(wanted), split, tree_size, page_size, edge
        )
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        try:
            return cls(pool, job)
        except OSError:  # no process to be had (limits, memory): this one checks it all
            pool.shutdown(cancel_futures=True)
            return None

    def join(self, checker: SeqPass, columns: ColumnCheck) -> int:
        """Wait for the second process and add what it found to ``checker`` and ``columns``,
        which have just checked every seq below the split point; the seq from which the
        caller must go on checking itself (the split point, where its work is set aside)."""
        try:
            result = self._future.result()
        except Exception:
            return self.job.start
        finally:
            self.close()
        job = self.job
        if not (
            checker.broken_at is None
            and checker.frontier.size == job.start
            and tuple(checker.frontier.edge()) == job.edge
        ):
            return job.start
        for kind, seqs in result.found.items():
            checker.found[kind].extend(seqs)
        checker.roots.update(result.roots)
        checker.frontier = Frontier(result.frontier_size, result.frontier_edge)
        checker.events += result.events
        checker.leaves += result.leaves
        columns.extend(result.columns)
        return result.reached

    def close(self) -> None:
        """Stop the second process if it still runs (this one failed, or is done with it)."""
        if not self._future.done():
            # shutdown() cancels only work not started: a running check would go on to the
            # end of its range (minutes on a large log) before shutdown returned.
            for process in list((self._pool._processes or {}).values()):
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)
