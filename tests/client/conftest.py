"""Fixtures for the client tests: the service in-process (its HTTP transport handed to the
client, so no sockets), a platform database on each engine, and stub transports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from auditledger.services import Services
from auditledger_client.core.clock import FrozenClock
from tests.support.databases import DROPPER, admin_execute, with_database
from tests.support.helpers import OrgAccess, make_org


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    """An organization with credentials."""
    return make_org(services, "acme")


@pytest.fixture
def service(client: TestClient) -> httpx.BaseTransport:
    """The in-process service as an HTTP transport any httpx client can use."""
    return client._transport


@pytest.fixture
def frozen(clock: FrozenClock) -> FrozenClock:
    """The clock the in-process service uses; clients stamp events with it too."""
    return clock


@pytest.fixture
def platform_db_url(
    engine_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """An empty database of the platform's own (not auditledger's), on each engine."""
    if engine_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'platform.db'}"
        return
    admin = request.getfixturevalue("pg_admin_url")
    name = f"al_platform_{uuid.uuid4().hex[:12]}"
    admin_execute(admin, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin, name).replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        DROPPER.drop_later(admin, name)  # in the background, as the test databases are
