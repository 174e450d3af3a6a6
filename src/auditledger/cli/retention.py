"""``auditledger purge`` and ``auditledger retention``: how long events are kept; the purge."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from auditledger.cli.common import DatabaseOption, console, open_services, settings_from
from auditledger.retention.purge import PurgeReport
from auditledger_client.core.event import Actor

retention = typer.Typer(
    help="Show and change retention periods and legal holds.", no_args_is_help=True
)


def operator() -> Actor:
    # Whoever runs the CLI holds the database; the log still says who they were.
    return Actor("system", "cli", f"auditledger CLI (OS user {getpass.getuser()})")


def _report_table(report: PurgeReport) -> Table:
    title = "would purge (dry run)" if report.dry_run else "purged"
    table = Table("organization", "retention", "cutoff (events before)", title, "how", title=None)
    for item in report.orgs:
        if item.held:
            how = "legal hold: nothing purged"
        elif report.dry_run or not item.count:
            how = ""
        else:
            how = f"{item.partitions_dropped} partitions dropped, {item.rows_deleted} rows deleted"
        table.add_row(
            item.org.slug,
            f"{item.days} days",
            item.cutoff.strftime("%Y-%m-%d %H:%M UTC"),
            f"{item.count:,}",
            how,
        )
    return table


def purge(
    org: Annotated[str | None, typer.Option(help="Only this organization.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would go; change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Remove events past their organization's retention (idempotent, safe to run anywhere).

    Leaf hashes and checkpoints stay, so verification and proofs of the remaining events keep
    working; each purge is itself recorded in the organization's log.
    """
    with open_services(settings_from(database_url), start_writer=True) as svc:
        preview = svc.retention.purge(org_slug=org, dry_run=True)
        console.print(_report_table(preview))
        if dry_run:
            return
        if preview.total == 0:
            console.print("nothing to purge")
            return
        if not yes and not typer.confirm(f"Purge {preview.total:,} events?"):
            raise typer.Exit(1)
        report = svc.retention.purge(org_slug=org)
        if report.skipped:
            console.print(f"nothing done: {report.skipped}")
            raise typer.Exit(1)
        console.print(_report_table(report))


@retention.command("show")
def show(database_url: DatabaseOption = None) -> None:
    """Each organization's retention, cutoff and legal hold."""
    with open_services(settings_from(database_url)) as svc:
        report = svc.retention.purge(dry_run=True)
        table = Table("organization", "retention", "events before this go", "legal hold", "due now")
        for item in report.orgs:
            hold = "yes" + (
                f" ({item.org.legal_hold_reason})" if item.org.legal_hold_reason else ""
            )
            table.add_row(
                item.org.slug,
                f"{item.days} days" + ("" if item.org.retention_days else " (default)"),
                item.cutoff.strftime("%Y-%m-%d %H:%M UTC"),
                hold if item.held else "no",
                f"{item.count:,}",
            )
        console.print(table)


@retention.command("set")
def set_days(
    org: Annotated[str, typer.Argument(help="Organization slug.")],
    days: Annotated[
        int | None, typer.Option(help="Days to keep events; omit to use the deployment default.")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Set an organization's retention (never below the configured floor)."""
    with open_services(settings_from(database_url), start_writer=True) as svc:
        updated = svc.retention.set_retention(svc.tenancy.org(org), days, actor=operator())
        console.print(f"{org} keeps events for {svc.retention.days(updated)} days")


@retention.command("hold")
def hold(
    org: Annotated[str, typer.Argument(help="Organization slug.")],
    reason: Annotated[str | None, typer.Option(help="Why, e.g. a case number.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Place a legal hold: nothing of this organization is purged until it is released."""
    with open_services(settings_from(database_url), start_writer=True) as svc:
        svc.retention.set_legal_hold(svc.tenancy.org(org), True, reason=reason, actor=operator())
        console.print(f"legal hold placed on {org}")


@retention.command("release")
def release(
    org: Annotated[str, typer.Argument(help="Organization slug.")],
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Release a legal hold; the next purge removes what is past retention."""
    with open_services(settings_from(database_url), start_writer=True) as svc:
        svc.retention.set_legal_hold(svc.tenancy.org(org), False, reason=reason, actor=operator())
        console.print(f"legal hold on {org} released")
