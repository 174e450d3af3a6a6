"""The synchronous client."""

from __future__ import annotations

from types import TracebackType

from .build import WireEvent
from .model import Receipt
from .runtime import CoreClient


class AuditClient(CoreClient[Receipt]):
    """Records audit events for a platform: validated at the call, spooled, shipped in order.

    Every event is validated against the catalog when it is recorded (an invalid one raises
    :class:`~auditledger_client.errors.InvalidEvent` right there), gets its id, and is committed
    to the spool before the call returns. A background thread sends the spool in batches of up
    to ``batch_size`` events, waiting at most ``linger`` seconds for a batch to fill, and
    removes events only once the service acknowledged them. Network errors, 429 and 503 are
    retried with exponential backoff and full jitter (never sooner than ``Retry-After``, which
    is honoured up to 60 s); a caller who waits (``flush``, ``wait=True``) cuts a pause short.
    Events the service refuses for good become dead letters (:meth:`dead_letters`).

    ``spool_path`` is required on purpose: a file keeps events across restarts and crashes of
    this process; ``None`` keeps them in memory only (faster, same order and retries, but
    events not yet delivered are lost if the process dies). Use one spool file per process.
    ``catalog`` is the deployment's catalog when it has extensions (default: the seed's).
    The other keyword options are :class:`~auditledger_client.options.ClientOptions`.
    :meth:`from_env` reads every option from ``AUDITLEDGER_*`` environment variables.

    A full spool raises :class:`~auditledger_client.errors.SpoolFull`: the client pushes back
    rather than drop events. Every error it raises on purpose is a
    :class:`~auditledger_client.errors.ClientError`.
    """

    def _submit(self, event: WireEvent, wait: bool) -> Receipt:
        if not wait:
            return self._core.enqueue(event)
        future = self._core.enqueue_expecting(event)
        try:
            return future.result(self._core.ack_timeout)
        except Exception:  # timed out, or the sender gave up early: settle() says which
            return self._core.settle(event.id, future)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every event recorded so far is delivered (or dead-lettered);
        :class:`~auditledger_client.errors.FlushTimeout` if that takes over ``timeout`` s."""
        self._core.check_open()
        self._core.sender.flush(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush, then stop; returns within ``timeout`` seconds. Undelivered events stay in the
        spool file; with a memory-only spool they are lost and this raises ``FlushTimeout``."""
        self._core.close(timeout)

    def __enter__(self) -> AuditClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
