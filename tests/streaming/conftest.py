"""Streaming fixtures: services allowed to reach 127.0.0.1, an organization, a receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from auditledger.services import Services, build_services
from auditledger.settings import Settings
from auditledger_client.core.clock import FrozenClock
from tests.support.helpers import FixedLocator, OrgAccess, make_org
from tests.support.receivers import WebhookReceiver


@pytest.fixture
def stream_services(settings: Settings, clock: FrozenClock) -> Iterator[Services]:
    """Services whose operator allows destinations on loopback (the test's receivers)."""
    svc = build_services(
        settings.replace(stream_allowed_networks=("127.0.0.0/8",), stream_batch_events=50),
        clock=clock,
        locator=FixedLocator(),
    )
    svc.db.migrate()
    svc.checkpoints.ensure_key()
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture
def stream_client(stream_services: Services) -> Iterator[TestClient]:
    from auditledger.web.app import create_app

    with TestClient(create_app(stream_services, manage_services=False)) as test_client:
        yield test_client


@pytest.fixture
def acme(stream_services: Services) -> OrgAccess:
    return make_org(stream_services, "acme")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running
