"""Prometheus metrics. Each app has its own registry, so tests can build many apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """The metrics auditledger exports on ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events_accepted = Counter(
            "auditledger_events_accepted",
            "Events durably committed (new, not duplicates).",
            registry=self.registry,
        )
        self.events_duplicate = Counter(
            "auditledger_events_duplicate",
            "Events re-sent with an id already stored with the same content.",
            registry=self.registry,
        )
        self.events_rejected = Counter(
            "auditledger_events_rejected",
            "Ingest requests refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "auditledger_commit_seconds",
            "Time to write and commit one group of events.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.commit_events = Histogram(
            "auditledger_commit_events",
            "Events per group commit.",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
            registry=self.registry,
        )
        self.commit_failures = Counter(
            "auditledger_commit_failures",
            "Group commits that failed (every request in them got an error).",
            registry=self.registry,
        )
        self.queue_events = Gauge(
            "auditledger_ingest_queue_events",
            "Events waiting for a commit.",
            registry=self.registry,
        )
        self.rolled_back = Gauge(
            "auditledger_log_rolled_back",
            "1 while the database is behind a checkpoint this deployment signed (events are "
            "refused until it is repaired; see docs/operations.md), else 0.",
            registry=self.registry,
        )
        self.checkpoints = Counter(
            "auditledger_checkpoints_signed",
            "Checkpoints signed.",
            registry=self.registry,
        )
        self.witness_cosignatures = Counter(
            "auditledger_witness_cosignatures",
            "Witness cosignatures received, verified and stored, by witness name.",
            ["witness"],
            registry=self.registry,
        )
        self.witness_failures = Counter(
            "auditledger_witness_failures",
            "Submissions to a witness that yielded no cosignature (unreachable, refused, or an "
            "answer that does not verify), by witness name; the server log says why.",
            ["witness"],
            registry=self.registry,
        )
        self.witness_quorum_missing = Gauge(
            "auditledger_witness_quorum_missing",
            "Logs whose newest checkpoint has fewer witness cosignatures than "
            "AUDITLEDGER_WITNESSES_REQUIRED (after the last checkpoint round).",
            registry=self.registry,
        )
