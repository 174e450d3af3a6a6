"""The organization's Audit Log page with its 500 rows, rendered for a signed-in administrator.

Measures the server's side of a page view: the application handles the request in process
(routing, session, the view query, 500 rows of HTML), with no network in between. Run alone on
a freshly loaded database, ``python -m auditledger.bench.view_page --events 100000 --engine
sqlite``, or on an existing one (``--database-url``, ``--workdir`` where its signing key is).
Signing in writes a user, a membership and sessions: point it at a copy of a kept database.
The views run with the garbage collector tuned as ``auditledger serve`` tunes it
(:mod:`auditledger.ops.collector`).
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from dataclasses import dataclass

from fastapi.testclient import TestClient

from auditledger.bench import target
from auditledger.bench.model import Figure, percentile
from auditledger.ops.collector import serving_collector
from auditledger.services import Services
from auditledger.tenancy.model import Organization, Role
from auditledger.tenancy.tokens import hash_password
from auditledger.web.app import create_app

# The busiest views: everything, and one model (the form then lists its versions).
PAGES = ("/audit-log", "/audit-log?model=mdl-churn-model")


@dataclass
class Samples:
    """Per page view, warm: wall milliseconds, and this process's CPU milliseconds (all of the
    application's and SQLite's work; PostgreSQL's server works apart)."""

    wall: list[float]
    cpu: list[float]
    path: list[str]

    def of(self, path: str) -> Samples:
        """The samples of one page."""
        kept = [i for i, p in enumerate(self.path) if p == path]
        return Samples(
            [self.wall[i] for i in kept], [self.cpu[i] for i in kept], [path] * len(kept)
        )

    def summary(self) -> str:
        """p50 and p95 of wall and CPU time."""
        return (
            f"p50 {percentile(self.wall, 50):.1f} ms, p95 {percentile(self.wall, 95):.1f} ms "
            f"(process CPU p50 {percentile(self.cpu, 50):.1f} ms, "
            f"p95 {percentile(self.cpu, 95):.1f} ms)"
        )


def timings(services: Services, org: Organization, repeats: int) -> Samples:
    """Milliseconds per page view, warm (two views of each page first)."""
    username = f"bench-admin@{org.slug}.example"
    password = secrets.token_urlsafe(16)  # a throwaway account of a throwaway database
    if services.tenancy.repo.user_by_username(username) is None:
        user = services.tenancy.create_user(username, "Bench admin", password)
        services.tenancy.add_member(org, user, Role.ADMIN)
    else:
        found = services.tenancy.repo.user_by_username(username)
        assert found is not None
        services.tenancy.repo.set_password(found[0].id, hash_password(password))
    app = create_app(services, manage_services=False)
    samples = Samples([], [], [])
    with serving_collector(), TestClient(app, follow_redirects=False) as client:
        client.headers["accept"] = "text/html"
        form = client.get("/sign-in")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        signed = client.post(
            "/sign-in", data={"username": username, "password": password, "csrf_token": token}
        )
        if signed.status_code != 303:
            raise AssertionError(f"bench sign-in failed: {signed.status_code}")
        for attempt in range(repeats + 2):
            for path in PAGES:
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.get(f"/orgs/{org.slug}{path}")
                elapsed = (time.perf_counter() - started) * 1000
                cpu = (time.process_time() - cpu_started) * 1000
                if response.status_code != 200:
                    raise AssertionError(f"{path}: {response.status_code}")
                if attempt >= 2:
                    samples.wall.append(elapsed)
                    samples.cpu.append(cpu)
                    samples.path.append(path)
    return samples


def measure(engine: str, services: Services, org: Organization, repeats: int) -> Figure:
    """p95 server time of the 500-row Audit Log page."""
    samples = timings(services, org, repeats)
    p95 = percentile(samples.wall, 95)
    size = services.log.head(org.id).tree_size
    return Figure(
        engine,
        f"Audit Log page with 500 rows at {size:,} events, server time (p95)",
        p95,
        "ms",
        None,
        "",
        "<= 150 ms",
        p95 <= 150,
        f"{len(samples.wall)} views: all {samples.summary()}; "
        + "; ".join(f"{path} {samples.of(path).summary()}" for path in PAGES),
    )


def main(argv: list[str] | None = None) -> int:
    """Measure on ``--database-url`` (organization ``--org``) or on ``--events`` fresh ones."""
    parser = argparse.ArgumentParser(prog="python -m auditledger.bench.view_page")
    target.add_arguments(parser, repeats=30, existing="signing in writes to it")
    args = parser.parse_args(argv)
    with target.measured(args) as (services, org):
        figure = measure(args.engine, services, org, args.repeats)
    print(f"{figure.name}: p95 {figure.value:.1f} ms")
    for part in figure.detail.split("; "):
        print(f"  {part}")
    return 0 if figure.met else 1


if __name__ == "__main__":
    sys.exit(main())
