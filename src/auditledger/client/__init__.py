"""The client SDK a platform uses to send auditledger its events.

Importing it loads no server code (no FastAPI, no uvicorn, no database layer); the outbox,
which works on the platform's own SQLAlchemy database, is imported only when it is used.

* :class:`AuditClient` / :class:`AsyncAuditClient`: a typed method per catalog event type,
  a durable spool, batching, retries and dead letters.
* :mod:`auditledger.client.outbox`: record events in the same transaction as the change, and
  a :class:`~auditledger.client.relay.Relay` that ships them (``auditledger relay``).
* :mod:`auditledger.client.asgi`: the actor's IP address from a request, behind trusted
  proxies only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auditledger.core.errors import InvalidInput, TooLarge

from .aio import AsyncAuditClient
from .asgi import SourceIPMiddleware, source_ip
from .backoff import Backoff
from .errors import (
    ClientClosed,
    ClientError,
    EventRejected,
    FlushTimeout,
    NotAcknowledged,
    SpoolFull,
    SpoolLocked,
)
from .model import Actor, DeadLetter, Receipt, Ref
from .sync import AuditClient

if TYPE_CHECKING:
    from .outbox import Outbox, OutboxWriter
    from .relay import Relay

_LAZY = {"Outbox": "outbox", "OutboxWriter": "outbox", "Relay": "relay"}


def __getattr__(name: str) -> Any:
    # The outbox and relay need SQLAlchemy; a platform that only uses the client never loads it.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Actor",
    "AsyncAuditClient",
    "AuditClient",
    "Backoff",
    "ClientClosed",
    "ClientError",
    "DeadLetter",
    "EventRejected",
    "FlushTimeout",
    "InvalidInput",
    "NotAcknowledged",
    "Outbox",
    "OutboxWriter",
    "Receipt",
    "Ref",
    "Relay",
    "SourceIPMiddleware",
    "SpoolFull",
    "SpoolLocked",
    "TooLarge",
    "source_ip",
]
