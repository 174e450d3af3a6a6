"""The verifier on intact logs, its report, and the hooks other issues build on."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert

from auditledger.core.checkpoint import Checkpoint, sign_checkpoint
from auditledger.core.keys import SigningKey
from auditledger.integrity.source import open_source
from auditledger.integrity.verify import SavedCheckpoint, SeqRanges, verify_log
from auditledger.services import Services
from auditledger.store.schema import events
from auditledger.tenancy.model import Organization
from tests.support.helpers import make_org
from tests.support.integrity import event_row, ingest_many, tampering, verify


@pytest.fixture
def org(services: Services) -> Organization:
    services.checkpoints.ensure_key()
    return make_org(services).org


def test_an_intact_log_verifies_across_pages(services: Services, org: Organization) -> None:
    for count in (3, 4, 9):
        ingest_many(services, org, count)
        services.checkpoints.checkpoint(org.id, org.slug)
    progress: list[tuple[int, int]] = []
    with open_source(services.db, org.id) as source:
        report = verify_log(
            source,
            org_slug=org.slug,
            origin=services.checkpoints.origin(org.slug),
            verifiers=services.checkpoints.verifiers(),
            progress=lambda done, total: progress.append((done, total)),
            page_size=5,  # several pages, and checkpoints inside and at the ends of pages
        )
    assert report.ok, [f.describe() for f in report.findings]
    assert (report.tree_size, report.events_checked, report.checkpoints_checked) == (16, 16, 3)
    assert progress == [(5, 16), (10, 16), (15, 16), (16, 16)]


def test_an_empty_log_verifies(services: Services, org: Organization) -> None:
    report = verify(services, org)
    assert report.ok
    assert report.tree_size == 0


def test_events_removed_by_retention_are_not_reported(
    services: Services, org: Organization
) -> None:
    ingest_many(services, org, 10)
    with tampering(services) as connection:  # what a purge does, without the authorization
        connection.execute(delete(events).where(events.c.org_id == org.id, events.c.seq < 4))
    with open_source(services.db, org.id) as source:
        report = verify_log(
            source,
            org_slug=org.slug,
            origin=services.checkpoints.origin(org.slug),
            verifiers=services.checkpoints.verifiers(),
            purged=lambda seq, *_: seq < 3,  # the retention issue will say which were purged
        )
    assert report.seqs("missing") == [3]


def test_a_saved_checkpoint_the_log_contains_is_fine(services: Services, org: Organization) -> None:
    ingest_many(services, org, 6)
    saved, _ = services.checkpoints.checkpoint(org.id, org.slug)
    ingest_many(services, org, 6)
    assert verify(services, org, against=[SavedCheckpoint("a.txt", saved.note)]).ok


def test_saved_checkpoints_of_another_log_or_key_are_reported(
    services: Services, org: Organization
) -> None:
    ingest_many(services, org, 3)
    key = services.checkpoints.signing_key()
    head = services.log.head(org.id)
    other_log = sign_checkpoint(Checkpoint("auditledger.local/globex", 3, head.root_hash), key)
    stranger = SigningKey("auditledger.local", Ed25519PrivateKey.generate())
    other_key = sign_checkpoint(Checkpoint("auditledger.local/acme", 3, head.root_hash), stranger)
    report = verify(
        services,
        org,
        against=[SavedCheckpoint("other-log.txt", other_log), SavedCheckpoint("k.txt", other_key)],
    )
    messages = [f.describe() for f in report.findings]
    assert [f.kind for f in report.findings] == ["against_signature", "against_signature"]
    assert "other-log.txt" in messages[0]
    assert "not of 'auditledger.local/acme'" in messages[0]
    assert "no signature from a trusted key" in messages[1]


def test_seq_ranges_group_and_describe() -> None:
    ranges = SeqRanges()
    for seq in [3, 7, 8, 9, 10, 20, 20, 21]:
        ranges.add(seq)
    assert ranges.ranges == [[3, 4], [7, 11], [20, 22]]
    assert ranges.describe() == "3, 7-10, 20-21"
    assert len(ranges) == 7
    many = SeqRanges()
    for seq in range(0, 100, 2):
        many.add(seq)
    assert many.describe(limit=3) == "0, 2, 4, and 47 more ranges"


def test_a_forged_row_beside_a_deleted_one_is_still_found(
    services: Services, org: Organization
) -> None:
    # One extra row and one missing row leave the page's row count right: the verifier must
    # not take the page for an intact one.
    ingest_many(services, org, 10)
    with tampering(services) as connection:
        forged = event_row(connection, org.id, 5)
        forged.update(
            event_id=uuid.uuid4(), occurred_at=forged["occurred_at"] + timedelta(seconds=1)
        )
        connection.execute(insert(events).values(forged))
        connection.execute(delete(events).where(events.c.org_id == org.id, events.c.seq == 6))
    report = verify(services, org)
    assert report.seqs("duplicate") == [5]
    assert report.seqs("altered") == [5]
    assert report.seqs("missing") == [6]
