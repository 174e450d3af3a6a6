"""The forged-purge scene (issue 15, attack 1): a signed log and an attacker who holds the
database but not the signing key.

The log holds five events 200 days old (seqs 0-4) and five 4 days old (seqs 5-9), covered by
a signed checkpoint of size 10 that an auditor saved. The attacker forges purges through the
real append path (as anyone who knows the format could), deletes events past the triggers,
and the scene runs ``auditledger verify`` and reads ``GET /retention`` as the auditor would.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert, text
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.retention.records import ranges_json
from auditledger.services import Services
from auditledger.store.schema import purges
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.validate import parse_event
from tests.support.helpers import OrgAccess, make_org, sample_event

_runner = CliRunner(env={"COLUMNS": "250"})


@dataclass
class ForgedPurgeScene:
    """The signed log of organization ``acme``, the auditor's saved checkpoint, and what the
    attacker and the auditor do to it."""

    services: Services
    access: OrgAccess
    clock: FrozenClock
    client: TestClient
    workdir: Path
    saved: str  # the auditor's copy of checkpoint 10

    @classmethod
    def build(
        cls, services: Services, clock: FrozenClock, client: TestClient, workdir: Path
    ) -> ForgedPurgeScene:
        """Load the log, sign it and save its checkpoint."""
        access = make_org(services, "acme")
        now = clock.now()
        for age in (200, 4):
            when = now - timedelta(days=age)
            drafts = [
                parse_event(sample_event(timestamp=when.isoformat()), received_at=when)
                for _ in range(5)
            ]
            services.ingest.ingest_blocking(access.org, drafts, when)
        services.checkpoints.ensure_key()
        services.checkpoints.checkpoint(access.org.id, access.org.slug)
        checkpoint = services.checkpoints.repo.latest_checkpoint(access.org.id)
        assert checkpoint is not None
        assert checkpoint.tree_size == 10
        return cls(services, access, clock, client, workdir, checkpoint.note)

    @property
    def now(self) -> datetime:
        """The scene's frozen time."""
        return self.clock.now()

    def delete_event(self, seq: int) -> None:
        """The attacker removes one event, past the append-only trigger."""
        with self.services.db.write() as connection:
            if self.services.db.is_postgres:
                connection.execute(text("SET LOCAL session_replication_role = replica"))
            else:
                connection.execute(text("DROP TRIGGER IF EXISTS events_append_only_delete"))
            connection.execute(
                text("DELETE FROM events WHERE org_id = :o AND seq = :s"),
                {"o": self.access.org.id, "s": seq},
            )

    def forge_purge(self, ran_at: datetime, cutoff: datetime, seq: int) -> uuid.UUID:
        """The attacker's purge of ``seq``: a record, and its attesting purge event appended at
        the log's end (the event is not removed here: see :meth:`delete_event`)."""
        org = self.access.org
        purge_id = uuid.uuid4()
        with self.services.db.write() as connection:
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
        self.services.retention._attest(org, purge_id, ran_at, cutoff, 1, [(seq, seq)])
        return purge_id

    def verify(self) -> tuple[int, str]:
        """``auditledger verify`` with the public key and the saved checkpoint: (exit code,
        output)."""
        services = self.services
        key = services.checkpoints.signing_key().verifier.vkey()
        saved_path = self.workdir / "saved.txt"
        saved_path.write_text(self.saved, encoding="utf-8")
        result = _runner.invoke(
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

    def problems(self) -> list[str | None]:
        """The ``problem`` of each purge ``GET /retention`` lists, as a member sees them."""
        access = self.access
        state = self.client.get(
            "/api/v1/orgs/acme/retention", headers=access.headers(access.member)
        )
        assert state.status_code == 200
        return [p["problem"] for p in state.json()["purges"]]
