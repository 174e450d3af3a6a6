"""Domain errors. Domain code raises these; only the web layer maps them to HTTP statuses.

The errors about an event's content live in the shared core (the client raises them too) and
are re-exported here, so server code has one module to import its errors from.
"""

from __future__ import annotations

from auditledger_client.core.errors import (
    AuditLedgerError,
    InvalidInput,
    MalformedRequest,
    Problem,
    TooLarge,
)

__all__ = [
    "AppendOnly",
    "AuditLedgerError",
    "Conflict",
    "Forbidden",
    "Inconsistent",
    "InvalidInput",
    "MalformedRequest",
    "NotFound",
    "Overloaded",
    "Problem",
    "TooLarge",
    "Unauthenticated",
    "Unavailable",
]


class Unauthenticated(AuditLedgerError):
    """No credential, or one that is unknown, expired or revoked."""

    code = "unauthenticated"


class Forbidden(AuditLedgerError):
    """A valid credential used beyond its scope (e.g. a read credential that tries to ingest)."""

    code = "forbidden"


class NotFound(AuditLedgerError):
    """Absent, or in an organization the caller may not see (indistinguishable on purpose)."""

    code = "not_found"


class Conflict(AuditLedgerError):
    """An event id that is already stored with different content."""

    code = "conflict"


class Unavailable(AuditLedgerError):
    """Cannot commit now (database down, queue full); safe to retry after ``retry_after`` s."""

    code = "unavailable"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(Unavailable):
    """The ingestion queue is full; the caller must back off instead of us dropping events."""

    code = "overloaded"


class Inconsistent(AuditLedgerError):
    """The stored log contradicts a checkpoint signed earlier (tampering or a rolled-back
    database); nothing new is signed until someone looks."""

    code = "inconsistent_log"


class AppendOnly(AuditLedgerError):
    """Someone tried to change or delete a recorded event."""

    code = "append_only"
