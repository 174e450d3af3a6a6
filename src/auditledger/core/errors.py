"""Domain errors. Domain code raises these; only the web layer maps them to HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: where (a path like ``events[2].actor.id``) and what."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The JSON form used in error responses."""
        return {"field": self.field, "message": self.message}


class AuditLedgerError(Exception):
    """Base of every error auditledger raises on purpose."""

    code = "error"

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class MalformedRequest(AuditLedgerError):
    """The request cannot be read at all: bad UTF-8, bad JSON, duplicate keys, NaN."""

    code = "malformed_request"


class InvalidInput(AuditLedgerError):
    """The request was read but breaks the rules: unknown category, missing property, bad date."""

    code = "invalid_input"


class TooLarge(AuditLedgerError):
    """An event or a request is over its size limit."""

    code = "too_large"


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
