"""The errors of the shared core: what is wrong with an event, wherever it is checked.

The server and the client raise these same classes (one validator); the server adds its own
errors on top (:mod:`auditledger.errors`) and only its web layer maps them to HTTP
statuses.
"""

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
