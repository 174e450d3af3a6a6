"""Wiring: build every service of one process from its settings, with injectable parts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from auditledger.export.service import ExportService
from auditledger.ingest.service import IngestService
from auditledger.ingest.writer import GroupCommitWriter
from auditledger.integrity.checkpointer import CheckpointService
from auditledger.integrity.cosigning import CosigningService
from auditledger.integrity.keyfile import KeyFile
from auditledger.integrity.proofs import ProofService
from auditledger.integrity.repository import IntegrityRepository
from auditledger.integrity.rollback import RollbackGuard
from auditledger.integrity.witness import WitnessStore
from auditledger.ops.metrics import Metrics
from auditledger.ops.scheduler import Job, Scheduler
from auditledger.retention.purge import RetentionService
from auditledger.settings import Settings
from auditledger.source.location import Locator, make_locator
from auditledger.store.database import Database
from auditledger.store.log import SqlEventLog
from auditledger.streaming.repository import DestinationRepository
from auditledger.streaming.service import DestinationService
from auditledger.streaming.status import StreamCollector
from auditledger.streaming.worker import Deliverer, wall_clock
from auditledger.tenancy.repository import TenancyRepository
from auditledger.tenancy.service import TenancyService
from auditledger_client.core.catalog import SEED, Catalog
from auditledger_client.core.catalog.extensions import load_extensions
from auditledger_client.core.clock import Clock, SystemClock


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
    export: ExportService
    retention: RetentionService
    checkpoints: CheckpointService
    proofs: ProofService
    destinations: DestinationService
    rollback: RollbackGuard
    cosigning: CosigningService
    # The seed's catalog plus the deployment's extensions (settings.catalog_extensions).
    catalog: Catalog = SEED
    scheduler: Scheduler | None = None
    deliverer: Deliverer | None = None
    _started: bool = field(default=False, repr=False)

    def start(self) -> None:
        """Start the group-commit writer."""
        if not self._started:
            self.writer.start()
            self._started = True

    def start_background_jobs(self) -> None:
        """Start what a server runs on its own: scheduled purges and housekeeping."""
        if self.scheduler is None:
            self.scheduler = Scheduler(
                [
                    Job(
                        "retention purge",
                        self.settings.purge_interval,
                        self._scheduled_purge,
                        delay=30,
                    ),
                    Job(
                        "session cleanup",
                        3600,
                        lambda: self.tenancy.repo.delete_expired_sessions(self.clock.now()),
                    ),
                ]
            )
            self.scheduler.start()
        if self.settings.stream_workers:
            self.start_deliverer()

    def make_deliverer(self) -> Deliverer:
        """A deliverer of every streaming destination, from this process's settings."""
        return Deliverer(
            self.db,
            self.destinations.repo,
            self.tenancy.repo,
            self.checkpoints,
            batch_events=self.settings.stream_batch_events,
            max_attempts=self.settings.stream_max_attempts,
            lease_seconds=self.settings.stream_lease_seconds,
            allowed_networks=self.settings.stream_allowed_networks,
        )

    def start_deliverer(self) -> None:
        """Stream destinations from this process (several processes share them by lease)."""
        if self.deliverer is None:
            self.deliverer = self.make_deliverer()
            self.deliverer.start()

    def _scheduled_purge(self) -> None:
        self.retention.backfill_attestations()
        self.retention.purge()

    def stop(self) -> None:
        """Stop background jobs, commit what is queued, close connections."""
        if self.deliverer is not None:
            self.deliverer.stop()
            self.deliverer = None
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
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
    """Services for ``settings``. Tests inject a frozen clock, a fixed locator or an id source.

    A catalog extension file that is not valid raises
    :class:`~auditledger_client.core.catalog.extensions.CatalogExtensionError` here, at start.
    """
    catalog = SEED
    if settings.catalog_extensions is not None:
        catalog = load_extensions(settings.catalog_extensions)
    clock = clock or SystemClock()
    db = db or Database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_seconds * 1000)
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
        TenancyRepository(db),
        clock,
        session_ttl=timedelta(hours=settings.session_hours),
        session_idle=timedelta(minutes=settings.session_idle_minutes),
        cache_seconds=settings.credential_cache_seconds,
    )
    ingest = IngestService(
        writer,
        locator,
        clock,
        retention_days=settings.retention_days,
        retention_floor_days=settings.retention_floor_days,
        new_id=new_id,
    )
    retention = RetentionService(
        db,
        tenancy,
        ingest,
        clock,
        default_days=settings.retention_days,
        floor_days=settings.retention_floor_days,
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
    checkpoints.on_signed = metrics.checkpoints.inc
    proofs = ProofService(db, integrity)
    rollback = RollbackGuard(checkpoints, on_change=lambda behind: metrics.rolled_back.set(behind))
    cosigning = CosigningService(
        db,
        integrity,
        settings.witnesses,
        settings.witnesses_required,
        clock,
        timeout=settings.witness_timeout_seconds,
    )
    cosigning.on_cosigned = lambda name: metrics.witness_cosignatures.labels(name).inc()
    cosigning.on_failure = lambda name: metrics.witness_failures.labels(name).inc()
    cosigning.on_quorum_missing = metrics.witness_quorum_missing.set
    ingest.gate = rollback.refuse_if_rolled_back
    export = ExportService(db, ingest, checkpoints, cosigning)
    destination_repo = DestinationRepository(db)
    destinations = DestinationService(
        destination_repo,
        event_log,
        ingest,
        clock,
        allowed_networks=settings.stream_allowed_networks,
    )
    metrics.registry.register(StreamCollector(db, destination_repo, wall_clock))
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
        export,
        retention,
        checkpoints,
        proofs,
        destinations,
        rollback,
        cosigning,
        catalog,
    )
