"""Helpers for streaming tests: record events, drain a destination."""

from __future__ import annotations

from typing import Any

from auditledger.services import Services
from auditledger.streaming.worker import Deliverer
from auditledger.tenancy.model import Organization
from auditledger_client.core.validate import parse_event
from tests.support.helpers import sample_event


def record(services: Services, org: Organization, count: int, **overrides: Any) -> None:
    """Ingest ``count`` sample events (a source each, unless overridden)."""
    now = services.clock.now()
    drafts = [parse_event(sample_event(**overrides), received_at=now) for _ in range(count)]
    services.ingest.ingest_blocking(org, drafts, now)


def drain(deliverer: Deliverer, passes: int = 200) -> None:
    """Run delivery passes until one sends nothing (bounded)."""
    for _ in range(passes):
        if not deliverer.run_once():
            return
    raise AssertionError(f"still delivering after {passes} passes")
