"""Fail closed on rollback: a database behind what this deployment already signed takes no events.

A database restored from an older copy has forgotten events that signed checkpoints (and
auditors holding them) already cover. Accepting new events on top would give the same sequence
numbers to different events: a fork. So every server compares each organization's log with the
witness copy (the newest checkpoint it signed, kept outside the database, see
:mod:`integrity.witness`) at start and at every checkpoint round. If any log is smaller than,
or not consistent with, its witness copy, the server stops accepting events until the database
is repaired: ``/readyz`` answers 503, ingestion answers 503 with the recovery, the
``auditledger_log_rolled_back`` gauge is 1 and the log says so once per change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial

from sqlalchemy import select

from auditledger.core.checkpoint import open_checkpoint
from auditledger.core.errors import Inconsistent, InvalidInput, Unavailable
from auditledger.core.merkle import NodeFetcher, root_hash
from auditledger.integrity.checkpointer import CheckpointService, require_consistent
from auditledger.store.log import fetch_nodes, read_head
from auditledger.store.schema import log_heads, organizations

log = logging.getLogger(__name__)

RECOVERY = (
    "Ingestion is stopped so the log does not fork. Restore the newest database backup (one at "
    "least as new as the witness copy), or follow 'Recovering from a rolled-back database' in "
    "docs/operations.md"
)


class RolledBack(Unavailable):
    """Events refused because the database is behind what this deployment signed."""


class RollbackGuard:
    """Whether any organization's log is behind its witness copy, re-checked on demand."""

    def __init__(
        self, checkpoints: CheckpointService, on_change: Callable[[bool], None] | None = None
    ) -> None:
        self.checkpoints = checkpoints
        self.on_change = on_change
        self._lock = threading.Lock()
        self._problem: str | None = None

    @property
    def problem(self) -> str | None:
        """What is behind, or None while every log is at least at its witness copy."""
        return self._problem

    def refuse_if_rolled_back(self) -> None:
        """Raise :class:`RolledBack` (503, naming the recovery) while a log is behind."""
        problem = self._problem
        if problem is not None:
            raise RolledBack(f"{problem}. {RECOVERY}", retry_after=60)

    def check(self) -> str | None:
        """Compare every organization's log with its witness copy; returns the problem."""
        service = self.checkpoints
        db = service.db
        with db.read() as connection:
            orgs = connection.execute(
                select(organizations.c.id, organizations.c.slug).join(
                    log_heads, log_heads.c.org_id == organizations.c.id
                )
            ).all()
        verifiers = service.verifiers()
        found: list[str] = []
        for org_id, slug in orgs:
            try:
                with service.witness.locked(slug) as slot:
                    note = slot.read()
            except OSError:
                continue  # no witness directory (yet): nothing was signed here
            if note is None:
                continue
            origin = service.origin(slug)
            try:
                witnessed = open_checkpoint(note, verifiers, origin=origin, field="witness copy")
            except InvalidInput:
                continue  # a copy no trusted key signed says nothing about this database
            with db.read() as connection:
                head = read_head(connection, org_id)
                fetch: NodeFetcher = partial(fetch_nodes, connection, org_id)
                try:
                    root = root_hash(head.tree_size, fetch)
                    require_consistent("its witness copy", witnessed, head.tree_size, root, fetch)
                except (Inconsistent, LookupError) as exc:
                    why = exc.message if isinstance(exc, Inconsistent) else str(exc)
                    found.append(
                        f"{slug}: the database holds {head.tree_size} events but this "
                        f"deployment signed {witnessed.tree_size} ({why})"
                    )
        problem = (
            "the database is behind the checkpoints this deployment signed: " + ("; ".join(found))
            if found
            else None
        )
        self._set(problem)
        return problem

    def _set(self, problem: str | None) -> None:
        with self._lock:
            before, self._problem = self._problem, problem
        if (before is None) == (problem is None):
            return
        if problem is not None:
            log.critical("refusing events: %s. %s", problem, RECOVERY)
        else:
            log.warning("the database caught up with its witness copies; accepting events again")
        if self.on_change is not None:
            self.on_change(problem is not None)
