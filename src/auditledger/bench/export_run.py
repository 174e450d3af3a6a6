"""Run one CSV export of an organization to nowhere, in its own process, and report its rate
and peak memory: ``python -m auditledger.bench.export_run --database-url URL --org ORG``."""

from __future__ import annotations

import argparse
import json
import resource
import time

from auditledger.export.service import ExportFormat, ExportRun
from auditledger.query.filters import EventFilter
from auditledger.services import build_services
from auditledger.settings import load_settings
from auditledger_client.core.event import Actor


def _peak_rss_kib() -> int:
    """This process's own peak RSS. Not ``getrusage().ru_maxrss``: Linux carries that over
    ``execve`` from the forked parent, so a child of the benchmark (which holds a million
    events' worth of memory) would report the parent's peak instead of its own."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    """Export, discard the bytes, print rows, seconds and peak RSS as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--org", required=True)
    args = parser.parse_args()
    services = build_services(load_settings(database_url=args.database_url, purge_interval=0))
    services.start()
    try:
        org = services.tenancy.org(args.org)
        run = ExportRun()
        size = 0
        started = time.perf_counter()
        for chunk in services.export.stream(
            org,
            EventFilter(),
            ExportFormat.CSV,
            include_source=True,
            actor=Actor("system", "bench", "benchmark"),
            source_ip=None,
            run=run,
        ):
            size += len(chunk)
        seconds = time.perf_counter() - started
    finally:
        services.stop()
    peak_kib = _peak_rss_kib()
    print(
        json.dumps(
            {"rows": run.rows, "seconds": seconds, "bytes": size, "max_rss_mb": peak_kib / 1024}
        )
    )


if __name__ == "__main__":
    main()
