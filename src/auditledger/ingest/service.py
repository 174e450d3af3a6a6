"""The ingest service: validated drafts in, durable receipts out."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from auditledger.core.errors import Conflict, InvalidInput, Problem
from auditledger.ingest.digest import request_digest
from auditledger.ingest.writer import GroupCommitWriter
from auditledger.retention import policy
from auditledger.source.location import Locator
from auditledger.store.log import AppendRequest, PendingEvent, Receipt
from auditledger.tenancy.model import Organization
from auditledger_client.core.catalog import CATEGORY_INDEX
from auditledger_client.core.clock import Clock
from auditledger_client.core.event import Actor, EventDraft, Location, PropertyValue, Ref, Subject
from auditledger_client.core.validate import check_properties


class IngestService:
    """Checks what needs the organization (retention), adds locations, and commits."""

    def __init__(
        self,
        writer: GroupCommitWriter,
        locator: Locator,
        clock: Clock,
        *,
        retention_days: int,
        retention_floor_days: int,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        self.writer = writer
        self.clock = clock
        self.retention_days = retention_days
        self.retention_floor_days = retention_floor_days
        self.new_id = new_id
        self._locate = functools.lru_cache(maxsize=65_536)(locator.locate)
        # Raises to refuse every event (integrity.rollback: the database is behind).
        self.gate: Callable[[], None] | None = None

    def prepare(
        self, org: Organization, drafts: Sequence[EventDraft], received_at: datetime
    ) -> AppendRequest:
        """The append request for ``drafts``, or :class:`InvalidInput` if any is already expired."""
        if self.gate is not None:
            self.gate()
        days = policy.effective_days(org, self.retention_days, self.retention_floor_days)
        oldest_allowed = policy.cutoff(received_at, days)
        problems = [
            Problem(
                f"events[{i}].timestamp" if len(drafts) > 1 else "timestamp",
                f"{d.occurred_at.isoformat()} is already past this organization's retention of "
                f"{days} days (events before {oldest_allowed.isoformat()} are purged)",
            )
            for i, d in enumerate(drafts)
            if d.occurred_at < oldest_allowed
        ]
        if problems:
            raise InvalidInput("an event is past retention; nothing was stored", problems)
        pending = [PendingEvent(d, request_digest(d), self._location(d.source_ip)) for d in drafts]
        return AppendRequest(org.id, org.slug, pending, received_at)

    def _location(self, ip: str | None) -> Location | None:
        return self._locate(ip) if ip else None

    async def ingest(
        self, org: Organization, drafts: Sequence[EventDraft], received_at: datetime
    ) -> list[Receipt]:
        """Commit ``drafts`` together; return their receipts once durable."""
        return _unwrap(await self.writer.submit_waiter(self.prepare(org, drafts, received_at)))

    def ingest_blocking(
        self, org: Organization, drafts: Sequence[EventDraft], received_at: datetime
    ) -> list[Receipt]:
        """The same as :meth:`ingest`, for threads outside the event loop (CLI, demo)."""
        future = self.writer.submit(self.prepare(org, drafts, received_at))
        return _unwrap(future.result())

    def own_event(
        self,
        type_: str,
        *,
        subject: Subject,
        properties: dict[str, PropertyValue],
        actor: Actor,
        source_ip: str | None = None,
        project: Ref | None = None,
    ) -> EventDraft:
        """A draft of auditledger's own category (exports, sign-ins, purges), checked against
        the catalog like any other event."""
        problems = check_properties("", "audit_log", type_, properties)
        if problems or CATEGORY_INDEX["audit_log"].type(type_) is None:
            raise InvalidInput(f"bad audit_log.{type_} event", problems)
        return EventDraft(
            event_id=self.new_id(),
            id_supplied=False,
            occurred_at=self.clock.now(),
            timestamp_supplied=False,
            category="audit_log",
            type=type_,
            subject=subject,
            properties=dict(sorted(properties.items())),
            project=project,
            actor=actor,
            source_ip=source_ip,
        )


def _unwrap(result: list[Receipt] | Conflict) -> list[Receipt]:
    if isinstance(result, Conflict):
        raise result
    return result
