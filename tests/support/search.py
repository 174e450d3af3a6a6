"""A brute-force reference for the view query, and random filter sets to compare it on."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from auditledger.query.filters import EventFilter
from auditledger_client.core.event import Event
from tests.support.databases import NOW


def brute_force(everything: list[Event], flt: EventFilter) -> list[Event]:
    def keep(e: Event) -> bool:
        checks: list[Callable[[], bool]] = [
            lambda: flt.since is None or e.occurred_at >= flt.since,
            lambda: flt.until is None or e.occurred_at <= flt.until,
            lambda: not flt.projects or (e.project is not None and e.project.id in flt.projects),
            lambda: not flt.models or e.subject.model_id in flt.models,
            lambda: (
                not flt.model_versions
                or (e.subject.type == "model_version" and e.subject.id in flt.model_versions)
            ),
            lambda: not flt.categories or e.category in flt.categories,
            lambda: not flt.types or (e.category, e.type) in flt.types,
            lambda: not flt.actors or e.actor.id in flt.actors,
            lambda: not flt.subjects or e.subject.id in flt.subjects,
            lambda: (
                not flt.sources
                or (
                    e.source is not None
                    and any(
                        e.source.ip.startswith(v[:-1]) if v.endswith("*") else e.source.ip == v
                        for v in flt.sources
                    )
                )
            ),
        ]
        return all(check() for check in checks)

    return sorted(
        (e for e in everything if keep(e)), key=lambda e: (e.occurred_at, e.seq), reverse=True
    )


def random_filters(everything: list[Event], rng: random.Random) -> list[list[tuple[str, str]]]:
    projects = sorted({e.project.id for e in everything if e.project})
    models = sorted({e.subject.model_id for e in everything if e.subject.model_id})
    versions = sorted({e.subject.id for e in everything if e.subject.type == "model_version"})
    actors = sorted({e.actor.id for e in everything})
    choices = {
        "project": projects,
        "model": models,
        "model_version": versions,
        "actor": actors,
        "category": ["execution", "model", "model_version", "user", "datum"],
        "type": ["run", "model.rename", "model_version.approve", "download", "login"],
    }
    cases: list[list[tuple[str, str]]] = [[]]
    for name, values in choices.items():
        cases.append([(name, values[0])])
        cases.append([(name, v) for v in rng.sample(values, min(2, len(values)))])
    day = (NOW - timedelta(days=rng.randint(3, 20))).date()
    cases.append([("from", day.isoformat())])
    cases.append([("to", day.isoformat())])
    cases.append([("to", (NOW - timedelta(days=40)).date().isoformat())])
    cases.append([("from", day.isoformat()), ("to", (day + timedelta(days=4)).isoformat())])
    for _ in range(12):
        combo = []
        for name in rng.sample(sorted(choices), rng.randint(2, 4)):
            combo.append((name, rng.choice(choices[name])))
        if rng.random() < 0.5:
            combo.append(("from", day.isoformat()))
        cases.append(combo)
    return cases
