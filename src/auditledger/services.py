"""Wiring: build every service of one process from its settings, with injectable parts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from auditledger.clock import Clock, SystemClock
from auditledger.ingest.service import IngestService
from auditledger.ingest.writer import GroupCommitWriter
from auditledger.integrity.checkpointer import CheckpointService
from auditledger.integrity.keyfile import KeyFile
from auditledger.integrity.proofs import ProofService
from auditledger.integrity.repository import IntegrityRepository
from auditledger.integrity.witness import WitnessStore
from auditledger.ops.metrics import Metrics
from auditledger.settings import Settings
from auditledger.source.location import Locator, make_locator
from auditledger.store.database import Database
from auditledger.store.log import SqlEventLog
from auditledger.tenancy.repository import TenancyRepository
from auditledger.tenancy.service import TenancyService


@dataclass
class Services:
    """Everything a server process (or a CLI command) works with."""

    settings: Settings
    db: Database
    clock: Clock
    metrics: Metrics
    locator: Locator
    log: SqlEventLog
    tenancy: TenancyService
    writer: GroupCommitWriter
    ingest: IngestService
    checkpoints: CheckpointService
    proofs: ProofService
    _started: bool = field(default=False, repr=False)

    def start(self) -> None:
        """Start background work (the group-commit writer)."""
        if not self._started:
            self.writer.start()
            self._started = True

    def stop(self) -> None:
        """Commit what is queued, stop background work and close connections."""
        if self._started:
            self.writer.stop()
            self._started = False
        self.db.dispose()


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    locator: Locator | None = None,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    db: Database | None = None,
) -> Services:
    """Services for ``settings``. Tests inject a frozen clock, a fixed locator or an id source."""
    clock = clock or SystemClock()
    db = db or Database(settings.database_url)
    metrics = Metrics()
    locator = locator or make_locator(settings.geoip_database)
    event_log = SqlEventLog(db)
    writer = GroupCommitWriter(
        event_log,
        metrics,
        capacity_events=settings.ingest_queue_events,
        max_commit_events=settings.commit_max_events,
    )
    tenancy = TenancyService(
        TenancyRepository(db), clock, session_ttl=timedelta(hours=settings.session_hours)
    )
    ingest = IngestService(
        writer,
        locator,
        clock,
        retention_days=settings.retention_days,
        retention_floor_days=settings.retention_floor_days,
        new_id=new_id,
    )
    integrity = IntegrityRepository(db)
    checkpoints = CheckpointService(
        db,
        integrity,
        KeyFile(settings.signing_key_file, settings.log_origin),
        WitnessStore(settings.witness_dir),
        clock,
        settings.log_origin,
    )
    proofs = ProofService(db, integrity)
    return Services(
        settings,
        db,
        clock,
        metrics,
        locator,
        event_log,
        tenancy,
        writer,
        ingest,
        checkpoints,
        proofs,
    )
