"""Periodic background jobs of a server process (purges, housekeeping).

One daemon thread runs every job when it is due. A job's failure is logged and the job runs
again at its next time: background work must never take the server down with it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class Job:
    """A function to run every ``interval`` seconds, first after ``delay`` seconds."""

    name: str
    interval: float
    run: Callable[[], object]
    delay: float = 0.0
    next_at: float = 0.0


class Scheduler:
    """Runs jobs on a thread until stopped."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = [j for j in jobs if j.interval > 0]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (no-op without jobs)."""
        if not self.jobs or self._thread is not None:
            return
        now = time.monotonic()
        for job in self.jobs:
            job.next_at = now + job.delay
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="auditledger-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait for the running job to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for job in self.jobs:
                if now >= job.next_at and not self._stop.is_set():
                    try:
                        job.run()
                    except Exception:
                        log.exception("background job %s failed; it will run again", job.name)
                    job.next_at = time.monotonic() + job.interval
            wait = min(j.next_at for j in self.jobs) - time.monotonic()
            self._stop.wait(max(0.05, min(wait, 1.0)))
