"""Measure the client against a running auditledger: recording rate and delivery rate.

    python examples/client_throughput.py --server http://127.0.0.1:8000 --token $TOKEN \\
        --org northwind --events 20000

Each mode records ``--events`` model.rename events from one thread into its own spool, then
flushes; "recorded" is the rate at which record() returned, "delivered" the rate until the
service had acknowledged every event. The events stay in the organization's log.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from auditledger_client import Actor, AuditClient, Ref
from auditledger_client.events import ModelRename

MODES = {
    "file-full": ("spool.db", "full"),
    "file-normal": ("spool-normal.db", "normal"),
    "memory": (None, "full"),
}


def measure(args: argparse.Namespace, spool: Path | None, durability: str) -> tuple[float, float]:
    """(recorded events/s, recorded-and-delivered events/s) for one spool mode."""
    actor = Actor("u-bench", "Throughput script", "system")
    client = AuditClient(
        args.server,
        args.token,
        org=args.org,
        spool_path=spool,
        durability=durability,  # type: ignore[arg-type]
        batch_size=args.batch_size,
    )
    started = time.perf_counter()
    for n in range(args.events):
        client.record(
            ModelRename(old_name="before", new_name="after"),
            subject=Ref(f"mdl-bench-{n % 50}", "bench"),
            actor=actor,
            source="193.166.3.7",
        )
    recorded = time.perf_counter()
    client.flush(600)
    delivered = time.perf_counter()
    client.close()
    return args.events / (recorded - started), args.events / (delivered - started)


def main() -> None:
    """Run every mode and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="an ingest token")
    parser.add_argument("--org", default="northwind")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'spool':12} {'recorded/s':>11} {'delivered/s':>12}")
        for mode in args.modes.split(","):
            name, durability = MODES[mode]
            spool = Path(tmp) / name if name else None
            recorded, delivered = measure(args, spool, durability)
            print(f"{mode:12} {recorded:11,.0f} {delivered:12,.0f}")


if __name__ == "__main__":
    main()
