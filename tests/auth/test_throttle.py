"""The sign-in throttle: a sliding window per key, bounded memory, an honest Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auditledger.auth.throttle import SignInThrottle
from auditledger_client.core.clock import FrozenClock


def test_the_window_slides() -> None:
    clock = FrozenClock(datetime(2026, 11, 25, tzinfo=UTC))
    throttle = SignInThrottle(clock, max_failures=3, window=timedelta(minutes=15))
    for _ in range(2):
        throttle.fail(["user:ada"])
        clock.advance(timedelta(minutes=5))
    assert throttle.retry_after(["user:ada"]) is None
    throttle.fail(["user:ada"])  # failures at 0, 5 and 10 minutes
    assert throttle.retry_after(["user:ada"]) == 5 * 60 + 1
    assert throttle.retry_after(["user:ben", "ip:192.0.2.1"]) is None
    clock.advance(timedelta(minutes=5, seconds=1))  # the first failure has left the window
    assert throttle.retry_after(["user:ada"]) is None


def test_clearing_forgets_one_key_only() -> None:
    clock = FrozenClock(datetime(2026, 11, 25, tzinfo=UTC))
    throttle = SignInThrottle(clock, max_failures=1)
    throttle.fail(["user:ada", "ip:192.0.2.1"])
    throttle.clear("user:ada")
    assert throttle.retry_after(["user:ada"]) is None
    assert throttle.retry_after(["ip:192.0.2.1"]) is not None


def test_memory_stays_bounded() -> None:
    clock = FrozenClock(datetime(2026, 11, 25, tzinfo=UTC))
    throttle = SignInThrottle(clock, max_failures=1, max_keys=100)
    for n in range(1000):
        throttle.fail([f"user:{n}"])
    assert len(throttle._failures) == 100
    assert throttle.retry_after(["user:999"]) is not None
    assert throttle.retry_after(["user:0"]) is None  # the oldest went first
