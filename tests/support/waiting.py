"""Bounded waits for background work.

A bound must hold with both cores busy (CI may run beside other work), so the bounds are
generous; a wait ends as soon as its condition holds, so a quiet machine never pays them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Long enough for the slowest step seen under two competing CPU loops, many times over.
LOADED_MACHINE_SECONDS = 120.0


def wait_until(
    condition: Callable[[], bool],
    what: str,
    seconds: float = LOADED_MACHINE_SECONDS,
    poll: float = 0.02,
) -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {seconds:.0f} s waiting for {what}")
        time.sleep(poll)
