"""Streaming to a local webhook: one destination's delivery rate against single-process ingest
measured in the same run, and its lag under steady ingest at half that ingest rate.

1. **Rate**: ingest ``count`` events in batches (the baseline, events/s), then deliver them all
   to one webhook destination from sequence 0 (batches of 500, each with its proofs and a
   signed checkpoint) and divide.
2. **Lag**: a deliverer thread runs (as in ``auditledger serve``) while events are ingested at
   half the measured ingest rate, in small batches on a fixed schedule; each event's lag is the
   time from its commit to its arrival at the receiver. Reported: p50 and p99.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from auditledger.bench.data import BATCH, wire_events
from auditledger.bench.env import NOW, BenchDatabase, open_services
from auditledger.bench.model import Figure, percentile
from auditledger.services import Services
from auditledger.tenancy.model import Organization
from auditledger_client.core.event import Actor
from auditledger_client.core.validate import parse_event

BENCH_ACTOR = Actor("system", "bench", "bench")
DELIVERY_BATCH = 500
# The lag phase ingests a small batch this often, so arrivals are spread out as in production.
TICK_SECONDS = 0.05


class _Receiver(BaseHTTPRequestHandler):
    """Counts events and notes when each event id arrived."""

    received = 0
    arrivals: dict[str, float] = {}  # noqa: RUF012 (one receiver per measurement, reset first)
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        now = time.perf_counter()
        events = json.loads(body)["events"]
        with type(self).lock:
            type(self).received += len(events)
            for record in events:
                type(self).arrivals.setdefault(record["id"], now)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def _flat(count: int, seed: int) -> list[dict[str, Any]]:
    days = wire_events(count, end=NOW - timedelta(days=1), days=5, seed=seed)
    return [e for day in days for e in day]


def _ingest_rate(services: Services, org: Organization, flat: list[dict[str, Any]]) -> float:
    received = NOW - timedelta(hours=1)
    started = time.perf_counter()
    for offset in range(0, len(flat), BATCH):
        drafts = [parse_event(e, received_at=received) for e in flat[offset : offset + BATCH]]
        services.ingest.ingest_blocking(org, drafts, received)
    return len(flat) / (time.perf_counter() - started)


def _destination(
    services: Services, org: Organization, port: int, name: str, start_seq: int | None
) -> None:
    services.destinations.create(
        org,
        name=name,
        transport="webhook",
        settings={"url": f"http://127.0.0.1:{port}/in"},
        start_seq=start_seq,
        actor=BENCH_ACTOR,
    )


def _steady_ingest(
    services: Services, org: Organization, flat: list[dict[str, Any]], rate: float
) -> dict[str, float]:
    """Ingest ``flat`` at ``rate`` events/s; when each event was committed (by id)."""
    per_tick = max(1, round(rate * TICK_SECONDS))
    committed: dict[str, float] = {}
    started = time.perf_counter()
    for tick, offset in enumerate(range(0, len(flat), per_tick)):
        due = started + tick * per_tick / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        chunk = flat[offset : offset + per_tick]
        received = NOW - timedelta(minutes=30)
        services.ingest.ingest_blocking(
            org, [parse_event(e, received_at=received) for e in chunk], received
        )
        done = time.perf_counter()
        committed.update((str(e["id"]), done) for e in chunk)
    return committed


def measure(database: BenchDatabase, count: int, lag_seconds: float = 10.0) -> list[Figure]:
    """The delivery rate against ingest, and the lag p99 at half the ingest rate."""
    _Receiver.received = 0
    _Receiver.arrivals = {}
    services = open_services(database)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        services.checkpoints.ensure_key()
        services.destinations.allowed_networks = ("127.0.0.0/8",)
        org = services.tenancy.create_org("stream", "Stream")
        flat = _flat(count, seed=4)
        ingest_rate = _ingest_rate(services, org, flat)
        _destination(services, org, port, "bench", 0)
        deliverer = services.make_deliverer()
        deliverer.allowed_networks = ("127.0.0.0/8",)
        deliverer.batch_events = DELIVERY_BATCH
        started = time.perf_counter()
        while deliverer.run_once():
            pass
        seconds = time.perf_counter() - started
        delivered = _Receiver.received
        rate = delivered / seconds

        # Lag: a new destination from now; the first one is deleted so it costs nothing.
        services.destinations.delete(
            org, services.destinations.get(org, "bench"), actor=BENCH_ACTOR, source_ip=None
        )
        _destination(services, org, port, "lag", None)  # from now
        steady = ingest_rate / 2
        later = _flat(max(1, int(steady * lag_seconds)), seed=5)
        with _Receiver.lock:
            _Receiver.arrivals = {}
        deliverer.start()
        try:
            committed = _steady_ingest(services, org, later, steady)
            deadline = time.perf_counter() + 60
            while time.perf_counter() < deadline:
                with _Receiver.lock:
                    if all(i in _Receiver.arrivals for i in committed):
                        break
                time.sleep(0.05)
        finally:
            deliverer.stop()
        with _Receiver.lock:
            arrivals = dict(_Receiver.arrivals)
    finally:
        server.shutdown()
        server.server_close()
        services.stop()
    lags = [arrivals[i] - done for i, done in committed.items() if i in arrivals]
    missing = len(committed) - len(lags)
    p50, p99 = percentile(lags, 50), percentile(lags, 99)
    if missing:
        p99 = float("inf")  # an event that never arrived within a minute misses the target
    return [
        Figure(
            engine=database.engine,
            name="stream delivery, one webhook destination",
            value=rate,
            unit="events/s",
            baseline=ingest_rate,
            baseline_label="single-process bulk ingest of the same events, same run",
            target=">= 0.5 x baseline",
            met=rate >= 0.5 * ingest_rate,
            detail=f"{delivered:,} events in batches of {DELIVERY_BATCH}, each with its "
            "inclusion proof, a signed checkpoint and a consistency proof; receiver in the same "
            "process",
        ),
        Figure(
            engine=database.engine,
            name="stream lag p99 at half the ingest rate",
            value=p99,
            unit="s",
            target="<= 2 s",
            met=p99 <= 2.0,
            detail=f"{len(committed):,} events ingested at {steady:,.0f} events/s (half the "
            f"bulk ingest rate above) for {lag_seconds:.0f} s, in batches every "
            f"{TICK_SECONDS * 1000:.0f} ms, while a deliverer thread streamed them (poll "
            f"{deliverer.poll_seconds:.1f} s, batches of {DELIVERY_BATCH}); lag from commit to "
            f"arrival: p50 {p50:.2f} s, p99 {p99:.2f} s"
            + (f"; {missing} events never arrived within 60 s" if missing else ""),
        ),
    ]
