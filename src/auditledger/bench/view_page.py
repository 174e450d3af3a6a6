"""The organization's Audit Log page with its 500 rows, rendered for a signed-in administrator.

Measures the server's side of a page view: the application handles the request in process
(routing, session, the view query, 500 rows of HTML), with no network in between. Run alone:
``python -m auditledger.bench.view_page --events 100000 --engine sqlite``.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time

from fastapi.testclient import TestClient

from auditledger.bench import data
from auditledger.bench.env import NOW, fresh_database, open_services
from auditledger.bench.model import Figure, percentile
from auditledger.services import Services
from auditledger.tenancy.model import Organization, Role
from auditledger.tenancy.tokens import hash_password
from auditledger.web.app import create_app

# The busiest views: everything, and one model (the form then lists its versions).
PAGES = ("/audit-log", "/audit-log?model=mdl-churn-model")


def timings(services: Services, org: Organization, repeats: int) -> list[float]:
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
    samples: list[float] = []
    with TestClient(app, follow_redirects=False) as client:
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
                started = time.perf_counter()
                response = client.get(f"/orgs/{org.slug}{path}")
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise AssertionError(f"{path}: {response.status_code}")
                if attempt >= 2:
                    samples.append(elapsed)
    return samples


def measure(engine: str, services: Services, org: Organization, repeats: int) -> Figure:
    """p95 server time of the 500-row Audit Log page."""
    samples = timings(services, org, repeats)
    p95 = percentile(samples, 95)
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
        f"p50 {percentile(samples, 50):.1f} ms; {len(samples)} views of {', '.join(PAGES)}",
    )


def main(argv: list[str] | None = None) -> int:
    """Load ``--events`` events into a fresh database and print the page's timings."""
    parser = argparse.ArgumentParser(prog="python -m auditledger.bench.view_page")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--engine", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    with fresh_database(args.engine) as database:
        services = open_services(database)
        try:
            org = services.tenancy.create_org("bench", "Bench")
            data.load(services, org, args.events, end=NOW, days=170, seed=7)
            services.db.analyze()
            figure = measure(args.engine, services, org, args.repeats)
        finally:
            services.stop()
    print(f"{figure.name}: p95 {figure.value:.1f} ms ({figure.detail})")
    return 0 if figure.met else 1


if __name__ == "__main__":
    sys.exit(main())
