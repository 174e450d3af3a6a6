"""Every stored witness cosignature is checked by ``verify``, with or without a witness policy.

Someone who can write to the database can add, alter or mis-attribute rows of
``cosignatures``, which the server then serves as signature lines of its checkpoints. Each
case edits one column (or adds a row) with raw SQL past the append-only triggers, on SQLite and
PostgreSQL, and ``verify`` must fail with a ``cosignature_row`` finding naming the checkpoint.

The scene: ``acme`` has checkpoints 10 and 20, cosigned by W1 (a witness the deployment is
configured with, so its key is known) at 20 and by W2 (a witness it does not know) at 10 and
20; ``globex`` has a checkpoint 20 too, with no cosignatures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.core.cosignature import Cosignature, cosign, witness_key_of
from auditledger.core.keys import SigningKey
from auditledger.core.note import parse_note
from auditledger.integrity.verify import VerifyReport
from auditledger.services import Services
from auditledger.settings import Settings, WitnessEndpoint
from auditledger.tenancy.model import Organization
from tests.support.helpers import make_org
from tests.support.integrity import ingest_many, tampering, verify

W1 = SigningKey("w1.example/witness", Ed25519PrivateKey.generate())
W2 = SigningKey("w2.example/witness", Ed25519PrivateKey.generate())
STRANGER = SigningKey("w1.example/witness", Ed25519PrivateKey.generate())  # W1's name only
COSIGNED_AT = 1_780_000_000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The deployment asks W1 (never reached here: the rows are written directly)."""
    return settings.replace(witnesses=(WitnessEndpoint("http://127.0.0.1:9", witness_key_of(W1)),))


@dataclass
class Scene:
    services: Services
    acme: Organization
    globex: Organization

    def text(self, org: Organization, size: int) -> str:
        stored = self.services.checkpoints.repo.checkpoint_at(org.id, size)
        assert stored is not None
        return parse_note(stored.note).text

    def line(self, key: SigningKey, org: Organization, size: int) -> str:
        return cosign(key, self.text(org, size), COSIGNED_AT).line()

    def store(self, key: SigningKey, org: Organization, size: int) -> None:
        line = self.line(key, org, size)
        now = self.services.clock.now()
        repo = self.services.checkpoints.repo
        assert repo.insert_cosignature(org.id, size, witness_key_of(key), COSIGNED_AT, line, now)

    def edit(self, size: int, key: SigningKey, column: str, value: Any) -> None:
        """Set one column of the acme row of ``key``'s cosignature of ``size``."""
        with tampering(self.services) as connection:
            changed = connection.execute(
                text(
                    f"UPDATE cosignatures SET {column} = :value "  # a fixed column name
                    "WHERE org_id = :org AND tree_size = :size AND witness_name = :name "
                    "AND key_id = :key_id"
                ),
                {
                    "value": value,
                    "org": self.acme.id,
                    "size": size,
                    "name": key.name,
                    "key_id": witness_key_of(key).key_id_hex,
                },
            )
            assert changed.rowcount == 1

    def add(self, org: Organization, size: int, name: str, key_id: str, line: str) -> None:
        """A row written straight into the table (the triggers refuse changes, not inserts)."""
        with self.services.db.write() as connection:
            connection.execute(
                text(
                    "INSERT INTO cosignatures (org_id, tree_size, witness_name, key_id, "
                    "cosigned_at, line, received_at) VALUES (:org, :size, :name, :key_id, "
                    ":at, :line, :now)"
                ),
                {
                    "org": org.id,
                    "size": size,
                    "name": name,
                    "key_id": key_id,
                    "at": COSIGNED_AT,
                    "line": line,
                    "now": datetime(2026, 11, 25, tzinfo=UTC),
                },
            )


@pytest.fixture
def scene(services: Services) -> Scene:
    services.checkpoints.ensure_key()
    acme = make_org(services, "acme").org
    globex = make_org(services, "globex").org
    for org in (acme, globex):
        ingest_many(services, org, 10)
        if org is acme:
            services.checkpoints.checkpoint(org.id, org.slug)
        ingest_many(services, org, 10)
        services.checkpoints.checkpoint(org.id, org.slug)
    built = Scene(services, acme, globex)
    built.store(W2, acme, 10)
    built.store(W1, acme, 20)
    built.store(W2, acme, 20)
    both = [witness_key_of(W1), witness_key_of(W2)]
    assert verify(services, acme).ok
    assert verify(services, acme, witnesses=both, witnesses_required=2).ok
    assert verify(services, globex).ok
    return built


def row_findings(report: VerifyReport) -> list[tuple[int | None, str]]:
    return [(f.checkpoint, f.message) for f in report.findings if f.kind == "cosignature_row"]


def only_row_finding(report: VerifyReport, size: int, says: str) -> None:
    """The report fails on exactly one finding: a cosignature row of checkpoint ``size``."""
    assert not report.ok
    assert [f.kind for f in report.findings] == ["cosignature_row"], report.findings
    [(checkpoint, message)] = row_findings(report)
    assert checkpoint == size
    assert says in message, message


def test_an_altered_witness_name_is_reported(scene: Scene) -> None:
    scene.edit(20, W1, "witness_name", "w9.example/witness")
    report = verify(scene.services, scene.acme)
    only_row_finding(report, 20, "witness_name column holds 'w9.example/witness'")


def test_an_altered_key_id_is_reported(scene: Scene) -> None:
    scene.edit(20, W2, "key_id", "00000000")
    only_row_finding(verify(scene.services, scene.acme), 20, "key_id column holds '00000000'")


