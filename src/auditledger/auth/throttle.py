"""Failed sign-ins counted per key (a username, a client address) in a sliding window.

Each process counts on its own: behind a balancer with N processes an attacker gets at most
N times the allowance, which still turns online password guessing from millions of tries a day
into a few thousand. The counts live in memory, bounded: expired entries are pruned, and when
too many keys are tracked the oldest go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import datetime, timedelta

from auditledger.errors import AuditLedgerError
from auditledger_client.core.clock import Clock

MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)
MAX_KEYS = 100_000


class TooManyAttempts(AuditLedgerError):
    """Too many failed sign-ins for this username or from this address; wait, then retry."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SignInThrottle:
    """Allows at most ``max_failures`` failed sign-ins per key within ``window``."""

    def __init__(
        self,
        clock: Clock,
        *,
        max_failures: int = MAX_FAILURES,
        window: timedelta = WINDOW,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds until a blocked key may try again, or None if none of ``keys`` is blocked."""
        now = self.clock.now()
        waits = []
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.max_failures:
                    # Free again when enough failures have left the window.
                    oldest_counted = times[len(times) - self.max_failures]
                    waits.append((oldest_counted + self.window - now).total_seconds())
        return max(1, int(max(waits)) + 1) if waits else None

    def fail(self, keys: Iterable[str]) -> None:
        """Count one failed attempt against each key."""
        now = self.clock.now()
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def clear(self, key: str) -> None:
        """Forget a key's failures (a username after its owner signed in)."""
        with self._lock:
            self._failures.pop(key, None)
