"""A small deployment for the security tests: two organizations, every kind of caller, and
events whose sources (IP address and location) must only ever reach administrators.

``acme`` is the organization under test; ``globex`` is the neighbour whose administrator must
see nothing of acme. Besides the working credentials of ``make_org``, acme gets an expired and
a revoked credential of each kind, and an expired and an ended browser session, so every way
of failing to authenticate can be tried. A checkpoint is signed so proofs have a tree to use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from auditledger.services import Services
from auditledger.tenancy.model import CredentialKind, Role
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.validate import parse_event
from tests.support.helpers import sample_event
from tests.support.history import PASSWORD, Tenant, make_tenant

# Sources of the events below; the locator of the tests places the first two in Espoo and
# London, and the third is in the IPv6 documentation range.
SOURCE_IPS = ("193.166.3.7", "81.2.69.160", "2001:db8::7")
# What a member must never see; "London" is left out because the time-zone choice lists
# Europe/London.
SOURCE_MARKERS = (*SOURCE_IPS, "Espoo")

MODEL_ID = "mdl-sourced"
VERSION_ID = "mv-sourced-1"
PROJECT_ID = "prj-sourced"
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")


@dataclass(frozen=True)
class Dead:
    """Credentials and sessions that must not work any more."""

    expired_read: str
    expired_ingest: str
    revoked_read: str
    revoked_ingest: str
    expired_session: str
    ended_session: str


@dataclass(frozen=True)
class World:
    """What the security tests run against."""

    services: Services
    acme: Tenant
    globex: Tenant
    dead: Dead
    platform_token: str  # a platform-wide ingest credential (no organization)
    event_id: str  # an acme event with a located source
    secrets: list[str] = field(default_factory=list)  # every secret handed out, for DB scans

    @property
    def source_ips(self) -> set[str]:
        """Every source address of acme's stored events (the demo history's and ours)."""
        size = self.services.log.head(self.acme.org.id).tree_size
        events = self.services.log.events(self.acme.org.id, self.acme.slug, 0, size)
        return {e.source.ip for e in events if e.source is not None}


def sourced_events() -> list[dict[str, object]]:
    """A model, a version of it and a project event, each from a known place."""
    project = {"id": PROJECT_ID, "name": "sourced-project"}
    model = sample_event(
        "model",
        "create",
        subject={"id": MODEL_ID, "name": "sourced-model"},
        project=project,
        source={"ip": SOURCE_IPS[0]},
    )
    version = sample_event(
        "model_version",
        "create",
        subject={
            "id": VERSION_ID,
            "name": "sourced-model v1",
            "parent": {"id": MODEL_ID, "name": "sourced-model"},
        },
        project=project,
        source={"ip": SOURCE_IPS[1]},
    )
    rename = sample_event(
        "model",
        "rename",
        subject={"id": MODEL_ID, "name": "sourced-model"},
        project=project,
        source={"ip": SOURCE_IPS[2]},
    )
    return [model, version, rename]


def build_world(services: Services, clock: FrozenClock) -> World:
    """Load the deployment into ``services`` (whose clock is ``clock``)."""
    tenancy = services.tenancy
    services.checkpoints.ensure_key()
    acme = make_tenant(services, "acme", days=2, seed=5, scale=0.2)
    globex = make_tenant(services, "globex", days=1, seed=6, scale=0.2)
    wire = sourced_events()
    drafts = [parse_event(e, received_at=clock.now()) for e in wire]
    services.ingest.ingest_blocking(acme.org, drafts, clock.now())

    # Issued two days ago for one day: expired a day ago.
    clock.advance(timedelta(days=-2))
    expired_read = tenancy.issue_credential(
        CredentialKind.READ, "old", org=acme.org, role=Role.ADMIN, expires_in=timedelta(days=1)
    )
    expired_ingest = tenancy.issue_credential(
        CredentialKind.INGEST, "old", org=acme.org, expires_in=timedelta(days=1)
    )
    expired_session = tenancy.sign_in(acme.admin.username, PASSWORD)
    clock.advance(timedelta(days=2))
    revoked_read = tenancy.issue_credential(
        CredentialKind.READ, "gone", org=acme.org, role=Role.ADMIN
    )
    revoked_ingest = tenancy.issue_credential(CredentialKind.INGEST, "gone", org=acme.org)
    tenancy.revoke_credential(revoked_read.credential.public_id)
    tenancy.revoke_credential(revoked_ingest.credential.public_id)
    ended_session = tenancy.sign_in(acme.admin.username, PASSWORD)
    tenancy.sign_out(ended_session.token)
    platform = tenancy.issue_credential(CredentialKind.INGEST, "platform-wide", org=None)
    services.checkpoints.checkpoint(acme.org.id, acme.slug)

    dead = Dead(
        expired_read=expired_read.token,
        expired_ingest=expired_ingest.token,
        revoked_read=revoked_read.token,
        revoked_ingest=revoked_ingest.token,
        expired_session=expired_session.token,
        ended_session=ended_session.token,
    )
    tokens = [
        acme.access.ingest,
        acme.access.admin,
        acme.access.member,
        globex.access.ingest,
        globex.access.admin,
        globex.access.member,
        expired_read.token,
        expired_ingest.token,
        revoked_read.token,
        revoked_ingest.token,
        platform.token,
    ]
    # A token is al_<kind>_<public id>_<secret>; the secret alone must not be stored either.
    secrets = [*tokens, *(t.rsplit("_", 1)[1] for t in tokens)]
    secrets += [expired_session.token, ended_session.token, PASSWORD]
    return World(services, acme, globex, dead, platform.token, str(wire[0]["id"]), secrets)


def addresses_in(text: str) -> set[str]:
    """The IPv4 addresses written in ``text``."""
    return set(_IPV4.findall(text))
