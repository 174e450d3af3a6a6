"""``auditledger search-index``: the full-text search index, derived data that can be rebuilt."""

from __future__ import annotations

import time

import typer

from auditledger.cli.common import DatabaseOption, console, open_services, settings_from
from auditledger.store import search_index

search_cli = typer.Typer(
    help="The search index (derived from the events; never trusted by verify).",
    no_args_is_help=True,
)


@search_cli.command("rebuild")
def rebuild(database_url: DatabaseOption = None) -> None:
    """Recreate the search index from the events table (after a restore, or to repair it).

    Searches only narrow: each hit is checked against its event, so a damaged index can miss
    events but never show one that does not match. Rebuilding restores the missed ones.
    """
    with open_services(settings_from(database_url)) as svc:
        started = time.perf_counter()
        count = search_index.rebuild(svc.db)
        console.print(
            f"search index rebuilt: {count:,} events in {time.perf_counter() - started:.1f} s"
        )
