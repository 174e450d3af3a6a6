"""Durability checks shared by the kill -9 and multi-process tests: a prepared database and the
invariants of a whole log (dense sequence, leaves that hash their events, one copy per event)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx2 as httpx

from auditledger.core.canonical import event_leaf_hash
from auditledger.core.merkle import root_hash
from auditledger.services import Services, build_services
from auditledger.settings import load_settings
from tests.support.helpers import OrgAccess, make_org


def prepare(database_url: str, tmp_path: Path) -> tuple[Services, OrgAccess]:
    settings = load_settings(
        environ={}, database_url=database_url, signing_key_file=tmp_path / "signing.key"
    )
    services = build_services(settings)
    services.db.migrate()
    return services, make_org(services, "acme")


def send(client: httpx.Client, url: str, token: str, event: dict[str, Any]) -> httpx.Response:
    return client.post(
        f"{url}/api/v1/orgs/acme/events",
        json=event,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,  # a bound for a loaded machine, not the expected time
    )


def check_log(services: Services, access: OrgAccess) -> list[uuid.UUID]:
    """The stored event ids in sequence order, after checking the log is whole."""
    org = access.org
    head = services.log.head(org.id)
    leaves = services.log.leaves(org.id, 0, head.tree_size)
    assert [leaf.seq for leaf in leaves] == list(range(head.tree_size)), "sequence has gaps"
    events = services.log.events(org.id, org.slug, 0, head.tree_size)
    assert len(events) == head.tree_size
    for leaf, event in zip(leaves, events, strict=True):
        assert event_leaf_hash(event) == leaf.leaf_hash
    assert root_hash(head.tree_size, lambda ids: services.log.nodes(org.id, ids)) == head.root_hash
    ids = [leaf.event_id for leaf in leaves]
    assert len(set(ids)) == len(ids), "an event is stored twice"
    return ids
