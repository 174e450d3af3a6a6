"""After a purge, `auditledger verify` passes and says how many events retention removed;
an event deleted any other way, or "covered" by a forged purge record, is still reported."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.services import Services
from auditledger.tenancy.model import Organization
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.validate import parse_event
from tests.support.helpers import sample_event

runner = CliRunner(env={"COLUMNS": "200"})


def load_and_purge(services: Services, clock: FrozenClock) -> Organization:
    org = services.tenancy.create_org("acme", "Acme")
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    for day in (0, 1, 2, 300):  # three days that expire, one that stays
        when = start + timedelta(days=day)
        drafts = [
            parse_event(sample_event(timestamp=when.isoformat()), received_at=when)
            for _ in range(5)
        ]
        services.ingest.ingest_blocking(org, drafts, when)
    services.checkpoints.ensure_key()
    services.checkpoints.checkpoint(org.id, org.slug)  # signed before the purge
    clock.set(datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert services.retention.purge().total == 15
    services.checkpoints.checkpoint(org.id, org.slug)  # and after
    return org


def verify(services: Services) -> tuple[int, str]:
    result = runner.invoke(
        app,
        ["verify", "--org", "acme", "--database-url", services.settings.database_url],
        env={"AUDITLEDGER_SIGNING_KEY_FILE": str(services.settings.signing_key_file)},
    )
    return result.exit_code, result.output


@pytest.mark.slow
def test_a_purged_log_verifies(services: Services, clock: FrozenClock) -> None:
    load_and_purge(services, clock)
    code, output = verify(services)
    assert code == 0, output
    assert "15 purged by retention (proven)" in output


@pytest.mark.slow
def test_a_deletion_outside_retention_is_still_missing(
    services: Services, clock: FrozenClock
) -> None:
    org = load_and_purge(services, clock)
    head = services.log.head(org.id).tree_size
    with services.db.write() as connection:
        if services.db.is_postgres:
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER events_append_only_delete"))
        connection.execute(text("DELETE FROM events WHERE org_id = :o AND seq = 17"), {"o": org.id})
    assert head > 17
    code, output = verify(services)
    assert code == 1
    assert "event missing (not covered by a purge): seq 17" in output


@pytest.mark.slow
def test_a_forged_purge_record_covers_nothing(services: Services, clock: FrozenClock) -> None:
    org = load_and_purge(services, clock)
    with services.db.write() as connection:
        if services.db.is_postgres:
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER events_append_only_delete"))
        connection.execute(text("DELETE FROM events WHERE org_id = :o AND seq = 16"), {"o": org.id})
        # An attacker with the database writes a purge record for the event they removed.
        connection.execute(
            text(
                "INSERT INTO purges (org_id, purge_id, ran_at, cutoff, count, ranges) "
                "VALUES (:o, :p, :t, :t, 1, :r)"
            ),
            {
                "o": org.id,
                "p": uuid.uuid4().hex if not services.db.is_postgres else uuid.uuid4(),
                "t": 1_780_000_000_000_000 if not services.db.is_postgres else datetime.now(UTC),
                "r": json.dumps([[16, 16]]),
            },
        )
    code, output = verify(services)
    assert code == 1
    assert "event missing (not covered by a purge): seq 16" in output
    assert "not yet attested" in output


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 1, 1, 9, tzinfo=UTC))


@pytest.mark.slow
def test_leaves_from_before_ingest_time_proofs_are_proven_by_the_purge(
    services: Services, clock: FrozenClock
) -> None:
    # A log written before migration 0009: its leaves keep no expiry proof, so the purge
    # computes each from the row it removes (purge_proofs), and verify accepts those.
    org = services.tenancy.create_org("acme", "Acme")
    when = datetime(2026, 1, 1, 9, tzinfo=UTC)
    drafts = [
        parse_event(sample_event(timestamp=when.isoformat()), received_at=when) for _ in range(6)
    ]
    services.ingest.ingest_blocking(org, drafts, when)
    with services.db.write() as connection:
        if services.db.is_postgres:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            connection.execute(text("DROP TRIGGER leaves_append_only_update"))
        connection.execute(
            text(
                "UPDATE leaves SET expiry_prefix_len = NULL, expiry_midstate = NULL, "
                "expiry_suffix = NULL WHERE org_id = :o AND seq < 4"
            ),
            {"o": org.id},
        )
        if not services.db.is_postgres:  # put the guard back as migration 0001 made it
            connection.execute(
                text(
                    "CREATE TRIGGER leaves_append_only_update BEFORE UPDATE ON leaves "
                    "BEGIN SELECT RAISE(ABORT, 'auditledger: leaves are append-only'); END"
                )
            )
    services.checkpoints.ensure_key()
    services.checkpoints.checkpoint(org.id, org.slug)
    clock.set(datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert services.retention.purge().total == 6
    with services.db.read() as connection:
        stored = connection.execute(
            text("SELECT seq FROM purge_proofs WHERE org_id = :o ORDER BY seq"), {"o": org.id}
        ).scalars()
        assert list(stored) == [0, 1, 2, 3]  # only the leaves without a proof of their own
    code, output = verify(services)
    assert code == 0, output
    assert "6 purged by retention (proven)" in output
