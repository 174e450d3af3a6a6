"""The retention purge: remove events past their organization's retention, provably.

For each organization that is not on legal hold, in this order:

1. **Plan**, in one snapshot: the log size, and the sequence numbers of every event that
   occurred before the cutoff, as ranges (on PostgreSQL per expired day's partition, from
   ``event_runs`` (:mod:`store.runs`), never from the events; on SQLite in one SQL query).
2. **Record** the purge in ``purges``, then append an ``audit_log.purge`` event (its id is the
   purge id, so re-appending after a crash is a duplicate, not a second event) and keep that
   event's canonical bytes as the purge's attestation. What later proves each removed event had
   expired is its expiry proof, kept in its ``leaves`` row since ingest, so the rows to remove
   are not read; only leaves older than ingest-time proofs get a proof computed from their row
   (``retention.proven``). Records always precede removal: a crash can leave recorded events
   not yet removed (the next run removes them), never removed events without a record.
3. **Remove**. On PostgreSQL, the expired days' partitions whose rows are all recorded are
   detached (a month wholly expired in one step), in one transaction, then dropped in another
   (:meth:`RetentionService.reclaim`: dropping a table's files is the slow part, and a crash
   in between leaves only detached tables for the next run to drop); anything else (SQLite, or
   a day shared with an organization whose events must stay) is deleted by seq range in
   bounded batches, each its own short transaction, authorized row by row by the table's
   delete trigger (and on PostgreSQL trimmed from ``event_runs`` in the same transaction).

Concurrent purges (several servers, the CLI) are serialised: a PostgreSQL advisory lock, or a
lock file beside the SQLite database; a purge that finds the lock taken does nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.exc import DBAPIError

from auditledger.core.canonical import canonical_bytes, format_timestamp
from auditledger.core.errors import InvalidInput, Problem
from auditledger.retention import policy
from auditledger.retention.proven import UnprovablePurge, write_proofs
from auditledger.retention.recorder import EventRecorder
from auditledger.retention.records import Range, ranges_json, ranges_text
from auditledger.store import partitions, runs
from auditledger.store.database import Database
from auditledger.store.rows import row_to_event
from auditledger.store.schema import (
    events,
    log_heads,
    purge_attestations,
    purge_authorizations,
    purges,
)
from auditledger.tenancy.model import Organization
from auditledger.tenancy.service import TenancyService
from auditledger_client.core.clock import Clock
from auditledger_client.core.event import Actor, EventDraft, Subject

log = logging.getLogger(__name__)

BATCH_ROWS = 5_000
_LOCK_KEY = 727348003
SYSTEM_ACTOR = Actor("system", "retention", "auditledger retention")


@dataclass
class OrgPurge:
    """What a purge does (or, in a dry run, would do) to one organization."""

    org: Organization
    days: int
    cutoff: datetime
    held: bool
    count: int = 0
    ranges: list[Range] = field(default_factory=list)
    log_size: int = 0
    purge_id: uuid.UUID | None = None
    partitions_dropped: int = 0
    rows_deleted: int = 0
    # PostgreSQL: the ranges of each expired day's partition (what dropping it removes).
    day_ranges: dict[date, list[Range]] = field(default_factory=dict)
    dropped_days: set[date] = field(default_factory=set)


@dataclass
class PurgeReport:
    """The outcome of one purge run."""

    ran_at: datetime
    dry_run: bool
    orgs: list[OrgPurge]
    skipped: str | None = None  # why nothing was done (another purge held the lock)
    reclaimed: int = 0  # detached partitions dropped (PostgreSQL)

    @property
    def total(self) -> int:
        """Events purged (or that would be) in every organization."""
        return sum(o.count for o in self.orgs)


class RetentionService:
    """Retention policy changes and purges."""

    def __init__(
        self,
        db: Database,
        tenancy: TenancyService,
        ingest: EventRecorder,
        clock: Clock,
        *,
        default_days: int,
        floor_days: int,
    ) -> None:
        self.db = db
        self.tenancy_service = tenancy
        self.tenancy = tenancy.repo
        self.ingest = ingest
        self.clock = clock
        self.default_days = default_days
        self.floor_days = floor_days

    # -- policy ----------------------------------------------------------------------------------

    def days(self, org: Organization) -> int:
        """The organization's retention in days."""
        return policy.effective_days(org, self.default_days, self.floor_days)

    def set_retention(
        self, org: Organization, days: int | None, *, actor: Actor, source_ip: str | None = None
    ) -> Organization:
        """Change (or with None, reset to the default) the retention; recorded in the log."""
        if days is not None and days < self.floor_days:
            raise InvalidInput(
                "retention below the floor",
                [Problem("days", f"must be at least {self.floor_days} (the deployment's floor)")],
            )
        if days is not None and days > policy.MAX_DAYS:
            raise InvalidInput(
                "retention too long",
                [Problem("days", f"must be at most {policy.MAX_DAYS} (a hundred years)")],
            )
        old = self.days(org)
        self.tenancy.set_retention(org.id, days)
        self.tenancy_service.forget_cached()
        updated = self.tenancy.org_by_id(org.id)
        self._record(
            updated,
            "retention_change",
            {"old_days": old, "new_days": self.days(updated)},
            actor,
            source_ip,
        )
        return updated

    def set_legal_hold(
        self,
        org: Organization,
        hold: bool,
        *,
        reason: str | None,
        actor: Actor,
        source_ip: str | None = None,
    ) -> Organization:
        """Place or release a legal hold (purges skip a held organization); recorded."""
        self.tenancy.set_legal_hold(org.id, hold, reason)
        self.tenancy_service.forget_cached()
        updated = self.tenancy.org_by_id(org.id)
        properties: dict[str, Any] = {"old_hold": org.legal_hold, "new_hold": hold}
        if reason:
            properties["reason"] = reason
        self._record(updated, "legal_hold_change", properties, actor, source_ip)
        return updated

    def _record(
        self,
        org: Organization,
        type_: str,
        properties: dict[str, Any],
        actor: Actor,
        source_ip: str | None,
    ) -> None:
        draft = self.ingest.own_event(
            type_,
            subject=Subject("audit_log", org.slug, f"{org.name} audit log"),
            properties=properties,
            actor=actor,
            source_ip=source_ip,
        )
        self.ingest.ingest_blocking(org, [draft], draft.occurred_at)

    # -- purge -----------------------------------------------------------------------------------

    def purge(
        self, *, org_slug: str | None = None, dry_run: bool = False, reclaim: bool = True
    ) -> PurgeReport:
        """Purge every organization (or one) of events past retention; with ``reclaim``, also
        drop the partitions it detached (else :meth:`reclaim` does, later)."""
        now = self.clock.now()
        with self._exclusive() as acquired:
            if not acquired:
                return PurgeReport(now, dry_run, [], skipped="another purge is running")
            orgs = [self.tenancy.org_by_slug(org_slug)] if org_slug else self.tenancy.list_orgs()
            with self.db.read() as connection:  # one snapshot for every organization's plan
                plans = [self._plan(connection, org, now) for org in orgs]
            if dry_run:
                return PurgeReport(now, True, plans)
            for plan in plans:
                if plan.count:
                    try:
                        self._record_purge(plan, now)
                    except UnprovablePurge as exc:
                        log.error(
                            "not purging %s: %s; run `auditledger verify`", plan.org.slug, exc
                        )
                        plan.count, plan.ranges, plan.day_ranges = 0, [], {}
            self._remove(plans)
            reclaimed = self.reclaim() if reclaim else 0
        for plan in plans:
            if plan.count:
                log.info(
                    "purged %s events of %s occurred before %s",
                    plan.count,
                    plan.org.slug,
                    plan.cutoff.isoformat(),
                )
        return PurgeReport(now, False, plans, reclaimed=reclaimed)

    def reclaim(self) -> int:
        """PostgreSQL: drop the partitions purges detached (their events are already out of
        the log); returns how many. Nothing to do on SQLite."""
        if not self.db.is_postgres:
            return 0
        with self.db.write() as connection:
            return partitions.drop_detached(connection)

    def _exclusive(self) -> AbstractContextManager[bool]:
        # One purge at a time across every process of the deployment.
        return self.db.try_exclusive("purge", _LOCK_KEY)

    def _plan(self, connection: Connection, org: Organization, now: datetime) -> OrgPurge:
        days = self.days(org)
        plan = OrgPurge(org, days, policy.cutoff(now, days), held=org.legal_hold)
        if org.legal_hold:
            return plan
        plan.log_size = int(
            connection.execute(
                select(log_heads.c.tree_size).where(log_heads.c.org_id == org.id)
            ).scalar_one()
        )
        if self.db.is_postgres:
            plan.day_ranges = runs.org_runs_by_day(
                connection, org.id, partitions.day_of(plan.cutoff)
            )
            plan.ranges = merge(r for day in plan.day_ranges.values() for r in day)
        else:
            plan.ranges = _expired_ranges(connection, org.id, plan.cutoff)
        plan.count = sum(last - first + 1 for first, last in plan.ranges)
        return plan

    def _record_purge(self, plan: OrgPurge, now: datetime) -> None:
        plan.purge_id = uuid.uuid4()
        with self.db.write() as connection:
            connection.execute(
                insert(purges).values(
                    org_id=plan.org.id,
                    purge_id=plan.purge_id,
                    ran_at=now,
                    cutoff=plan.cutoff,
                    count=plan.count,
                    ranges=ranges_json(plan.ranges),
                )
            )
            # In the same transaction: a purge is recorded with its proofs or not at all.
            # (Only leaves from before ingest-time proofs need one; usually none do.)
            write_proofs(
                connection, plan.org.id, plan.org.slug, plan.purge_id, plan.ranges, plan.cutoff
            )
        self._attest(plan.org, plan.purge_id, now, plan.cutoff, plan.count, plan.ranges)

    def _attest(
        self,
        org: Organization,
        purge_id: uuid.UUID,
        ran_at: datetime,
        cutoff: datetime,
        count: int,
        ranges: list[Range],
    ) -> None:
        draft = EventDraft(
            event_id=purge_id,
            id_supplied=True,  # a retry after a crash is then a duplicate, not a second event
            occurred_at=ran_at,
            timestamp_supplied=True,
            category="audit_log",
            type="purge",
            subject=Subject("audit_log", org.slug, f"{org.name} audit log"),
            properties={
                "count": count,
                "cutoff": format_timestamp(cutoff),
                "ranges": ranges_text(ranges),
            },
            project=None,
            actor=SYSTEM_ACTOR,
            source_ip=None,
        )
        (receipt,) = self.ingest.ingest_blocking(org, [draft], ran_at)
        with self.db.write() as connection:
            # Its time names its day's partition: a read of one partition, not of every one.
            row = connection.execute(
                select(events).where(
                    events.c.org_id == org.id,
                    events.c.seq == receipt.seq,
                    events.c.occurred_at == ran_at,
                )
            ).one()
            canonical = canonical_bytes(row_to_event(org.slug, row))
            # A retry after a crash finds the attestation there already.
            self.db.insert_ignore(
                connection,
                purge_attestations,
                {
                    "org_id": org.id,
                    "purge_id": purge_id,
                    "seq": receipt.seq,
                    "canonical": canonical,
                },
            )

    def _remove(self, plans: list[OrgPurge]) -> None:
        work = [p for p in plans if p.count]
        if not work:
            return
        if self.db.is_postgres:
            self._drop_partitions(work, plans)
        for plan in work:
            plan.rows_deleted = self._delete_rows(plan)

    def _drop_partitions(self, work: list[OrgPurge], plans: list[OrgPurge]) -> None:
        expired_before = {p.org.id: p for p in plans if not p.held}
        latest_cutoff = max(p.cutoff for p in work)
        try:
            with self.db.write() as connection:
                # Give up quickly rather than queue behind a long export and stall ingestion;
                # the lock is held for catalogue changes only (no row is read or deleted). The
                # parent alone: every write goes through it, and each detach locks its own day.
                connection.exec_driver_sql(
                    "SET LOCAL lock_timeout = '2s'; LOCK TABLE ONLY events IN ACCESS EXCLUSIVE MODE"
                )
                present = partitions.layout(connection)
                days = [
                    day for day in sorted(present.days) if partitions.day_end(day) <= latest_cutoff
                ]
                contents = runs.day_contents(connection, days)
                dropped = [
                    day for day in days if _fully_recorded(day, contents[day], expired_before)
                ]
                partitions.detach_partitions(connection, present, dropped, latest_cutoff)
                runs.forget_days(connection, dropped)
        except DBAPIError as exc:  # a lock timeout: the rows go by deletion instead
            log.warning("could not drop expired partitions: %s", str(exc).splitlines()[0])
            dropped = []
        for plan in work:
            plan.partitions_dropped += len(dropped)
            plan.dropped_days.update(dropped)
        self.db.forget_partitions()

    def _delete_rows(self, plan: OrgPurge) -> int:
        ranges = plan.ranges
        if plan.day_ranges:
            # What the dropped partitions held is gone already: delete only the rest.
            ranges = merge(
                r for day, rs in plan.day_ranges.items() if day not in plan.dropped_days for r in rs
            )
        deleted = 0
        for first, last in _chunks(ranges, BATCH_ROWS):
            with self.db.write() as connection:
                connection.execute(
                    insert(purge_authorizations).values(org_id=plan.org.id, cutoff=plan.cutoff)
                )
                result = connection.execute(
                    delete(events).where(
                        events.c.org_id == plan.org.id,
                        events.c.seq >= first,
                        events.c.seq <= last,
                        events.c.occurred_at < plan.cutoff,
                    )
                )
                deleted += int(result.rowcount or 0)
                if self.db.is_postgres:
                    runs.forget_seqs(
                        connection, plan.org.id, partitions.day_of(plan.cutoff), first, last
                    )
                connection.execute(
                    delete(purge_authorizations).where(purge_authorizations.c.org_id == plan.org.id)
                )
        return deleted

    def backfill_attestations(self) -> int:
        """Append the purge events a crash left unwritten; returns how many."""
        done = 0
        with self.db.read() as connection:
            missing = connection.execute(
                select(purges).where(
                    ~select(purge_attestations.c.purge_id)
                    .where(
                        purge_attestations.c.org_id == purges.c.org_id,
                        purge_attestations.c.purge_id == purges.c.purge_id,
                    )
                    .exists()
                )
            ).all()
        for row in missing:
            org = self.tenancy.org_by_id(row.org_id)
            ranges = [(int(a), int(b)) for a, b in json.loads(row.ranges)]
            self._attest(org, row.purge_id, row.ran_at, row.cutoff, row._mapping["count"], ranges)
            done += 1
        return done


