"""The idempotency digest: what "the same event" means when an id is sent twice."""

from __future__ import annotations

import hashlib

from auditledger.core.canonical import encode, format_timestamp
from auditledger_client.core.event import EventDraft


def request_digest(draft: EventDraft) -> bytes:
    """SHA-256 over the event as the platform sent it.

    Server-side additions (sequence number, received time, location) are left out, so a retry
    matches the original; the timestamp counts only when the platform supplied it.
    """
    subject = draft.subject
    content = {
        "id": str(draft.event_id),
        "timestamp": format_timestamp(draft.occurred_at) if draft.timestamp_supplied else None,
        "category": draft.category,
        "type": draft.type,
        "subject": [
            subject.type,
            subject.id,
            subject.name,
            subject.parent_type,
            subject.parent.id if subject.parent else None,
            subject.parent.name if subject.parent else None,
        ],
        "properties": draft.properties,
        "project": [draft.project.id, draft.project.name] if draft.project else None,
        "actor": [draft.actor.type, draft.actor.id, draft.actor.name],
        "source": draft.source_ip,
    }
    return hashlib.sha256(encode(content)).digest()
