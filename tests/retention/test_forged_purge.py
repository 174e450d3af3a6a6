"""A forged purge cannot hide the deletion of an event that had not expired (issue 15, attack 1).

The attacker has the database, not the signing key. They append a consistent
``audit_log.purge`` event at the log's end (through the real append path, as anyone who knows
the format could), add matching ``purges`` and ``purge_attestations`` rows, and delete a recent
event that a signed checkpoint covers. ``verify`` must fail naming that event's seq, and
``GET /retention`` must show the purge's problem. The scene (log, saved checkpoint, the
attacker's moves) is ``tests.support.forgery``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, text

from auditledger.core.expiry import make_proof
from auditledger.core.rowcanon import EVENT_COLUMNS, RowCanonicalizer
from auditledger.retention import policy
from auditledger.services import Services
from auditledger.store.schema import purge_proofs
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.event import Actor
from tests.support.forgery import ForgedPurgeScene

ADMIN = Actor("user", "ada", "Ada")


@pytest.fixture
def scene(
    services: Services, clock: FrozenClock, client: TestClient, tmp_path: Path
) -> ForgedPurgeScene:
    return ForgedPurgeScene.build(services, clock, client, tmp_path)


def test_a_real_purge_verifies_and_has_no_problem(scene: ForgedPurgeScene) -> None:
    assert scene.services.retention.purge().total == 5
    code, output = scene.verify()
    assert code == 0, output
    assert "5 purged by retention (proven)" in output
    assert scene.problems() == [None]


def test_a_purge_with_a_cutoff_in_the_future(scene: ForgedPurgeScene) -> None:
    now = scene.now
    scene.forge_purge(now, now + timedelta(days=1), 7)
    scene.delete_event(7)
    code, output = scene.verify()
    assert code == 1, output
    assert "is after the purge ran" in output
    assert "without proof that it had expired" in output
    assert "seq 7" in output
    (problem,) = scene.problems()
    assert problem is not None
    assert "is after the purge ran" in problem


def test_a_purge_within_the_rules_that_removed_a_recent_event(scene: ForgedPurgeScene) -> None:
    now = scene.now
    # Time and cutoff exactly as a real purge would choose them: only the range is a lie.
    scene.forge_purge(now, policy.cutoff(now, 180), 6)
    scene.delete_event(6)
    code, output = scene.verify()
    assert code == 1, output
    assert "removed by a purge without proof that it had expired" in output
    assert "seq 6" in output
    (problem,) = scene.problems()
    assert problem == "it has expiry proofs for 0 of its 1 events"


def test_a_forged_expiry_proof_does_not_lead_to_the_leaf(scene: ForgedPurgeScene) -> None:
    now = scene.now
    cutoff = policy.cutoff(now, 180)
    purge_id = scene.forge_purge(now, cutoff, 8)
    with scene.services.db.read() as connection:
        row = connection.execute(
            text(
                "SELECT " + ", ".join(EVENT_COLUMNS) + " FROM events WHERE org_id = :o AND seq = 8"
            ),
            {"o": scene.access.org.id},
        ).one()
    genuine = RowCanonicalizer("acme").canonical_bytes(tuple(row))
    # The real bytes with an old timestamp written in: a proof of a different message.
    old = (now - timedelta(days=300)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    start = genuine.rindex(b'"timestamp":"') + len(b'"timestamp":"')
    forged = genuine[:start] + old.encode() + genuine[start + 27 :]
    proof = make_proof(8, forged)
    with scene.services.db.write() as connection:
        connection.execute(
            insert(purge_proofs).values(
                org_id=scene.access.org.id,
                seq=8,
                purge_id=purge_id,
                occurred_at=now - timedelta(days=300),
                prefix_len=proof.prefix_len,
                midstate=proof.midstate,
                suffix=proof.suffix,
            )
        )
    scene.delete_event(8)
    code, output = scene.verify()
    assert code == 1, output
    assert "seq 8: expiry proof does not lead to its leaf hash" in output
    assert "rule-breaking purge): seq 8" in output


def test_a_purge_during_a_legal_hold(scene: ForgedPurgeScene) -> None:
    scene.services.retention.set_legal_hold(scene.access.org, True, reason="case 1", actor=ADMIN)
    # The attacker lifts it.
    scene.services.tenancy.repo.set_legal_hold(scene.access.org.id, False, None)
    code, _ = scene.verify()
    assert code == 0
    now = scene.now
    scene.forge_purge(now, policy.cutoff(now, 180), 2)
    code, output = scene.verify()
    assert code == 1, output
    assert "it ran while the organization was on legal hold (placed by seq 10)" in output
    (problem,) = scene.problems()
    assert problem == "it ran while the organization was on legal hold (placed by seq 10)"


def test_a_cutoff_later_than_the_retention_in_force(scene: ForgedPurgeScene) -> None:
    scene.services.retention.set_retention(scene.access.org, 365, actor=ADMIN)
    now = scene.now
    scene.forge_purge(now, policy.cutoff(now, 180), 1)
    scene.delete_event(1)
    code, output = scene.verify()
    assert code == 1, output
    assert "later than the 365-day retention in force allows" in output
    assert "rule-breaking purge): seq 1" in output
