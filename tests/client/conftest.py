"""Fixtures for the client tests: the service in-process (its HTTP transport handed to the
client, so no sockets), a platform database on each engine, and stub transports."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from auditledger.services import Services
from auditledger_client import Actor, Ref
from auditledger_client.core.clock import FrozenClock
from tests.conftest import _admin_execute, _with_database
from tests.helpers import OrgAccess, make_org

ADA = Actor("u-ada", "Ada Okafor")
CHURN = Ref("mdl-churn", "churn-model")
PROJECT = Ref("prj-churn", "churn-prediction")


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    """An organization with credentials."""
    return make_org(services, "acme")


@pytest.fixture
def service(client: TestClient) -> httpx.BaseTransport:
    """The in-process service as an HTTP transport any httpx client can use."""
    return client._transport


def stored_ids(services: Services, access: OrgAccess) -> list[uuid.UUID]:
    """The event ids of the organization's log, in sequence order."""
    org = access.org
    size = services.log.head(org.id).tree_size
    return [leaf.event_id for leaf in services.log.leaves(org.id, 0, size)]


class Stub(httpx.BaseTransport):
    """A transport that answers from a function, falling through to ``inner`` on None."""

    def __init__(
        self,
        answer: Callable[[httpx.Request], httpx.Response | None],
        inner: httpx.BaseTransport | None = None,
    ) -> None:
        self.answer = answer
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        response = self.answer(request)
        if response is not None:
            return response
        assert self.inner is not None
        return self.inner.handle_request(request)


def unreachable(request: httpx.Request) -> httpx.Response:
    """The service is down: every connection is refused."""
    raise httpx.ConnectError("connection refused", request=request)


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
    _admin_execute(admin, f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(admin, name).replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        _admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
