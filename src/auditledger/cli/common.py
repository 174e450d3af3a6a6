"""What every command shares: settings from options and environment, services, output."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from auditledger.core.errors import AuditLedgerError
from auditledger.services import Services, build_services
from auditledger.settings import SETTING_INDEX, Settings, load_settings

# Piped output (a script, a CI log) is not cut at rich's default of 80 columns, which would
# truncate table cells; a terminal keeps its own width.
PIPED_WIDTH = 200

console = Console()
err_console = Console(stderr=True)


def fit_consoles() -> None:
    """Size both consoles for this invocation: the terminal's width, or for piped output
    ``COLUMNS`` when it asks for more than 80 (the usual inherited default), else 200."""
    columns = os.environ.get("COLUMNS", "")
    wanted = int(columns) if columns.isdigit() and int(columns) > 80 else PIPED_WIDTH
    for each, stream in ((console, sys.stdout), (err_console, sys.stderr)):
        if not stream.isatty():
            each.width = wanted


DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        "-d",
        help="Database URL; default from " + SETTING_INDEX["database_url"].env + ".",
        show_default=False,
    ),
]


def settings_from(database_url: str | None = None, **overrides: Any) -> Settings:
    """Settings from the environment with command-line overrides applied."""
    try:
        return load_settings(database_url=database_url, **overrides)
    except AuditLedgerError as exc:
        fail(exc)


def fail(exc: AuditLedgerError | str, code: int = 1) -> NoReturn:
    """Print an error the way every command does, and exit."""
    if isinstance(exc, AuditLedgerError):
        err_console.print(f"[bold red]error:[/] {exc.message}")
        for problem in exc.problems:
            err_console.print(f"  {problem.field}: {problem.message}")
    else:
        err_console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code)


@contextmanager
def open_services(settings: Settings, *, start_writer: bool = False) -> Iterator[Services]:
    """Services on a migrated database; domain errors become a clean exit."""
    try:
        services = build_services(settings)
    except AuditLedgerError as exc:
        fail(exc)
    try:
        services.db.migrate()
        if start_writer:
            services.start()
        yield services
    except AuditLedgerError as exc:
        fail(exc)
    finally:
        services.stop()
