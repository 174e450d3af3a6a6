"""Concurrent single-event ingest over HTTP with durable acknowledgements.

Compared with (a) the same server stack answering an endpoint that does nothing, and (b) one
transaction per event through the same engine without HTTP (sequential, in process).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid

import httpx2 as httpx

from auditledger.bench.env import BenchDatabase, open_services
from auditledger.bench.load import TEMPLATE, ZERO_ID
from auditledger.bench.model import Figure
from auditledger.tenancy.model import CredentialKind
from auditledger_client.core.validate import parse_event


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(database: BenchDatabase) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    log = (database.workdir / "server.log").open("ab")
    process = subprocess.Popen(  # the same interpreter, our own module
        [
            sys.executable,
            "-m",
            "auditledger.bench.server",
            "--database-url",
            database.url,
            "--port",
            str(port),
            "--signing-key-file",
            str(database.workdir / "signing.key"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("benchmark server did not start")


def _load(url: str, token: str, clients: int, seconds: float, server_pid: int) -> dict[str, float]:
    """The load generator's figures, with ``cpu_ms``: the server's CPU per 2xx answer."""
    output = subprocess.run(  # a separate process: the client's CPU is not the server's
        [
            sys.executable,
            "-m",
            "auditledger.bench.load",
            url,
            token,
            "--clients",
            str(clients),
            "--seconds",
            str(seconds),
            "--server-pid",
            str(server_pid),
        ],
        check=True,
        capture_output=True,
        timeout=seconds + 120,
    )
    result: dict[str, float] = json.loads(output.stdout)
    return result


def _one_transaction_per_event(database: BenchDatabase, seconds: float) -> float:
    services = open_services(database)
    try:
        org = services.tenancy.org("http")
        committed = 0
        now = services.clock.now()
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            body = json.loads(TEMPLATE.replace(ZERO_ID, str(uuid.uuid4()).encode()))
            draft = parse_event(body, received_at=now)
            services.log.append([services.ingest.prepare(org, [draft], now)])
            committed += 1
        return committed / (time.perf_counter() - started)
    finally:
        services.stop()


# The second load: many more clients than a commit group's usual size.
MANY_CLIENTS = 256


def measure(database: BenchDatabase, *, clients: int, seconds: float) -> list[Figure]:
    """Events/s and latency under ``clients`` concurrent clients, with both baselines, and
    events/s under :data:`MANY_CLIENTS` against the no-op route at as many."""
    services = open_services(database)
    try:
        org = services.tenancy.create_org("http", "HTTP")
        token = services.tenancy.issue_credential(CredentialKind.INGEST, "bench", org=org).token
    finally:
        services.stop()
    process, url = _start_server(database)
    try:
        noop = _load(f"{url}/bench/noop", token, clients, seconds, process.pid)
        ingest = _load(f"{url}/api/v1/orgs/http/events", token, clients, seconds, process.pid)
        many = max(clients, MANY_CLIENTS)
        noop_many = _load(f"{url}/bench/noop", token, many, seconds, process.pid)
        ingest_many = _load(f"{url}/api/v1/orgs/http/events", token, many, seconds, process.pid)
    finally:
        process.terminate()
        process.wait(30)
    single = _one_transaction_per_event(database, min(seconds, 5.0))
    engine = database.engine
    value = ingest["per_second"]
    detail = (
        f"{clients} clients, {seconds:g} s; statuses {ingest['statuses']}; "
        f"no-op p50 {noop['p50_ms']:.1f} ms, p99 {noop['p99_ms']:.1f} ms"
    )
    figures = [
        Figure(
            engine,
            "HTTP ingest server CPU per event",
            ingest["cpu_ms"],
            "ms",
            noop["cpu_ms"],
            "server CPU per answer of the same server's no-op POST",
            "<= 0.3 ms and <= 2 x baseline",
            ingest["cpu_ms"] <= 0.3 and ingest["cpu_ms"] <= 2 * noop["cpu_ms"],
            f"utime+stime of the server process (/proc) over the measured window / 2xx "
            f"answers; {detail}",
        ),
        Figure(
            engine,
            "HTTP ingest vs HTTP ceiling",
            value,
            "events/s",
            noop["per_second"],
            "the same server answering a no-op POST",
            ">= 0.6 x baseline",
            value >= 0.6 * noop["per_second"],
            detail,
        ),
        Figure(
            engine,
            f"HTTP ingest vs HTTP ceiling, {many} clients",
            ingest_many["per_second"],
            "events/s",
            noop_many["per_second"],
            f"the same server answering a no-op POST, {many} clients",
            ">= 0.6 x baseline",
            ingest_many["per_second"] >= 0.6 * noop_many["per_second"],
            f"{many} clients, {seconds:g} s; statuses {ingest_many['statuses']}; "
            f"p50 {ingest_many['p50_ms']:.1f} ms, p99 {ingest_many['p99_ms']:.1f} ms; "
            f"server CPU {ingest_many['cpu_ms']:.3f} ms per event, "
            f"{noop_many['cpu_ms']:.3f} ms per no-op answer",
        ),
        Figure(
            engine,
            "HTTP ingest vs one transaction per event",
            value,
            "events/s",
            single,
            "one transaction per event, same engine, no HTTP",
            "above baseline" if engine == "postgres" else "(informative on SQLite)",
            value > single if engine == "postgres" else None,
            "group commit shares each commit between concurrent requests",
        ),
        Figure(
            engine,
            "HTTP ingest p50 latency",
            ingest["p50_ms"],
            "ms",
            None,
            "",
            "(informative)",
            None,
            detail,
        ),
        Figure(
            engine,
            "HTTP ingest p99 latency",
            ingest["p99_ms"],
            "ms",
            None,
            "",
            "<= 100 ms",
            ingest["p99_ms"] <= 100,
            detail,
        ),
    ]
    return figures
