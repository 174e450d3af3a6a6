"""Measure `auditledger verify` throughput on a large SQLite log.

    python bench/verify_throughput.py /tmp/verify-bench.db --events 200000
    python bench/verify_throughput.py postgresql://postgres@127.0.0.1/verify_bench

Fills the database through the bulk ingest path (batches of 1,000 demo events) unless it
already holds enough events, signs a checkpoint, then times the verifier (the same function
`auditledger verify` runs) and prints events per second.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditledger.core.errors import NotFound
from auditledger.demo.generate import generate
from auditledger.integrity.source import open_source
from auditledger.integrity.verify import verify_log
from auditledger.services import Services, build_services
from auditledger.settings import load_settings
from auditledger_client.core.clock import FrozenClock
from auditledger_client.core.validate import parse_event

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def fill(services: Services, wanted: int) -> None:
    try:
        org = services.tenancy.org("bench")
    except NotFound:
        org = services.tenancy.create_org("bench", "Bench")
    have = services.log.head(org.id).tree_size
    batch: list[dict[str, object]] = []
    start = NOW - timedelta(days=150)
    seed = 0
    while have < wanted:
        seed += 1  # each seed is another 150 days of a busy organization's activity
        for day in generate(start, 150, seed=seed, per_day_scale=8.0):
            for event in day:
                batch.append(event)
                if len(batch) == 1000:
                    drafts = [parse_event(e, received_at=NOW) for e in batch]
                    services.ingest.ingest_blocking(org, drafts, NOW)
                    have += len(batch)
                    batch = []
                    if have >= wanted:
                        return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database", help="a SQLite file, or a PostgreSQL URL")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--profile", action="store_true", help="profile with pyinstrument")
    args = parser.parse_args()
    url = args.database if "://" in args.database else f"sqlite:///{args.database}"
    settings = load_settings(
        environ={},
        database_url=url,
        signing_key_file=Path("/tmp/verify-bench-postgres/signing.key")
        if "://" in args.database
        else Path(args.database).with_suffix(".key"),
    )
    services = build_services(settings, clock=FrozenClock(NOW))
    services.db.migrate()
    services.start()
    fill(services, args.events)
    services.checkpoints.ensure_key()
    org = services.tenancy.org("bench")
    services.checkpoints.checkpoint(org.id, org.slug)
    verifiers = [r.key for r in services.checkpoints.repo.registered_keys()]

    def run() -> None:
        started, cpu = time.perf_counter(), time.process_time()
        with open_source(services.db, org.id) as source:
            report = verify_log(
                source,
                org_slug=org.slug,
                origin=services.checkpoints.origin(org.slug),
                verifiers=verifiers,
            )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert report.ok, [f.describe() for f in report.findings]
        # CPU time too: on a shared machine the wall clock also measures the neighbours.
        print(
            f"verified {report.events_checked:,} events in {seconds:.2f} s: "
            f"{report.events_checked / seconds:,.0f} events/s "
            f"(CPU {cpu:.2f} s: {report.events_checked / cpu:,.0f} events per CPU-second)"
        )

    if args.profile:
        from pyinstrument import Profiler

        with Profiler() as profiler:
            run()
        profiler.print()
    else:
        for _ in range(3):
            run()
    services.stop()


if __name__ == "__main__":
    main()