def _expired_ranges(connection: Connection, org_id: int, cutoff: datetime) -> list[Range]:
    """Sequence numbers of events before ``cutoff`` as ranges, grouped in SQL (gaps and
    islands: consecutive numbers share ``seq - row_number()``)."""
    numbered = (
        select(
            events.c.seq,
            (events.c.seq - func.row_number().over(order_by=events.c.seq)).label("island"),
        )
        .where(events.c.org_id == org_id, events.c.occurred_at < cutoff)
        .subquery()
    )
    rows = connection.execute(
        select(func.min(numbered.c.seq), func.max(numbered.c.seq))
        .group_by(numbered.c.island)
        .order_by(func.min(numbered.c.seq))
    )
    return [(int(first), int(last)) for first, last in rows]


def _fully_recorded(day: date, contents: dict[int, int], planned: dict[int, OrgPurge]) -> bool:
    """Whether every row of ``day``'s partition (``contents``: each organization's highest
    seq in it) is expired and recorded by this run, so the whole day can go."""
    for org_id, top_seq in contents.items():
        plan = planned.get(org_id)
        if (
            plan is None  # held, or not part of this run: its rows must stay
            or plan.cutoff < partitions.day_end(day)
            or top_seq >= plan.log_size  # appended after the plan: not recorded
        ):
            return False
    return True


def merge(ranges: Iterable[Range]) -> list[Range]:
    """Inclusive ranges sorted, with adjacent and overlapping ones joined."""
    merged: list[Range] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _chunks(ranges: list[Range], size: int) -> Iterator[Range]:
    for first, last in ranges:
        start = first
        while start <= last:
            end = min(last, start + size - 1)
            yield start, end
            start = end + 1
