"""The database a benchmark part run on its own measures (``python -m auditledger.bench.search``
and ``.view_page``): an existing benchmark database, or a fresh one loaded with ``--events``."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from auditledger.bench import data
from auditledger.bench.env import NOW, BenchDatabase, fresh_database, open_services
from auditledger.services import Services
from auditledger.tenancy.model import Organization


def add_arguments(parser: argparse.ArgumentParser, *, repeats: int, existing: str) -> None:
    """The options that choose the database; ``existing`` says what the run does to one."""
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--engine", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--database-url", help=f"an existing benchmark database ({existing})")
    parser.add_argument("--workdir", help="with --database-url: where its signing key is")
    parser.add_argument("--org", default="bench")
    parser.add_argument("--repeats", type=int, default=repeats)


@contextmanager
def measured(args: argparse.Namespace) -> Iterator[tuple[Services, Organization]]:
    """Started services and the organization to measure, stopped (and a fresh database
    removed) afterwards."""
    if args.database_url:
        database = BenchDatabase(args.engine, args.database_url, Path(args.workdir or "."))
        services = open_services(database)
        try:
            yield services, services.tenancy.org(args.org)
        finally:
            services.stop()
        return
    with fresh_database(args.engine) as fresh:
        services = open_services(fresh)
        try:
            org = services.tenancy.create_org(args.org, "Bench")
            data.load(services, org, args.events, end=NOW, days=170, seed=7)
            services.db.analyze()
            yield services, org
        finally:
            services.stop()
