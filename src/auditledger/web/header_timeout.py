"""A header-read timeout for uvicorn's h11 protocol (ASVS 4.0 level 2, denial of service).

uvicorn closes idle keep-alive connections, but a client that sends its request headers one
byte every two seconds keeps a connection (and its memory) forever: neither uvicorn nor h11
bounds how long the headers may take. This protocol gives every request's headers
``header_timeout`` seconds from the connection's start (or from the end of the previous
response on a kept-alive connection); a client that has not finished them by then is
disconnected without an answer. The body is not affected: large uploads are bounded by size.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEADER_TIMEOUT = 10.0


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose headers come too slowly."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._seen_cycle: object | None = None

    def _arm(self) -> None:
        self._disarm()
        self._seen_cycle = self.cycle
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is self._seen_cycle and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request's headers."""
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Stop the clock once a request's headers are complete (a new cycle exists)."""
        super().data_received(data)
        if self.cycle is not self._seen_cycle:
            self._disarm()

    def on_response_complete(self) -> None:
        """Start the clock again for the next request on this connection."""
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle is self._seen_cycle:
            self._arm()
        elif not self.transport.is_closing():
            # A pipelined request was already parsed while finishing this one.
            self._seen_cycle = self.cycle

    def connection_lost(self, exc: Exception | None) -> None:
        """No timer outlives its connection."""
        self._disarm()
        super().connection_lost(exc)


def protocol_with_timeout(seconds: float) -> type[HeaderTimeoutH11Protocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with ``seconds`` for the headers."""
    return type("HeaderTimeoutH11", (HeaderTimeoutH11Protocol,), {"header_timeout": seconds})


class WorkerHeaderTimeoutH11Protocol(HeaderTimeoutH11Protocol):
    """The protocol of ``serve --workers``: uvicorn hands it to each worker process by name,
    so it is a class of this module (not made by :func:`protocol_with_timeout`); each worker
    sets ``header_timeout`` from its settings before it serves."""