def test_an_altered_cosigning_time_is_reported(scene: Scene) -> None:
    scene.edit(20, W2, "cosigned_at", COSIGNED_AT + 1)
    only_row_finding(verify(scene.services, scene.acme), 20, "cosigned_at column")


def test_a_cosignature_moved_to_a_size_without_checkpoint_is_reported(scene: Scene) -> None:
    scene.edit(20, W2, "tree_size", 15)
    report = verify(scene.services, scene.acme)
    only_row_finding(report, 15, "no checkpoint of size 15")


def test_a_cosignature_moved_to_another_checkpoint_fails_its_signature(scene: Scene) -> None:
    # W1's cosignature of 20 claimed for checkpoint 10: every column still matches its line.
    scene.edit(20, W1, "tree_size", 10)
    report = verify(scene.services, scene.acme)
    only_row_finding(report, 10, "does not verify")


@pytest.mark.slow
def test_a_cosignature_moved_to_another_organization_fails_its_signature(scene: Scene) -> None:
    scene.edit(20, W1, "org_id", scene.globex.id)
    assert verify(scene.services, scene.acme).ok  # one fewer cosignature is no lie
    only_row_finding(verify(scene.services, scene.globex), 20, "does not verify")


def test_another_witness_line_under_a_row_is_reported(scene: Scene) -> None:
    # W2's genuine line served as W1's: the row says W1, the line says W2.
    scene.edit(20, W1, "line", scene.line(W2, scene.acme, 20))
    report = verify(scene.services, scene.acme)
    only_row_finding(report, 20, "witness_name column holds 'w1.example/witness'")


def test_a_forged_line_of_a_known_witness_is_reported(scene: Scene) -> None:
    signed = cosign(STRANGER, scene.text(scene.acme, 20), COSIGNED_AT)
    forged = Cosignature(W1.name, witness_key_of(W1).key_id, COSIGNED_AT, signed.signature)
    scene.edit(20, W1, "line", forged.line())
    only_row_finding(verify(scene.services, scene.acme), 20, "does not verify")


def test_a_line_that_is_no_signature_line_is_reported(scene: Scene) -> None:
    scene.edit(20, W2, "line", "not a signature line\n")
    only_row_finding(verify(scene.services, scene.acme), 20, "is not a signature line")


def test_an_added_cosignature_of_nothing_is_reported(scene: Scene) -> None:
    line = scene.line(W2, scene.acme, 20)
    scene.add(scene.acme, 99, W2.name, witness_key_of(W2).key_id_hex, line)
    only_row_finding(verify(scene.services, scene.acme), 99, "no checkpoint of size 99")


def test_a_forged_row_of_an_unknown_witness_fails_once_its_key_is_pinned(scene: Scene) -> None:
    # W2 is not configured: its forged line can only be told apart with its key.
    signed = cosign(STRANGER, scene.text(scene.acme, 20), COSIGNED_AT)
    forged = Cosignature(W2.name, witness_key_of(W2).key_id, COSIGNED_AT, signed.signature)
    scene.edit(20, W2, "line", forged.line())
    assert verify(scene.services, scene.acme).ok
    pinned = verify(scene.services, scene.acme, witnesses=[witness_key_of(W2)])
    only_row_finding(
        pinned, 20, f"does not verify with the witness key {witness_key_of(W2).vkey()}"
    )


def test_each_bad_row_is_a_finding_of_its_own(scene: Scene) -> None:
    scene.edit(10, W2, "cosigned_at", 7)
    scene.edit(20, W2, "witness_name", "w9.example/witness")
    scene.edit(20, W1, "line", "— w1.example/witness AAAA\n")
    report = verify(scene.services, scene.acme)
    assert [checkpoint for checkpoint, _ in row_findings(report)] == [10, 20, 20]
    assert {f.kind for f in report.findings} == {"cosignature_row"}


def test_a_required_witness_counts_only_sound_rows(scene: Scene) -> None:
    signed = cosign(STRANGER, scene.text(scene.acme, 20), COSIGNED_AT)
    forged = Cosignature(W1.name, witness_key_of(W1).key_id, COSIGNED_AT, signed.signature)
    scene.edit(20, W1, "line", forged.line())
    report = verify(
        scene.services, scene.acme, witnesses=[witness_key_of(W1)], witnesses_required=1
    )
    assert [f.kind for f in report.findings] == ["cosignature_row", "witnesses"]
    assert report.checkpoints("witnesses") == [20]


def test_the_verify_command_fails_on_a_bad_row_without_witness_options(
    scene: Scene, tmp_path: Path
) -> None:
    # Added, not edited: the triggers stay, so this row is the only thing wrong.
    line = scene.line(W2, scene.acme, 20)
    scene.add(scene.acme, 20, W2.name, "00000000", line)
    services = scene.services
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app,
        [
            "verify",
            "--org",
            "acme",
            "--public-key",
            services.checkpoints.signing_key().verifier.vkey(),
            "--database-url",
            services.settings.database_url,
        ],
        env={"AUDITLEDGER_SIGNING_KEY_FILE": str(services.settings.signing_key_file)},
    )
    assert result.exit_code == 1, result.output
    findings = [line for line in result.output.splitlines() if line.startswith("  - ")]
    assert len(findings) == 1, result.output
    assert "cosignature of checkpoint 20 by w2.example/witness+00000000" in findings[0]
    assert "key_id column holds '00000000'" in findings[0]
