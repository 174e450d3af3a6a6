"""Test helpers: a fixed locator, sample events for every catalog type, an org with tokens."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditledger.services import Services
from auditledger.source.location import special_network
from auditledger.tenancy.model import CredentialKind, Organization, Role
from auditledger.web.middleware import SECURITY_HEADERS
from auditledger_client.core.catalog import CATEGORIES, PropertyKind, PropertySpec
from auditledger_client.core.event import EventDraft, Location
from auditledger_client.core.validate import parse_event
from tests.support.databases import NOW

KNOWN_LOCATIONS = {
    "193.166.3.7": Location("FI", "Finland", "Espoo"),
    "81.2.69.160": Location("GB", "United Kingdom", "London"),
}


class FixedLocator:
    """A deterministic locator for tests that are not about locations."""

    description = "fixed test locations"

    def locate(self, ip: str) -> Location | None:
        network = special_network(ip)
        if network:
            return Location(network=network)
        return KNOWN_LOCATIONS.get(ip)


def sample_value(prop: PropertySpec) -> Any:
    """A valid value for a catalog property."""
    if prop.kind is PropertyKind.ENUM:
        return prop.choices[0]
    if prop.kind is PropertyKind.STRING_LIST:
        return ["a", "b"]
    if prop.kind is PropertyKind.INTEGER:
        return 3
    if prop.kind is PropertyKind.BOOLEAN:
        return True
    return f"value of {prop.key}"


def sample_event(cat: str = "model", typ: str = "rename", **overrides: Any) -> dict[str, Any]:
    """A valid wire-format event of ``cat.typ`` with every required property; ``overrides``
    replace top-level fields (``category=...`` makes it invalid on purpose)."""
    spec = next(c for c in CATEGORIES if c.key == cat)
    event_spec = spec.type_index[typ]
    category, type_ = cat, typ
    subject: dict[str, Any] = {"id": f"{category}-1", "name": f"a {category}"}
    if spec.parent_type:
        subject["parent"] = {"id": f"{spec.parent_type}-1", "name": f"a {spec.parent_type}"}
    event: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "category": category,
        "type": type_,
        "subject": subject,
        "properties": {p.key: sample_value(p) for p in event_spec.properties if p.required},
        "project": {"id": "prj-1", "name": "Project One"},
        "actor": {"type": "user", "id": "u-1", "name": "Ada Okafor"},
        "source": {"ip": "193.166.3.7"},
    }
    event.update(overrides)
    return event


def all_platform_types() -> list[tuple[str, str]]:
    """Every (category, type) the platform may send."""
    return [(c.key, t.key) for c in CATEGORIES if not c.internal for t in c.types]


@dataclass
class OrgAccess:
    """An organization with one credential of each kind."""

    org: Organization
    ingest: str
    admin: str
    member: str

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def make_org(services: Services, slug: str = "acme") -> OrgAccess:
    """An organization with an ingest, an admin-read and a member-read credential."""
    org = services.tenancy.create_org(slug, slug.title())
    ingest = services.tenancy.issue_credential(CredentialKind.INGEST, "platform", org=org)
    admin = services.tenancy.issue_credential(
        CredentialKind.READ, "admin script", org=org, role=Role.ADMIN
    )
    member = services.tenancy.issue_credential(
        CredentialKind.READ, "member script", org=org, role=Role.MEMBER
    )
    return OrgAccess(org, ingest.token, admin.token, member.token)


def store(
    services: Services, org: Organization, drafts: Sequence[EventDraft], now: datetime = NOW
) -> None:
    """Ingest ``drafts`` (received at ``now``) in batches of 500."""
    for offset in range(0, len(drafts), 500):
        services.ingest.ingest_blocking(org, list(drafts[offset : offset + 500]), now)


def store_wire(
    services: Services, org: Organization, events: Sequence[Mapping[str, Any]], now: datetime = NOW
) -> None:
    """Ingest events given in the wire format, as the API would receive them at ``now``."""
    store(services, org, [parse_event(e, received_at=now) for e in events], now)


def assert_internal_error(response: Any, request_id: str) -> None:
    """An unexpected error's answer: JSON 500 that hides the error's text, with the request's
    id and every security header (as any other answer)."""
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "a bug" not in response.text
    assert response.headers["x-request-id"] == request_id
    for name, value in SECURITY_HEADERS:
        assert response.headers[name.decode()] == value.decode()
