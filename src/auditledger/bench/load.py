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

import httpx2 as httpx

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


async def _run(
    url: str, token: str, clients: int, seconds: float, warmup: float
) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                body = TEMPLATE.replace(ZERO_ID, str(uuid.uuid4()).encode())
                try:
                    response = await client.post(url, content=body, headers=headers)
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                done = time.perf_counter()
                if sent >= measure_from:
                    statuses[status] += 1
                    latencies.append((done - sent) * 1000)

        await asyncio.gather(*(worker() for _ in range(clients)))
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {
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
    args = parser.parse_args()
    result = asyncio.run(_run(args.url, args.token, args.clients, args.seconds, args.warmup))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
