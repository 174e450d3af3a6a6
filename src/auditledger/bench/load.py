"""A load generator: N concurrent clients posting single events for a fixed time.

Run as ``python -m auditledger.bench.load URL TOKEN --clients 64 --seconds 10``; prints one
JSON object (requests, errors, events/s, p50/p99 latency in ms). It runs in its own process so
the server's measurements are not mixed with the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

from auditledger.bench.cpu import process_cpu_seconds
from auditledger.bench.model import percentile

TEMPLATE = json.dumps(
    {
        "id": "00000000-0000-0000-0000-000000000000",
        "category": "model_version",
        "type": "tag_change",
        "subject": {
            "id": "mdl-churn-v7",
            "name": "churn-model v7",
            "parent": {"id": "mdl-churn", "name": "churn-model"},
        },
        "properties": {"old_tags": ["candidate"], "new_tags": ["candidate", "production"]},
        "project": {"id": "prj-churn", "name": "churn-prediction"},
        "actor": {"type": "user", "id": "u-grace", "name": "Grace Kim"},
        "source": {"ip": "193.166.3.7"},
    }
).encode()
ZERO_ID = b"00000000-0000-0000-0000-000000000000"


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol to post JSON.

    A general-purpose client spends more CPU per request than the server under test does;
    on a shared 2-core machine that would measure the client. This one costs a few
    microseconds per request.
    """

    def __init__(self, host: str, port: int, path: str, token: str) -> None:
        self.host, self.port, self.path, self.token = host, port, path, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _run(
    url: str, token: str, clients: int, seconds: float, warmup: float, server_pid: int | None
) -> dict[str, object]:
    parsed = urlsplit(url)
    host, port, path = parsed.hostname or "127.0.0.1", parsed.port or 80, parsed.path
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def worker() -> None:
        connection = _Connection(host, port, path, token)
        try:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                body = TEMPLATE.replace(ZERO_ID, str(uuid.uuid4()).encode())
                try:
                    status = await connection.post(body)
                except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
                    connection.close()
                    status = 0
                done = time.perf_counter()
                if sent >= measure_from:
                    statuses[status] += 1
                    latencies.append((done - sent) * 1000)
        finally:
            connection.close()

    server_cpu: list[float] = []

    async def cpu_meter() -> None:
        # The server's CPU over the measured window only (warm-up excluded).
        if server_pid is None:
            return
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        before = process_cpu_seconds(server_pid)
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        server_cpu.append(process_cpu_seconds(server_pid) - before)

    await asyncio.gather(cpu_meter(), *(worker() for _ in range(clients)))
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {
        "cpu_ms": server_cpu[0] * 1000 / ok if server_cpu and ok else float("nan"),
        "requests": sum(statuses.values()),
        "ok": ok,
        "statuses": {str(k): v for k, v in statuses.items()},
        "per_second": ok / seconds,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


def main() -> None:
    """Run and print the result as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--server-pid", type=int, default=None, help="report its CPU per 2xx")
    args = parser.parse_args()
    result = asyncio.run(
        _run(args.url, args.token, args.clients, args.seconds, args.warmup, args.server_pid)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
