"""``auditledger``: the entry point and its commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditledger import __version__
from auditledger.cli import export as export_cli
from auditledger.cli import integrity, tenancy
from auditledger.cli import relay as relay_cli
from auditledger.cli import retention as retention_cli
from auditledger.cli import search as search_cli
from auditledger.cli import streaming as streaming_cli
from auditledger.cli import witness as witness_cli
from auditledger.cli.common import (
    DatabaseOption,
    console,
    fail,
    fit_consoles,
    open_services,
    settings_from,
)
from auditledger.core.errors import AuditLedgerError

app = typer.Typer(
    name="auditledger",
    help="A tamper-evident audit log for machine-learning platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(tenancy.orgs, name="orgs")
app.add_typer(tenancy.users, name="users")
app.add_typer(tenancy.credentials, name="credentials")
app.command("export")(export_cli.export)
app.command("purge")(retention_cli.purge)
app.command("relay")(relay_cli.relay)
app.add_typer(retention_cli.retention, name="retention")
app.add_typer(search_cli.search_cli, name="search-index")
app.add_typer(integrity.keys, name="keys")
app.command("checkpoint")(integrity.checkpoint)
app.command("verify")(integrity.verify)
app.command("verify-bundle")(integrity.verify_bundle)
app.add_typer(streaming_cli.destinations, name="destinations")
app.command("verify-stream")(streaming_cli.verify_stream)
app.add_typer(witness_cli.witness, name="witness")


def _version(value: bool) -> None:
    if value:
        console.print(f"auditledger {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """A tamper-evident audit log for machine-learning platforms."""
    fit_consoles()


@app.command()
def init(database_url: DatabaseOption = None) -> None:
    """Create (or upgrade) the database schema and the signing key. Safe to run again."""
    settings = settings_from(database_url)
    with open_services(settings) as svc:
        console.print(f"database ready: {settings.database_url}")
        try:
            key, created = svc.checkpoints.ensure_key()
        except OSError as exc:
            fail(f"cannot create the signing key {settings.signing_key_file}: {exc}")
        state = "created" if created else "using"
        console.print(f"{state} signing key {settings.signing_key_file}", highlight=False)
        console.print(f"verifier key: {key.verifier.vkey()}", soft_wrap=True, highlight=False)


@app.command()
def migrate(database_url: DatabaseOption = None) -> None:
    """Upgrade the database schema to this version's (the same as `init` for the schema)."""
    settings = settings_from(database_url)
    with open_services(settings) as svc:
        console.print(f"schema at the newest revision ({svc.db.dialect})")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default 8000).")] = None,
    database_url: DatabaseOption = None,
    demo: Annotated[
        bool,
        typer.Option(
            help="Fill an empty database with a realistic demo organization and print how to "
            "sign in."
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes sharing the port (PostgreSQL only; SQLite serves with one)."
        ),
    ] = 1,
) -> None:
    """Run the HTTP service (API and web UI)."""
    from auditledger.cli.serve import run_server

    run_server(settings_from(database_url, host=host, port=port), demo=demo, workers=workers)


@app.command()
def catalog(
    extensions: Annotated[
        Path | None,
        typer.Option(
            help="A catalog extension file (TOML); default from AUDITLEDGER_CATALOG_EXTENSIONS.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the event catalog this deployment accepts (the seed's and its extensions') as
    Markdown, like docs/events.md; a bad extension file is reported and exits 1."""
    from auditledger_client.core.catalog import SEED
    from auditledger_client.core.catalog.docs import render_markdown
    from auditledger_client.core.catalog.extensions import load_extensions

    path = extensions or settings_from().catalog_extensions
    try:
        extended = load_extensions(path) if path is not None else SEED
    except AuditLedgerError as exc:
        fail(exc)
    typer.echo(render_markdown(extended), nl=False)


def main() -> None:
    """Console-script entry point."""
    app()
