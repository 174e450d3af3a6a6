"""Every error the client raises on purpose is a :class:`ClientError`::

    ClientError
    ├── InvalidEvent        the event breaks the catalog (also an InvalidInput); nothing recorded
    ├── EventTooLarge       over 64 KiB (also a TooLarge); nothing recorded
    ├── DuplicateEvent      its event_id is still waiting in the spool; recorded once already
    ├── SpoolFull           the spool is at its bound; nothing recorded (push back, not drop)
    ├── SpoolLocked         another client has the spool file open
    ├── ClientClosed        the client was closed
    ├── EventRejected       the service refused the event for good (a dead letter)
    ├── NotAcknowledged     wait=True got no receipt in time (says whether it was withdrawn)
    ├── FlushTimeout        flush()/close() ran out of time with events still spooled
    ├── ConfigurationError  a setting (argument or environment variable) is not usable
    └── MiddlewareMissing   source_ip() for a request that did not pass SourceIPMiddleware

Local validation is the server's own validator (one set of rules); :class:`InvalidEvent` and
:class:`EventTooLarge` also subclass its :class:`~auditledger_client.core.errors.InvalidInput`
and :class:`~auditledger_client.core.errors.TooLarge`, so either base can be caught.
"""

from __future__ import annotations

import uuid

from auditledger_client.core.errors import AuditLedgerError, InvalidInput, Problem, TooLarge


class ClientError(AuditLedgerError):
    """Base of every error the client raises on purpose."""

    code = "client_error"


class InvalidEvent(InvalidInput, ClientError):
    """The event is not valid against the catalog (each problem names its field); nothing was
    recorded. A programming error to fix at the call site."""

    code = "invalid_input"


class EventTooLarge(TooLarge, ClientError):
    """The event is over the service's 64 KiB limit; nothing was recorded."""

    code = "too_large"


class DuplicateEvent(ClientError):
    """An event with this ``event_id`` is still waiting in the spool: it was recorded before and
    is delivered once. Nothing new was recorded."""

    code = "duplicate_event"

    def __init__(self, event_id: uuid.UUID) -> None:
        super().__init__(f"an event with id {event_id} is already in the spool")
        self.event_id = event_id


class ConfigurationError(ClientError):
    """A client setting (an argument or an ``AUDITLEDGER_*`` environment variable) is missing
    or not usable; the message names it."""

    code = "configuration_error"


class MiddlewareMissing(ClientError):
    """:func:`~auditledger_client.asgi.source_ip` was called for a request that did not pass
    :class:`~auditledger_client.asgi.SourceIPMiddleware`."""

    code = "middleware_missing"


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
