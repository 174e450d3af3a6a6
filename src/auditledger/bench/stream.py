"""Streaming delivery rate to a local webhook, against single-process ingest in the same run."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from auditledger.bench.data import BATCH, wire_events
from auditledger.bench.env import NOW, BenchDatabase, open_services
from auditledger.bench.model import Figure
from auditledger_client.core.event import Actor
from auditledger_client.core.validate import parse_event


class _Counter(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received += len(json.loads(body)["events"])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def measure(database: BenchDatabase, count: int) -> Figure:
    """Events/s one destination delivers (proofs included), vs events/s ingested."""
    _Counter.received = 0
    services = open_services(database)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        services.checkpoints.ensure_key()
        services.destinations.allowed_networks = ("127.0.0.0/8",)
        org = services.tenancy.create_org("stream", "Stream")
        flat = [
            e
            for day in wire_events(count, end=NOW - timedelta(days=1), days=5, seed=4)
            for e in day
        ]
        received = NOW - timedelta(hours=1)
        started = time.perf_counter()
        for offset in range(0, len(flat), BATCH):
            drafts = [parse_event(e, received_at=received) for e in flat[offset : offset + BATCH]]
            services.ingest.ingest_blocking(org, drafts, received)
        ingest_rate = len(flat) / (time.perf_counter() - started)
        services.destinations.create(
            org,
            name="bench",
            transport="webhook",
            settings={"url": f"http://127.0.0.1:{server.server_address[1]}/in"},
            start_seq=0,
            actor=Actor("system", "bench", "bench"),
        )
        deliverer = services.make_deliverer()
        deliverer.allowed_networks = ("127.0.0.0/8",)
        deliverer.batch_events = 500
        started = time.perf_counter()
        while deliverer.run_once():
            pass
        seconds = time.perf_counter() - started
        delivered = _Counter.received
    finally:
        server.shutdown()
        server.server_close()
        services.stop()
    rate = delivered / seconds
    return Figure(
        engine=database.engine,
        name="stream delivery, one webhook destination",
        value=rate,
        unit="events/s",
        baseline=ingest_rate,
        baseline_label="single-process bulk ingest of the same events, same run",
        target=">= 0.5 x baseline",
        met=rate >= 0.5 * ingest_rate,
        detail=f"{delivered:,} events in batches of 500, each with its inclusion proof, a signed "
        "checkpoint and a consistency proof; receiver in the same process",
    )
