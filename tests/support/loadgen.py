"""Threads of clients that send events to a real server and remember what was acknowledged."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

from tests.support.helpers import sample_event


@dataclass
class Ledger:
    """What clients sent and what the server said, shared by all client threads."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    acked: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after_missing: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, event: dict[str, Any], response: httpx.Response | None) -> None:
        with self.lock:
            if response is None:
                self.statuses[0] += 1
                return
            self.statuses[response.status_code] += 1
            if response.status_code in (200, 201):
                self.acked.add(event["id"])
            if response.status_code in (429, 503) and "retry-after" not in response.headers:
                self.retry_after_missing += 1

    @property
    def server_errors(self) -> int:
        """Responses with a 5xx other than 503 (which is the documented 'retry later')."""
        return sum(n for s, n in self.statuses.items() if s >= 500 and s != 503)


class Clients:
    """``count`` threads posting fresh events to ``url`` until stopped."""

    def __init__(self, url: str, token: str, count: int, ledger: Ledger) -> None:
        self.url, self.token, self.ledger = url, token, ledger
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(count)]

    def _loop(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(timeout=15) as client:
            while not self.stop_event.is_set():
                event = sample_event()
                with self.ledger.lock:
                    self.ledger.sent.append(event)
                try:
                    response = client.post(self.url, json=event, headers=headers)
                except httpx.TransportError:
                    self.ledger.record(event, None)
                    continue
                self.ledger.record(event, response)

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(30)
