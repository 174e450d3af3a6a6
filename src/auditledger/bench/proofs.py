"""Inclusion proofs at the full log size."""

from __future__ import annotations

import random
import time

from auditledger.bench.model import Figure, percentile
from auditledger.core.merkle import inclusion_proof, verify_inclusion
from auditledger.services import Services
from auditledger.tenancy.model import Organization


def measure(engine: str, services: Services, org: Organization, samples: int = 300) -> Figure:
    """Milliseconds to build (from storage) the inclusion proof of a random event."""
    head = services.log.head(org.id)
    rng = random.Random(1)
    timings = []
    for _ in range(samples + 5):
        seq = rng.randrange(head.tree_size)
        started = time.perf_counter()
        proof = inclusion_proof(seq, head.tree_size, lambda ids: services.log.nodes(org.id, ids))
        timings.append((time.perf_counter() - started) * 1000)
        (leaf,) = services.log.leaves(org.id, seq, seq + 1)
        if not verify_inclusion(seq, head.tree_size, leaf.leaf_hash, proof, head.root_hash):
            raise AssertionError(f"inclusion proof of {seq} does not verify")
    timings = timings[5:]
    p95 = percentile(timings, 95)
    return Figure(
        engine,
        f"inclusion proof at {head.tree_size:,} events (p95)",
        p95,
        "ms",
        None,
        "",
        "<= 5 ms",
        p95 <= 5,
        f"p50 {percentile(timings, 50):.2f} ms; {samples} random events; each verified",
    )
