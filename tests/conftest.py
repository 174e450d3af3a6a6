"""Shared fixtures: fresh databases on SQLite and PostgreSQL, services, an in-process client.

Every storage-facing test runs on both engines through the ``database_url`` fixture. A fresh
database per test is cheap: SQLite copies a migrated template file; PostgreSQL creates the
database from a migrated template database. Without a reachable PostgreSQL the PostgreSQL
cases are skipped, unless ``AUDITLEDGER_REQUIRE_POSTGRES=1`` (set by CI), which fails them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings

from auditledger.services import Services, build_services
from auditledger.settings import Settings, load_settings
from auditledger.store.database import Database
from auditledger.tenancy import tokens
from auditledger_client.core.clock import FrozenClock
from tests.support.databases import (
    DROPPER,
    NOW,
    PG_ADMIN_URL,
    REQUIRE_PG,
    admin_execute,
    fresh_postgres,
    pg_reachable,
    with_database,
)
from tests.support.helpers import FixedLocator

# The production argon2id parameters cost about 0.3 s of CPU per hash or check, and tests create
# and sign in hundreds of accounts; the cheapest argon2id keeps every code path (the stored
# "$argon2id$" hash, verification, the dummy hash for accounts without a password) at a thousandth
# of the cost. tests/tenancy/test_tokens.py checks the production parameters themselves.
tokens.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))

# Hypothesis's default deadline (200 ms per example) is a timing assertion, which a loaded
# machine fails; the property tests bound their work with max_examples instead.
hypothesis_settings.register_profile("auditledger", deadline=None)
hypothesis_settings.load_profile("auditledger")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, so that none starts last and leaves the other workers idle.

    pytest-xdist hands out tests in collection order as workers free up; the slow ones
    (subprocess servers, kill -9, load, browsers) would otherwise come in alphabetical order
    and the last of them decide when the run ends. Every worker sorts the same collection the
    same way, so they agree on the order.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A PostgreSQL URL with the right to create databases; skips (or fails in CI) if down.

    At the end of the session, waits for the test databases still being dropped.
    """
    problem = pg_reachable()
    if problem is not None:
        message = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {problem}"
        if REQUIRE_PG:
            pytest.fail(message)
        pytest.skip(message)
    yield PG_ADMIN_URL
    failures = DROPPER.drain()
    assert failures == [], f"test databases that could not be dropped: {failures}"


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> Iterator[str]:
    """A migrated template database, created once per test worker."""
    # Read from the environment, not xdist's worker_id fixture, so `-p no:xdist` runs work too.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"al_tmpl_{worker}_{uuid.uuid4().hex[:8]}"
    admin_execute(pg_admin_url, f'CREATE DATABASE "{name}"')
    db = Database(with_database(pg_admin_url, name))
    db.migrate()
    db.dispose()
    yield name
    DROPPER.drop_later(pg_admin_url, name)  # with the last test databases, before the drain


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file to copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_kind(request: pytest.FixtureRequest) -> str:
    """Each storage test runs once per engine."""
    return str(request.param)


@pytest.fixture
def database_url(engine_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated database of the engine under test."""
    if engine_kind == "sqlite":
        path = tmp_path / "auditledger.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    yield from fresh_postgres(
        request.getfixturevalue("pg_admin_url"), request.getfixturevalue("pg_template")
    )


@pytest.fixture
def clock() -> FrozenClock:
    """Time stands still at 2026-11-25 12:00 UTC unless a test moves it."""
    return FrozenClock(NOW)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a test: its own database and key file."""
    return load_settings(
        environ={},
        database_url=database_url,
        signing_key_file=tmp_path / "signing.key",
    )


@pytest.fixture
def services(settings: Settings, clock: FrozenClock) -> Iterator[Services]:
    """Started services on the test's database, with a frozen clock and a fixed locator."""
    svc = build_services(settings, clock=clock, locator=FixedLocator())
    svc.db.migrate()
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    """An in-process HTTP client for the app (services already started by the fixture)."""
    from auditledger.web.app import create_app

    with TestClient(create_app(services, manage_services=False)) as test_client:
        yield test_client


# Loaded databases for tests that read the log (tests/support/history.py), shared by all.
pytest_plugins = ["tests.support.history"]
