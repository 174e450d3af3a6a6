"""A small time-bounded cache for lookups made on every request (credentials, organizations).

Entries live at most ``ttl`` seconds (monotonic time), so a change made by another process
(a revoked credential, a new retention period) is seen within that time; the process that makes
a change forgets the entry at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """A thread-safe LRU cache whose entries expire."""

    def __init__(
        self, ttl: float, max_entries: int = 10_000, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._now = now
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The cached value, or None when absent or expired."""
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, value = entry
            if self._now() - stored_at > self.ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Remember ``value``."""
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._now(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (after a change this process made)."""
        with self._lock:
            self._entries.clear()
