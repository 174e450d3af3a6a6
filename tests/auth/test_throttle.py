"""The sign-in throttle's counters live in the database: shared by processes, never evicted
while they matter, so an address pool cannot reset a username's count."""

from __future__ import annotations

from datetime import timedelta

import pytest

from auditledger.auth.throttle import (
    PAIR_FAILURES,
    USERNAME_SOFT_LIMIT,
    WINDOW,
    SignInThrottle,
)
from auditledger.services import Services
from auditledger_client.core.clock import FrozenClock


@pytest.mark.slow
def test_the_window_ends(services: Services, clock: FrozenClock) -> None:
    throttle = SignInThrottle(services.db, clock)
    for _ in range(PAIR_FAILURES):
        throttle.fail("ada", "ip:192.0.2.1")
    refusal = throttle.check("ada", "ip:192.0.2.1")
    assert refusal is not None
    assert refusal.limit == "username_address"
    assert refusal.retry_after == int(WINDOW.total_seconds()) + 1
    assert throttle.check("ada", "ip:192.0.2.2") is None  # another address checks at once
    assert throttle.check("ben", "ip:192.0.2.1") is None
    clock.advance(WINDOW)
    assert throttle.check("ada", "ip:192.0.2.1") is None


@pytest.mark.slow
def test_an_address_pool_cannot_reset_a_username(services: Services, clock: FrozenClock) -> None:
    # In memory, beyond 100,000 keys the oldest were dropped: enough addresses reset the
    # username's counter. In the database nothing is dropped, and another process (another
    # throttle object) sees the same counts.
    first = SignInThrottle(services.db, clock)
    for n in range(USERNAME_SOFT_LIMIT):
        first.fail("ada", f"ip:10.0.{n // 250}.{n % 250}")
    for n in range(300):
        first.fail(f"spray{n}", f"ip:10.1.{n // 250}.{n % 250}")
    refusal = SignInThrottle(services.db, clock).check("ada", "ip:198.51.100.1")
    assert refusal is not None
    assert refusal.limit == "username"
    assert refusal.failures == USERNAME_SOFT_LIMIT


@pytest.mark.slow
def test_unlock_and_success_forget_the_username(services: Services, clock: FrozenClock) -> None:
    throttle = SignInThrottle(services.db, clock)
    for _ in range(USERNAME_SOFT_LIMIT):
        throttle.fail("Ada", "ip:192.0.2.1")
    assert throttle.unlock("ada") == 2  # user:ada and pair:ada|ip:192.0.2.1
    assert throttle.check("ada", "ip:192.0.2.1") is None
    throttle.fail("ada", "ip:192.0.2.1")
    throttle.succeeded("ada", "ip:192.0.2.1")
    clock.advance(timedelta(seconds=1))
    assert throttle.unlock("ada") == 0
