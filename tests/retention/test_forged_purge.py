"""A forged purge cannot hide the deletion of an event that had not expired (issue 15, attack 1).

The attacker has the database, not the signing key. They append a consistent
``audit_log.purge`` event at the log's end (through the real append path, as anyone who knows
the format could), add matching ``purges`` and ``purge_attestations`` rows, and delete a recent
event that a signed checkpoint covers. ``verify`` must fail naming that event's seq, and
``GET /retention`` must show the purge's problem.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, text
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.core.expiry import make_proof
from auditledger.core.rowcanon import EVENT_COLUMNS, RowCanonicalizer
from auditledger.retention import policy
from auditledger.retention.records import ranges_json
from auditledger.services import Services
from auditledger.store.schema import purge_proofs, purges
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.event import Actor
from auditledger_client.core.validate import parse_event
from tests.support.helpers import OrgAccess, make_org, sample_event

runner = CliRunner(env={"COLUMNS": "250"})
ADMIN = Actor("user", "ada", "Ada")


def load(services: Services, org_access: OrgAccess, clock: FrozenClock) -> None:
    """Five events 200 days old, five 4 days old (seqs 5-9), signed, then a legit purge."""
    org = org_access.org
    now = clock.now()
    for age in (200, 4):
        when = now - timedelta(days=age)
        drafts = [
            parse_event(sample_event(timestamp=when.isoformat()), received_at=when)
            for _ in range(5)
        ]
        services.ingest.ingest_blocking(org, drafts, when)
    services.checkpoints.ensure_key()
    services.checkpoints.checkpoint(org.id, org.slug)


def delete_event(services: Services, org_id: int, seq: int) -> None:
    with services.db.write() as connection:
        if services.db.is_postgres:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            connection.execute(text("DROP TRIGGER IF EXISTS events_append_only_delete"))
        connection.execute(
            text("DELETE FROM events WHERE org_id = :o AND seq = :s"), {"o": org_id, "s": seq}
        )


def forge_purge(
    services: Services, org_access: OrgAccess, ran_at: datetime, cutoff: datetime, seq: int
) -> uuid.UUID:
    """The attacker's purge of ``seq``: record, attested event at the log's end, removal."""
    org = org_access.org
    purge_id = uuid.uuid4()
    with services.db.write() as connection:
        connection.execute(
            insert(purges).values(
                org_id=org.id,
                purge_id=purge_id,
                ran_at=ran_at,
                cutoff=cutoff,
                count=1,
                ranges=ranges_json([(seq, seq)]),
            )
        )
    services.retention._attest(org, purge_id, ran_at, cutoff, 1, [(seq, seq)])
    return purge_id


def verify(services: Services, tmp_path: Path, saved: str) -> tuple[int, str]:
    key = services.checkpoints.signing_key().verifier.vkey()
    saved_path = tmp_path / "saved.txt"
    saved_path.write_text(saved, encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "verify",
            "--org",
            "acme",
            "--public-key",
            key,
            "--against",
            str(saved_path),
            "--database-url",
            services.settings.database_url,
        ],
        env={"AUDITLEDGER_SIGNING_KEY_FILE": str(services.settings.signing_key_file)},
    )
    return result.exit_code, result.output


def problems(client: TestClient, access: OrgAccess) -> list[str | None]:
    state = client.get("/api/v1/orgs/acme/retention", headers=access.headers(access.member))
    assert state.status_code == 200
    return [p["problem"] for p in state.json()["purges"]]


@pytest.fixture
def acme(services: Services, clock: FrozenClock) -> OrgAccess:
    access = make_org(services, "acme")
    load(services, access, clock)
    return access


@pytest.fixture
def saved(services: Services, acme: OrgAccess) -> str:
    checkpoint = services.checkpoints.repo.latest_checkpoint(acme.org.id)
    assert checkpoint is not None
    assert checkpoint.tree_size == 10
    return checkpoint.note


def test_a_real_purge_verifies_and_has_no_problem(
    services: Services,
    acme: OrgAccess,
    clock: FrozenClock,
    saved: str,
    tmp_path: Path,
    client: TestClient,
) -> None:
    assert services.retention.purge().total == 5
    code, output = verify(services, tmp_path, saved)
    assert code == 0, output
    assert "5 purged by retention (proven)" in output
    assert problems(client, acme) == [None]


def test_a_purge_with_a_cutoff_in_the_future(
    services: Services,
    acme: OrgAccess,
    clock: FrozenClock,
    saved: str,
    tmp_path: Path,
    client: TestClient,
) -> None:
    now = clock.now()
    forge_purge(services, acme, now, now + timedelta(days=1), 7)
    delete_event(services, acme.org.id, 7)
    code, output = verify(services, tmp_path, saved)
    assert code == 1, output
    assert "is after the purge ran" in output
    assert "without proof that it had expired" in output
    assert "seq 7" in output
    (problem,) = problems(client, acme)
    assert problem is not None
    assert "is after the purge ran" in problem


def test_a_purge_within_the_rules_that_removed_a_recent_event(
    services: Services,
    acme: OrgAccess,
    clock: FrozenClock,
    saved: str,
    tmp_path: Path,
    client: TestClient,
) -> None:
    now = clock.now()
    # Time and cutoff exactly as a real purge would choose them: only the range is a lie.
    forge_purge(services, acme, now, policy.cutoff(now, 180), 6)
    delete_event(services, acme.org.id, 6)
    code, output = verify(services, tmp_path, saved)
    assert code == 1, output
    assert "removed by a purge without proof that it had expired" in output
    assert "seq 6" in output
    (problem,) = problems(client, acme)
    assert problem == "it has expiry proofs for 0 of its 1 events"


def test_a_forged_expiry_proof_does_not_lead_to_the_leaf(
    services: Services,
    acme: OrgAccess,
    clock: FrozenClock,
    saved: str,
    tmp_path: Path,
    client: TestClient,
) -> None:
    now = clock.now()
    cutoff = policy.cutoff(now, 180)
    purge_id = forge_purge(services, acme, now, cutoff, 8)
    with services.db.read() as connection:
        row = connection.execute(
            text(
                "SELECT " + ", ".join(EVENT_COLUMNS) + " FROM events WHERE org_id = :o AND seq = 8"
            ),
            {"o": acme.org.id},
        ).one()
    genuine = RowCanonicalizer("acme").canonical_bytes(tuple(row))
    # The real bytes with an old timestamp written in: a proof of a different message.
    old = (now - timedelta(days=300)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    start = genuine.rindex(b'"timestamp":"') + len(b'"timestamp":"')
    forged = genuine[:start] + old.encode() + genuine[start + 27 :]
    proof = make_proof(8, forged)
    with services.db.write() as connection:
        connection.execute(
            insert(purge_proofs).values(
                org_id=acme.org.id,
                seq=8,
                purge_id=purge_id,
                occurred_at=now - timedelta(days=300),
                prefix_len=proof.prefix_len,
                midstate=proof.midstate,
                suffix=proof.suffix,
            )
        )
    delete_event(services, acme.org.id, 8)
    code, output = verify(services, tmp_path, saved)
    assert code == 1, output
    assert "seq 8: expiry proof does not lead to its leaf hash" in output
    assert "rule-breaking purge): seq 8" in output


def test_a_purge_during_a_legal_hold(
    services: Services,
    acme: OrgAccess,
    clock: FrozenClock,
    saved: str,
    tmp_path: Path,
    client: TestClient,
) -> None:
    services.retention.set_legal_hold(acme.org, True, reason="case 1", actor=ADMIN)
    services.tenancy.repo.set_legal_hold(acme.org.id, False, None)  # the attacker lifts it
    code, _ = verify(services, tmp_path, saved)
    assert code == 0
    now = clock.now()
    forge_purge(services, acme, now, policy.cutoff(now, 180), 2)
    code, output = verify(services, tmp_path, saved)
    assert code == 1, output
    assert "it ran while the organization was on legal hold (placed by seq 10)" in output
    (problem,) = problems(client, acme)
    assert problem == "it ran while the organization was on legal hold (placed by seq 10)"


def test_a_cutoff_later_than_the_retention_in_force(
    services: Services,
    acme: OrgAccess,
    clock: FrozenClock,
    saved: str,
    tmp_path: Path,
    client: TestClient,
) -> None:
    services.retention.set_retention(acme.org, 365, actor=ADMIN)
    now = clock.now()
    forge_purge(services, acme, now, policy.cutoff(now, 180), 1)
    delete_event(services, acme.org.id, 1)
    code, output = verify(services, tmp_path, saved)
    assert code == 1, output
    assert "later than the 365-day retention in force allows" in output
    assert "rule-breaking purge): seq 1" in output
