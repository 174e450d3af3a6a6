"""Fixtures of the web tests: the loaded organizations of ``tests/support/history.py``."""

from __future__ import annotations

import pytest

from tests.support.history import Tenant


@pytest.fixture
def acme(tenants: dict[str, Tenant]) -> Tenant:
    """About 1,500 events over 30 days; an admin and a member who can sign in."""
    return tenants["acme"]


@pytest.fixture
def globex(tenants: dict[str, Tenant]) -> Tenant:
    """Another organization, with the same ids in its events."""
    return tenants["globex"]
