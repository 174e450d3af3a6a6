"""The view query (the 500 most recent matching events) for each filter alone and all together."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from auditledger.bench.env import NOW
from auditledger.bench.model import percentile
from auditledger.ops.collector import serving_collector
from auditledger.query.filters import parse_filters
from auditledger.query.search import page
from auditledger.services import Services
from auditledger.tenancy.model import Organization

# Values the demo's distributions produce; "all" combines them (a governance question: which
# tag changes did this person make to this model's versions this quarter?).
FILTERS: dict[str, list[tuple[str, str]]] = {
    "no filter": [],
    "date range (7 days)": [
        ("from", (NOW - timedelta(days=37)).date().isoformat()),
        ("to", (NOW - timedelta(days=31)).date().isoformat()),
    ],
    "project": [("project", "prj-churn")],
    "model": [("model", "mdl-churn-model")],
    "model version": [("model_version", "mdl-churn-model-v2")],
    "category": [("category", "model_version")],
    "type": [("type", "model_version.tag_change")],
    "actor": [("actor", "u-grace")],
    "all together": [
        ("from", (NOW - timedelta(days=90)).date().isoformat()),
        ("to", NOW.date().isoformat()),
        ("project", "prj-churn"),
        ("model", "mdl-churn-model"),
        ("category", "model_version"),
        ("type", "model_version.tag_change"),
        ("actor", "u-grace"),
    ],
}


def timings(services: Services, org: Organization, repeats: int) -> dict[str, dict[str, Any]]:
    """p50/p95 milliseconds and result counts per filter, as an administrator's view."""
    results: dict[str, dict[str, Any]] = {}
    for name, params in FILTERS.items():
        flt = parse_filters(params)
        samples = []
        found = 0
        # Collected like a serving process (ops/collector.py), where these queries run.
        with serving_collector(), services.db.read() as connection:
            for attempt in range(repeats + 2):
                started = time.perf_counter()
                result = page(connection, org.id, org.slug, flt, include_source=True)
                elapsed = (time.perf_counter() - started) * 1000
                if attempt >= 2:  # the first two warm the caches
                    samples.append(elapsed)
                found = len(result.events)
        results[name] = {
            "p50_ms": percentile(samples, 50),
            "p95_ms": percentile(samples, 95),
            "rows": found,
        }
    return results
