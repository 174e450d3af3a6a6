"""The keyword options both clients take, declared once.

:class:`ClientOptions` types the keywords of ``AuditClient(...)``, ``AsyncAuditClient(...)``
(``**options: Unpack[ClientOptions]``) and ``from_env``; :class:`ResolvedOptions` holds them
with their defaults for :class:`~auditledger_client.runtime.ClientCore`. The settings that can
come from environment variables are :data:`~auditledger_client.config.CLIENT_SETTINGS`; a test
checks that the three name the same options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TypedDict

import httpx2 as httpx

from .backoff import Backoff
from .core.catalog import SEED, Catalog
from .core.clock import Clock, SystemClock
from .model import DeadLetter
from .spool import Durability


class ClientOptions(TypedDict, total=False):
    """Every keyword option of the clients but ``spool_path`` (which has no default)."""

    org: str | None  # the default organization (each record may pass org=)
    catalog: Catalog | None  # the deployment's catalog when it has extensions
    batch_size: int  # events per request
    linger: float  # seconds a batch waits to fill
    max_spool_events: int  # events the spool holds before SpoolFull
    max_spool_bytes: int  # bytes the spool holds before SpoolFull
    durability: Durability  # "full": fsync per append; "normal": survives the process
    timeout: float  # seconds one HTTP request may take
    ack_timeout: float  # seconds wait=True waits for the receipt
    backoff: Backoff | None  # the retry pauses
    transport: httpx.BaseTransport | None  # tests and proxies
    on_dead_letter: Callable[[DeadLetter], None] | None
    on_error: Callable[[str], None] | None
    clock: Clock | None


@dataclass(frozen=True)
class ResolvedOptions:
    """:class:`ClientOptions` with every default filled in."""

    org: str | None = None
    catalog: Catalog = SEED
    batch_size: int = 500
    linger: float = 0.2
    max_spool_events: int = 100_000
    max_spool_bytes: int = 512 * 1024 * 1024
    durability: Durability = "full"
    timeout: float = 30.0
    ack_timeout: float = 10.0
    backoff: Backoff | None = None
    transport: httpx.BaseTransport | None = None
    on_dead_letter: Callable[[DeadLetter], None] | None = None
    on_error: Callable[[str], None] | None = None
    clock: Clock | None = None

    @classmethod
    def of(cls, options: ClientOptions) -> ResolvedOptions:
        """The options given, defaults for the rest (an explicit None means the default)."""
        given = {k: v for k, v in options.items() if v is not None}
        unknown = set(given) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown client options: {', '.join(sorted(unknown))}")
        return cls(**given)  # type: ignore[arg-type]

    def the_clock(self) -> Clock:
        """The injected clock, or the system's."""
        return self.clock or SystemClock()
