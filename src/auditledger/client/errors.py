"""Errors the client raises. Local validation raises the server's own
:class:`~auditledger.core.errors.InvalidInput` / :class:`~auditledger.core.errors.TooLarge` (one
validator); these cover what only a client meets: a full spool, a rejection, a timeout."""

from __future__ import annotations

import uuid

from auditledger.core.errors import AuditLedgerError, Problem


class ClientError(AuditLedgerError):
    """Base of the errors only the client raises."""

    code = "client_error"


class SpoolFull(ClientError):
    """The spool holds as much as it may; the event was *not* recorded.

    The client pushes back instead of dropping: the caller decides whether to wait and retry,
    fail the action, or alert. It happens when the service has been unreachable for long.
    """

    code = "spool_full"


class SpoolLocked(ClientError):
    """Another client (in this or another process) has the spool file open."""

    code = "spool_locked"


class ClientClosed(ClientError):
    """The client was closed; it records nothing more."""

    code = "client_closed"


class EventRejected(ClientError):
    """The service refused the event for good (400, 409, 413 or 422): it is a dead letter."""

    code = "event_rejected"

    def __init__(
        self,
        event_id: uuid.UUID,
        status: int,
        server_code: str,
        message: str,
        problems: list[Problem] | None = None,
    ) -> None:
        super().__init__(f"event {event_id} was rejected ({status} {server_code}): {message}")
        self.problems = problems or []
        self.event_id = event_id
        self.status = status
        self.server_code = server_code
        self.server_message = message


class NotAcknowledged(ClientError):
    """``wait=True`` ran out of time before the service acknowledged the event.

    ``withdrawn`` tells the caller what happened to it: True means it was taken back out of the
    spool and will never be sent (nothing was recorded); False means it was on the wire at that
    moment, so it may be recorded, and it stays queued so that it certainly will be.
    """

    code = "not_acknowledged"

    def __init__(self, event_id: uuid.UUID, withdrawn: bool, reason: str) -> None:
        outcome = (
            "it was withdrawn and will not be sent"
            if withdrawn
            else "it was being sent and may still be recorded"
        )
        super().__init__(f"event {event_id} was not acknowledged in time ({reason}); {outcome}")
        self.event_id = event_id
        self.withdrawn = withdrawn


class FlushTimeout(ClientError):
    """``flush()`` or ``close()`` ran out of time with events still undelivered."""

    code = "flush_timeout"

    def __init__(self, message: str, pending: int) -> None:
        super().__init__(message)
        self.pending = pending
