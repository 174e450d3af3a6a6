"""A database holding two organizations with realistic history, for tests that read the log.

Loading a month of events through the ingest path takes a second or two, so it happens once per
engine per test session, into a template; each test gets a fresh copy (a file copy on SQLite,
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL). A test module opts in by overriding
``database_url`` with ``history_database_url``; ``tenants`` says what the copy holds.

Both organizations come from the demo generator, so they use the same project, model and actor
ids: a filter that leaked across organizations would show up at once.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from auditledger.core.canonical import format_timestamp
from auditledger.demo.generate import generate
from auditledger.retention.policy import start_of_day
from auditledger.services import Services, build_services
from auditledger.settings import load_settings
from auditledger.tenancy.model import Organization, Role, User
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.event import Event
from tests.support import databases as base
from tests.support.helpers import FixedLocator, OrgAccess, make_org, store_wire

PASSWORD = "correct horse battery staple"


def load_history(
    services: Services, org: Organization, *, days: int, seed: int, scale: float = 1.0
) -> list[Event]:
    """Ingest ``days`` of demo history ending now; return the stored events in log order."""
    start = start_of_day(base.NOW) - timedelta(days=days)
    now_text = format_timestamp(base.NOW)
    for day in generate(start, days + 1, seed=seed, per_day_scale=scale):
        store_wire(services, org, [e for e in day if e["timestamp"] <= now_text], base.NOW)
    size = services.log.head(org.id).tree_size
    return services.log.events(org.id, org.slug, 0, size)


@dataclass(frozen=True)
class Tenant:
    """An organization with credentials, people who can sign in, and its stored events."""

    access: OrgAccess
    admin: User
    member: User
    events: list[Event]

    @property
    def org(self) -> Organization:
        return self.access.org

    @property
    def slug(self) -> str:
        return self.access.org.slug


def make_tenant(services: Services, slug: str, *, days: int, seed: int, scale: float) -> Tenant:
    """An organization, its admin and member (password :data:`PASSWORD`) and its history."""
    access = make_org(services, slug)
    admin = services.tenancy.create_user(f"admin@{slug}.example", f"{slug} admin", PASSWORD)
    member = services.tenancy.create_user(f"member@{slug}.example", f"{slug} member", PASSWORD)
    services.tenancy.add_member(access.org, admin, Role.ADMIN)
    services.tenancy.add_member(access.org, member, Role.MEMBER)
    events = load_history(services, access.org, days=days, seed=seed, scale=scale)
    return Tenant(access, admin, member, events)


def fill(url: str, key_dir: Path) -> dict[str, Tenant]:
    """Load acme (about 1,500 events over 30 days) and globex (a smaller neighbour)."""
    settings = load_settings(environ={}, database_url=url, signing_key_file=key_dir / "t.key")
    services = build_services(settings, clock=FrozenClock(base.NOW), locator=FixedLocator())
    services.db.migrate()
    services.start()
    try:
        return {
            "acme": make_tenant(services, "acme", days=30, seed=11, scale=1.0),
            "globex": make_tenant(services, "globex", days=10, seed=12, scale=0.5),
        }
    finally:
        services.stop()


@dataclass
class Template:
    """A loaded database to copy, and what it holds."""

    location: str  # a file path (SQLite) or a database name (PostgreSQL)
    tenants: dict[str, Tenant]
    admin_url: str | None = None  # PostgreSQL: where to drop it from


@pytest.fixture(scope="session")
def history_templates() -> Iterator[dict[str, Template]]:
    """Loaded templates, built on first use per engine and dropped at the end."""
    templates: dict[str, Template] = {}
    yield templates
    for template in templates.values():
        if template.admin_url is not None:
            base.admin_execute(
                template.admin_url, f'DROP DATABASE IF EXISTS "{template.location}" WITH (FORCE)'
            )


def _template(
    kind: str, templates: dict[str, Template], request: pytest.FixtureRequest
) -> Template:
    if kind in templates:
        return templates[kind]
    folder = request.getfixturevalue("tmp_path_factory").mktemp("history")
    if kind == "sqlite":
        path = folder / "history.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        templates[kind] = Template(str(path), fill(f"sqlite:///{path}", folder))
    else:
        admin_url = request.getfixturevalue("pg_admin_url")
        name = f"al_hist_{uuid.uuid4().hex[:10]}"
        migrated = request.getfixturevalue("pg_template")
        base.admin_execute(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{migrated}"')
        tenants = fill(base.with_database(admin_url, name), folder)
        templates[kind] = Template(name, tenants, admin_url)
    return templates[kind]


@pytest.fixture
def history_database_url(
    engine_kind: str,
    tmp_path: Path,
    history_templates: dict[str, Template],
    request: pytest.FixtureRequest,
) -> Iterator[str]:
    """A fresh copy of the loaded database of the engine under test."""
    template = _template(engine_kind, history_templates, request)
    if engine_kind == "sqlite":
        path = tmp_path / "auditledger.db"
        shutil.copyfile(template.location, path)
        yield f"sqlite:///{path}"
        return
    yield from base.fresh_postgres(request.getfixturevalue("pg_admin_url"), template.location)


@pytest.fixture
def tenants(
    engine_kind: str, history_templates: dict[str, Template], history_database_url: str
) -> dict[str, Tenant]:
    """What the loaded database holds."""
    return history_templates[engine_kind].tenants
