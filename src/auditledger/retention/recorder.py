"""What retention needs of ingestion: to record auditledger's own events in a log.

Retention records its changes and purges as events; it depends on this narrow interface, which
the ingest service provides, rather than on the ingest package (which itself asks retention for
the cutoff of what it accepts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from auditledger.store.log import Receipt
from auditledger.tenancy.model import Organization
from auditledger_client.core.event import Actor, EventDraft, PropertyValue, Subject


class EventRecorder(Protocol):
    """Builds and durably stores events of auditledger's own ``audit_log`` category."""

    def own_event(
        self,
        type_: str,
        *,
        subject: Subject,
        properties: dict[str, PropertyValue],
        actor: Actor,
        source_ip: str | None = None,
    ) -> EventDraft:
        """A draft of an ``audit_log`` event, checked against the catalog."""
        ...

    def ingest_blocking(
        self, org: Organization, drafts: Sequence[EventDraft], received_at: datetime
    ) -> list[Receipt]:
        """Store ``drafts`` in the organization's log; their receipts once committed."""
        ...
