"""``auditledger export``: the same export as the API, to a file, from a server or a database."""

from __future__ import annotations

import csv
import getpass
import json
import os
import zipfile
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from auditledger.cli.common import DatabaseOption, console, fail, open_services, settings_from
from auditledger.core.errors import AuditLedgerError
from auditledger.export.service import ExportFormat, ExportRun
from auditledger.query.filters import EventFilter, parse_filters
from auditledger.query.search import check_known_values
from auditledger_client.core.event import Actor

FILTER_HELP = "Repeat to allow several values (they combine with OR)."


def _filter_items(
    since: str | None,
    until: str | None,
    tz: str | None,
    project: list[str],
    model: list[str],
    model_version: list[str],
    category: list[str],
    type_: list[str],
    actor: list[str],
    subject: list[str],
) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for name, value in (("from", since), ("to", until), ("tz", tz)):
        if value:
            items.append((name, value))
    for name, values in (
        ("project", project),
        ("model", model),
        ("model_version", model_version),
        ("category", category),
        ("type", type_),
        ("actor", actor),
        ("subject", subject),
    ):
        items.extend((name, v) for v in values)
    return items


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def export(
    org: Annotated[str, typer.Option(help="Organization slug.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="csv, jsonl, or bundle (an evidence zip: records, proofs, signed checkpoint "
            "and manifest; check it with `auditledger verify-bundle`).",
        ),
    ] = ExportFormat.CSV,
    since: Annotated[str | None, typer.Option("--from", help="Start date or date-time.")] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="End date or date-time (inclusive).")
    ] = None,
    tz: Annotated[
        str | None, typer.Option(help="Time zone for dates, e.g. Europe/Helsinki.")
    ] = None,
    project: Annotated[list[str], typer.Option(help=f"Project id. {FILTER_HELP}")] = [],  # noqa: B006
    model: Annotated[list[str], typer.Option(help=f"Model id. {FILTER_HELP}")] = [],  # noqa: B006
    model_version: Annotated[list[str], typer.Option(help=f"Model version id. {FILTER_HELP}")] = [],  # noqa: B006
    category: Annotated[list[str], typer.Option(help=f"Category. {FILTER_HELP}")] = [],  # noqa: B006
    type_: Annotated[list[str], typer.Option("--type", help=f"Event type. {FILTER_HELP}")] = [],  # noqa: B006
    actor: Annotated[list[str], typer.Option(help=f"Actor id. {FILTER_HELP}")] = [],  # noqa: B006
    subject: Annotated[list[str], typer.Option(help=f"Subject id. {FILTER_HELP}")] = [],  # noqa: B006
    server: Annotated[
        str | None, typer.Option(help="Export through a running server, e.g. http://host:8000.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="AUDITLEDGER_TOKEN", help="Read credential for --server."),
    ] = None,
    bom: Annotated[
        bool, typer.Option("--bom", help="CSV: start with a UTF-8 byte order mark (for Excel).")
    ] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Export every matching event (no 500 cap) to a file, with a progress bar.

    Written to FILE.partial and renamed to FILE only when complete: an interrupted export never
    leaves a file that looks whole.
    """
    items = _filter_items(
        since, until, tz, project, model, model_version, category, type_, actor, subject
    )
    partial = output.with_name(output.name + ".partial")
    finished = False
    try:
        flt = parse_filters(items)
        if server:
            if not token:
                fail("--server needs a read credential: --token or AUDITLEDGER_TOKEN")
            query = [*items, ("bom", "true")] if bom and fmt is ExportFormat.CSV else items
            rows = _from_server(server, token, org, fmt, query, partial)
        else:
            rows = _from_database(database_url, org, fmt, flt, partial, bom=bom)
        os.replace(partial, output)
        finished = True
    except AuditLedgerError as exc:
        fail(exc)
    finally:
        if not finished:
            partial.unlink(missing_ok=True)
    console.print(f"wrote {rows:,} events to {output}")


def _from_database(
    database_url: str | None,
    org: str,
    fmt: ExportFormat,
    flt: EventFilter,
    partial: Path,
    *,
    bom: bool = False,
) -> int:
    with open_services(settings_from(database_url), start_writer=True) as svc:
        organization = svc.tenancy.org(org)
        with svc.db.read() as connection:
            check_known_values(connection, organization.id, flt)
        run = ExportRun(bom=bom)
        # Whoever holds the database holds everything, sources included; say who it was.
        actor = Actor("system", "cli", f"auditledger export (OS user {getpass.getuser()})")
        if fmt is ExportFormat.BUNDLE:
            with console.status(f"writing the evidence bundle of {org}"):
                summary = svc.export.write_bundle(
                    organization, flt, partial, actor=actor, source_ip=None
                )
            return summary.records
        with _progress() as progress, partial.open("wb") as out:
            task = progress.add_task(f"exporting {org}", total=None, rate="")
            for chunk in svc.export.stream(
                organization, flt, fmt, include_source=True, actor=actor, source_ip=None, run=run
            ):
                out.write(chunk)
                elapsed = progress.tasks[0].elapsed or 1e-9
                progress.update(task, completed=run.rows, rate=f"{run.rows / elapsed:,.0f}/s")
        return run.rows


def _from_server(
    server: str,
    token: str,
    org: str,
    fmt: ExportFormat,
    items: list[tuple[str, str]],
    partial: Path,
) -> int:
    import httpx2 as httpx

    url = f"{server.rstrip('/')}/api/v1/orgs/{org}/export.{fmt.extension}"
    rows = 0
    try:
        with (
            httpx.stream(
                "GET",
                url,
                params=tuple(items),
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(30.0, read=300.0),
            ) as response,
            _progress() as progress,
            partial.open("wb") as out,
        ):
            if response.status_code != 200:
                response.read()
                message = response.json().get("error", {}).get("message", response.text)
                fail(f"{response.status_code}: {message}")
            task = progress.add_task(f"exporting {org}", total=None, rate="")
            for chunk in response.iter_bytes():
                out.write(chunk)
                rows += chunk.count(b"\n")
                elapsed = progress.tasks[0].elapsed or 1e-9
                progress.update(task, completed=rows, rate=f"{rows / elapsed:,.0f}/s")
    except httpx.HTTPError as exc:
        fail(f"the export did not complete ({exc}); nothing was written")
    if fmt is ExportFormat.BUNDLE:
        with zipfile.ZipFile(partial) as archive:
            return int(json.loads(archive.read("manifest.json"))["records"])
    if fmt is ExportFormat.CSV:
        # Values may hold newlines, so count records, not lines (the header is not an event).
        with partial.open(newline="", encoding="utf-8-sig") as written:
            return sum(1 for _ in csv.reader(written)) - 1
    return rows
