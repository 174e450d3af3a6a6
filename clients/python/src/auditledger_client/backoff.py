"""Exponential backoff with full jitter, never shorter than the server's ``Retry-After``.

Full jitter (a uniform delay between zero and the exponential ceiling) spreads the retries of
many clients that failed together, so a recovering service is not hit by all of them at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# A Retry-After beyond this is treated as this: a misconfigured proxy (or an overloaded service
# asking for minutes) must not park the sender, and every flush() behind it, for that long.
# auditledger itself asks for a few seconds at most.
MAX_RETRY_AFTER = 60.0


@dataclass
class Backoff:
    """How long to wait before retry number ``attempt`` (0 for the first retry)."""

    base: float = 0.25
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def ceiling(self, attempt: int) -> float:
        """The largest delay for ``attempt``: ``base * 2**attempt``, at most ``cap``."""
        return min(self.cap, self.base * 2.0 ** min(attempt, 62))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """A jittered delay, raised to ``retry_after`` when the server asked for one."""
        jittered = self.rng.uniform(0.0, self.ceiling(attempt))
        if retry_after is not None:
            return max(jittered, min(retry_after, MAX_RETRY_AFTER))
        return jittered
