"""The proof API: checkpoints as signed notes, RFC 9162 proofs that verify, clear 4xx."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from auditledger.integrity.checkpoint import open_checkpoint
from auditledger.integrity.keys import parse_vkey
from auditledger.integrity.merkle import verify_consistency, verify_inclusion
from auditledger.services import Services
from auditledger.tenancy.model import Role
from tests.support.helpers import OrgAccess, make_org
from tests.support.integrity import ingest_many


@pytest.fixture
def access(services: Services) -> OrgAccess:
    services.checkpoints.ensure_key()
    return make_org(services)


def checkpoint_now(client: TestClient, access: OrgAccess) -> dict[str, Any]:
    response = client.post("/api/v1/orgs/acme/checkpoints", headers=access.headers(access.admin))
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def problem_fields(response: Any) -> list[str]:
    return [p["field"] for p in response.json()["error"].get("problems", [])]


def test_latest_checkpoint_is_a_signed_note_or_json(
    client: TestClient, services: Services, access: OrgAccess
) -> None:
    ingest_many(services, access.org, 7)
    created = checkpoint_now(client, access)
    text = client.get("/api/v1/orgs/acme/checkpoint", headers=access.headers(access.member))
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    keys = client.get("/api/v1/keys").json()["keys"]
    verifiers = [parse_vkey(k["vkey"]) for k in keys]
    opened = open_checkpoint(text.text, verifiers, origin="auditledger.local/acme")
    assert opened.tree_size == 7
    for request in (
        {"params": {"format": "json"}},
        {"headers": {"Accept": "application/json"}},
    ):
        headers = {**access.headers(access.member), **request.get("headers", {})}
        body = client.get(
            "/api/v1/orgs/acme/checkpoint", headers=headers, params=request.get("params")
        ).json()
        assert body == created
        assert set(body) == {"tree_size", "root_hash", "note", "key_name", "created_at"}
        assert body["root_hash"] == opened.root_hash.hex()


def test_no_checkpoint_yet_is_404(client: TestClient, access: OrgAccess) -> None:
    response = client.get("/api/v1/orgs/acme/checkpoint", headers=access.headers(access.admin))
    assert response.status_code == 404
    assert "no checkpoint" in response.json()["error"]["message"]


def test_requesting_a_checkpoint_is_for_administrators(
    client: TestClient, services: Services, access: OrgAccess
) -> None:
    ingest_many(services, access.org, 2)
    url = "/api/v1/orgs/acme/checkpoints"
    assert client.post(url, headers=access.headers(access.member)).status_code == 403
    assert client.post(url, headers=access.headers(access.ingest)).status_code == 403
    assert client.post(url).status_code == 401
    other = make_org(services, "globex")
    assert client.post(url, headers=other.headers(other.admin)).status_code == 404
    first = client.post(url, headers=access.headers(access.admin))
    again = client.post(url, headers=access.headers(access.admin))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()


def test_checkpoints_are_listed_newest_first_in_pages(
    client: TestClient, services: Services, access: OrgAccess
) -> None:
    for _ in range(5):
        ingest_many(services, access.org, 1)
        checkpoint_now(client, access)
    headers = access.headers(access.member)
    first = client.get("/api/v1/orgs/acme/checkpoints", params={"limit": 2}, headers=headers)
    body = first.json()
    assert [c["tree_size"] for c in body["checkpoints"]] == [5, 4]
    second = client.get(
        "/api/v1/orgs/acme/checkpoints",
        params={"limit": 2, "before": body["next_before"]},
        headers=headers,
    ).json()
    assert [c["tree_size"] for c in second["checkpoints"]] == [3, 2]
    rest = client.get("/api/v1/orgs/acme/checkpoints", params={"before": 2}, headers=headers).json()
    assert [c["tree_size"] for c in rest["checkpoints"]] == [1]
    assert rest["next_before"] is None
    bad = client.get("/api/v1/orgs/acme/checkpoints", params={"limit": 0}, headers=headers)
    assert bad.status_code == 422
    assert problem_fields(bad) == ["limit"]
    huge = client.get("/api/v1/orgs/acme/checkpoints", params={"before": 2**64}, headers=headers)
    assert huge.status_code == 422
    assert problem_fields(huge) == ["before"]


def test_inclusion_proofs_verify_against_the_signed_root(
    client: TestClient, services: Services, access: OrgAccess
) -> None:
    receipts = ingest_many(services, access.org, 11)
    checkpoint = checkpoint_now(client, access)
    headers = access.headers(access.member)
    for receipt in receipts:
        for params in ({"seq": receipt.seq}, {"event_id": str(receipt.event_id)}):
            response = client.get(
                "/api/v1/orgs/acme/proofs/inclusion", params=params, headers=headers
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["seq"] == receipt.seq
            assert body["leaf_hash"] == receipt.leaf_hash.hex()
            assert (body["tree_size"], body["root_hash"]) == (11, checkpoint["root_hash"])
            assert verify_inclusion(
                receipt.seq,
                11,
                receipt.leaf_hash,
                [bytes.fromhex(h) for h in body["proof"]],
                bytes.fromhex(checkpoint["root_hash"]),
            )
    smaller = client.get(
        "/api/v1/orgs/acme/proofs/inclusion", params={"seq": 3, "tree_size": 5}, headers=headers
    ).json()
    assert smaller["tree_size"] == 5
    assert verify_inclusion(
        3,
        5,
        receipts[3].leaf_hash,
        [bytes.fromhex(h) for h in smaller["proof"]],
        bytes.fromhex(smaller["root_hash"]),
    )


def test_consistency_proofs_verify_between_signed_roots(
    client: TestClient, services: Services, access: OrgAccess
) -> None:
    ingest_many(services, access.org, 6)
    old = checkpoint_now(client, access)
    ingest_many(services, access.org, 9)
    new = checkpoint_now(client, access)
    response = client.get(
        "/api/v1/orgs/acme/proofs/consistency",
        params={"first": 6},
        headers=access.headers(access.member),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["first"], body["second"]) == (6, 15)
    assert (body["first_root"], body["second_root"]) == (old["root_hash"], new["root_hash"])
    assert verify_consistency(
        6,
        15,
        bytes.fromhex(old["root_hash"]),
        bytes.fromhex(new["root_hash"]),
        [bytes.fromhex(h) for h in body["proof"]],
    )


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("inclusion", {"seq": 0, "tree_size": 99}, 422, "tree_size"),
        ("inclusion", {"seq": 0, "tree_size": 0}, 422, "tree_size"),
        ("inclusion", {"seq": 5, "tree_size": 3}, 422, "seq"),
        ("inclusion", {"seq": -1}, 422, "seq"),
        ("inclusion", {"seq": "x"}, 422, "seq"),
        ("inclusion", {}, 422, "event_id"),
        ("inclusion", {"seq": 1, "event_id": str(uuid.uuid4())}, 422, "event_id"),
        ("inclusion", {"event_id": "not-a-uuid"}, 422, "event_id"),
        ("inclusion", {"event_id": str(uuid.uuid4())}, 404, None),
        ("consistency", {}, 422, "first"),
        ("consistency", {"first": 0}, 422, "first"),
        ("consistency", {"first": 5, "second": 4}, 422, "first"),
        ("consistency", {"first": 1, "second": 99}, 422, "second"),
        ("consistency", {"first": 1, "second": 2**70}, 422, "second"),
        ("inclusion", {"seq": 2**64}, 422, "seq"),
    ],
)
def test_bad_parameters_are_named(
    client: TestClient,
    services: Services,
    access: OrgAccess,
    path: str,
    params: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    ingest_many(services, access.org, 4)
    checkpoint_now(client, access)
    response = client.get(
        f"/api/v1/orgs/acme/proofs/{path}", params=params, headers=access.headers(access.admin)
    )
    assert response.status_code == status, response.text
    if field is not None:
        assert problem_fields(response) == [field]


def test_default_size_needs_a_checkpoint(
    client: TestClient, services: Services, access: OrgAccess
) -> None:
    ingest_many(services, access.org, 3)
    response = client.get(
        "/api/v1/orgs/acme/proofs/inclusion",
        params={"seq": 0},
        headers=access.headers(access.admin),
    )
    assert response.status_code == 422
    assert problem_fields(response) == ["tree_size"]
    assert "no checkpoint yet" in response.json()["error"]["problems"][0]["message"]


def test_proofs_are_only_for_readers_of_the_org(
    client: TestClient, services: Services, access: OrgAccess
) -> None:
    ingest_many(services, access.org, 2)
    checkpoint_now(client, access)
    other = make_org(services, "globex")
    for url in (
        "/api/v1/orgs/acme/checkpoint",
        "/api/v1/orgs/acme/checkpoints",
        "/api/v1/orgs/acme/proofs/inclusion?seq=0",
        "/api/v1/orgs/acme/proofs/consistency?first=1",
    ):
        assert client.get(url).status_code == 401
        assert client.get(url, headers=other.headers(other.admin)).status_code == 404
        assert client.get(url, headers=access.headers(access.ingest)).status_code == 403
        assert client.get(url, headers=access.headers(access.member)).status_code == 200


def test_public_keys_need_no_credential_and_include_retired_ones(
    client: TestClient, services: Services, access: OrgAccess
) -> None:
    old, new = services.checkpoints.rotate_key()
    keys = client.get("/api/v1/keys").json()["keys"]
    by_id = {k["key_id"]: k for k in keys}
    assert by_id[old.verifier.key_id_hex]["retired_at"] is not None
    assert by_id[new.verifier.key_id_hex]["retired_at"] is None
    assert parse_vkey(by_id[new.verifier.key_id_hex]["vkey"]) == new.verifier
    encoded = by_id[new.verifier.key_id_hex]["vkey"].split("+", 2)[2]
    assert base64.b64decode(encoded)[1:] == new.verifier.public_key


def test_session_admins_may_request_checkpoints(
    client: TestClient, services: Services, access: OrgAccess
) -> None:
    user = services.tenancy.create_user("ada@acme.example", "Ada", "correct horse battery")
    services.tenancy.add_member(access.org, user, Role.ADMIN)
    session = services.tenancy.sign_in("ada@acme.example", "correct horse battery")
    ingest_many(services, access.org, 1)
    client.cookies.set("auditledger_session", session.token)
    # A session changes things through the API only with its CSRF token (see web/auth.py).
    assert client.post("/api/v1/orgs/acme/checkpoints").status_code == 403
    headers = {"X-CSRF-Token": session.csrf_token}
    assert client.post("/api/v1/orgs/acme/checkpoints", headers=headers).status_code == 201
