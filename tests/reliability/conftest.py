"""Fixtures shared by the access-control tests: one world of organizations, people and
credentials, and a caller that speaks to the app as any of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from auditledger.services import Services
from auditledger.web.app import create_app
from auditledger_client.core.clock import FrozenClock
from tests.support.access import Caller
from tests.support.world import World, build_world


@pytest.fixture
def world(services: Services, clock: FrozenClock) -> World:
    return build_world(services, clock)


@pytest.fixture
def caller(world: World) -> Iterator[Caller]:
    app = create_app(world.services, manage_services=False)
    with TestClient(app, client=("198.51.100.7", 50000), follow_redirects=False) as client:
        yield Caller(world, client)
