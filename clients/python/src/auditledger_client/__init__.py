"""auditledger-client: what a platform installs to send auditledger its events.

It depends on nothing of the server (no FastAPI, uvicorn, Alembic, psycopg, Jinja2); the
server depends on it, for the shared core (:mod:`auditledger_client.core`: the catalog, the
wire format and its validator), so the client checks an event by the server's own rules.

* Events: one typed class per catalog type (:mod:`auditledger_client.events`, e.g.
  ``ModelRename(old_name=..., new_name=...)``), and :class:`CustomEvent` for the types of a
  catalog extension.
* :class:`AuditClient` / :class:`AsyncAuditClient`: ``record(event, subject=..., actor=...)``,
  a durable spool, batching, retries and dead letters; ``from_env()`` reads ``AUDITLEDGER_*``.
* :mod:`auditledger_client.outbox`: the same ``record`` into the platform's own transaction,
  and a :class:`~auditledger_client.relay.Relay` that ships it (needs the ``outbox`` extra).
* :mod:`auditledger_client.asgi`: the actor's IP address from a request, behind trusted
  proxies only.

Every error it raises on purpose is a :class:`ClientError` (see :mod:`auditledger_client.errors`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import events
from .aio import AsyncAuditClient
from .asgi import SourceIPMiddleware, source_ip
from .backoff import Backoff
from .core.catalog import SEED, Catalog
from .errors import (
    ClientClosed,
    ClientError,
    ConfigurationError,
    DuplicateEvent,
    EventRejected,
    EventTooLarge,
    FlushTimeout,
    InvalidEvent,
    MiddlewareMissing,
    NotAcknowledged,
    SpoolFull,
    SpoolLocked,
)
from .model import Actor, DeadLetter, Receipt, Ref
from .sync import AuditClient
from .typed import CustomEvent, Event, TypedEvent

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
    "SEED",
    "Actor",
    "AsyncAuditClient",
    "AuditClient",
    "Backoff",
    "Catalog",
    "ClientClosed",
    "ClientError",
    "ConfigurationError",
    "CustomEvent",
    "DeadLetter",
    "DuplicateEvent",
    "Event",
    "EventRejected",
    "EventTooLarge",
    "FlushTimeout",
    "InvalidEvent",
    "MiddlewareMissing",
    "NotAcknowledged",
    "Outbox",
    "OutboxWriter",
    "Receipt",
    "Ref",
    "Relay",
    "SourceIPMiddleware",
    "SpoolFull",
    "SpoolLocked",
    "TypedEvent",
    "events",
    "source_ip",
]
