"""``auditledger destinations`` and ``auditledger verify-stream``: streaming, from a shell."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from auditledger.cli.common import DatabaseOption, console, fail, open_services, settings_from
from auditledger.cli.integrity import verifier_keys
from auditledger.cli.retention import operator
from auditledger.core.errors import InvalidInput, Problem
from auditledger.query.filters import FILTER_PARAMETERS
from auditledger.streaming.model import BOOLEAN_SETTINGS, PEM_SETTINGS
from auditledger.streaming.status import destination_status
from auditledger.streaming.verify import verify_stream as verify_lines
from auditledger.streaming.worker import wall_clock

destinations = typer.Typer(
    help="Streaming destinations: where each organization's log is delivered.",
    no_args_is_help=True,
)


def _pairs(values: list[str], option: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            fail(InvalidInput(f"bad {option}", [Problem(option, f"{value!r} is not KEY=VALUE")]))
        found[key] = _value(key, text, option)
    return found


def _value(key: str, text: str, option: str) -> Any:
    """A setting's value from the command line: ports are numbers, ``tls`` and ``tls_verify``
    true or false, and PEM text may be read from a file with ``@path``."""
    if key == "port" and text.isdigit():
        return int(text)
    if key in BOOLEAN_SETTINGS and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if key in PEM_SETTINGS and text.startswith("@"):
        try:
            return Path(text[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(InvalidInput(f"bad {option}", [Problem(option, f"cannot read {text[1:]}: {exc}")]))
    return text


def _filters(values: list[str]) -> list[tuple[str, str]]:
    items = []
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or key not in FILTER_PARAMETERS:
            fail(
                InvalidInput(
                    "bad --filter",
                    [
                        Problem(
                            "--filter",
                            f"{value!r}: use NAME=VALUE, NAME one of {FILTER_PARAMETERS}",
                        )
                    ],
                )
            )
        items.append((key, text))
    return items


@destinations.command("list")
def list_destinations(
    org: Annotated[str, typer.Argument(help="Organization slug.")],
    database_url: DatabaseOption = None,
) -> None:
    """Each destination with its state, lag, counters and last error (never its secrets)."""
    # One block per destination, one field a line: readable at any terminal width.
    with open_services(settings_from(database_url)) as svc:
        organization = svc.tenancy.org(org)
        found = svc.destinations.list(organization)
        if not found:
            console.print(f"{org} has no destinations")
        for d in found:
            status = destination_status(svc.db, d, wall_clock())
            fields = {
                "transport": d.transport.value,
                "state": d.state.value,
                "settings": ", ".join(f"{k}={v}" for k, v in sorted(d.settings.items())),
                "secrets": ", ".join(f"{name}=(set)" for name in d.secret_names()) or "none",
                "filters": d.event_filter.describe(),
                "sources": "yes" if d.include_source else "no",
                "next seq": str(d.next_seq),
                "lag": f"{status.lag_events} events, {status.lag_seconds:.1f} s",
                "delivered": str(d.delivered),
                "failed": str(d.failed),
                "last error": d.last_error or "none",
            }
            console.print(f"[bold]{d.name}[/] ({d.id})", highlight=False, soft_wrap=True)
            for key, value in fields.items():
                console.print(f"  {key:<10} {value}", highlight=False, soft_wrap=True, markup=False)


@destinations.command("add")
def add(
    org: Annotated[str, typer.Argument(help="Organization slug.")],
    name: Annotated[str, typer.Argument(help="A name for the destination.")],
    transport: Annotated[str, typer.Option(help="webhook, syslog or nats.")],
    setting: Annotated[
        list[str],
        typer.Option(
            "--setting",
            help="KEY=VALUE, e.g. url=https://siem/in, tls=true, tls_ca=@ca.pem. Repeat.",
        ),
    ],
    secret: Annotated[
        list[str] | None,
        typer.Option(
            "--secret",
            help="KEY=VALUE, e.g. hmac_key=... or tls_client_key=@key.pem; never shown again.",
        ),
    ] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option("--filter", help="NAME=VALUE, the view's filters (project=prj-1). Repeat."),
    ] = None,
    include_source: Annotated[
        bool, typer.Option("--include-source", help="Send IP addresses and locations.")
    ] = False,
    start_seq: Annotated[
        int | None, typer.Option(help="First sequence number to deliver (default: from now).")
    ] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Create a destination (recorded as audit_log.destination_create)."""
    with open_services(settings_from(database_url), start_writer=True) as svc:
        created = svc.destinations.create(
            svc.tenancy.org(org),
            name=name,
            transport=transport,
            settings=_pairs(setting, "--setting"),
            secrets=_pairs(secret or [], "--secret"),
            filters=_filters(filter_ or []),
            include_source=include_source,
            start_seq=start_seq,
            paused=paused,
            actor=operator(),
        )
        console.print(
            f"created destination {created.name} ({created.id}), from seq {created.next_seq}"
        )


def _act(action: str, org: str, destination: str, database_url: str | None) -> None:
    with open_services(settings_from(database_url), start_writer=True) as svc:
        organization = svc.tenancy.org(org)
        found = svc.destinations.get(organization, destination)
        if action == "delete":
            svc.destinations.delete(organization, found, actor=operator(), source_ip=None)
        else:
            svc.destinations.transition(
                organization, found, action, actor=operator(), source_ip=None
            )
        console.print(f"{action}: {found.name} ({found.id})")


@destinations.command("pause")
def pause(
    org: Annotated[str, typer.Argument(help="Organization slug.")],
    destination: Annotated[str, typer.Argument(help="Destination name or id.")],
    database_url: DatabaseOption = None,
) -> None:
    """Stop delivering; the cursor stays where it is."""
    _act("pause", org, destination, database_url)


@destinations.command("resume")
def resume(
    org: Annotated[str, typer.Argument(help="Organization slug.")],
    destination: Annotated[str, typer.Argument(help="Destination name or id.")],
    database_url: DatabaseOption = None,
) -> None:
    """Deliver again from the cursor (after a pause, or a dead letter's retry)."""
    _act("resume", org, destination, database_url)


@destinations.command("retry")
def retry(
    org: Annotated[str, typer.Argument(help="Organization slug.")],
    destination: Annotated[str, typer.Argument(help="Destination name or id.")],
    database_url: DatabaseOption = None,
) -> None:
    """Retry a dead-lettered destination from its cursor (recorded as a resume)."""
    _act("retry", org, destination, database_url)


@destinations.command("delete")
def delete(
    org: Annotated[str, typer.Argument(help="Organization slug.")],
    destination: Annotated[str, typer.Argument(help="Destination name or id.")],
    database_url: DatabaseOption = None,
) -> None:
    """Delete a destination (recorded as audit_log.destination_delete)."""
    _act("delete", org, destination, database_url)


def verify_stream(
    stream: Annotated[
        Path | None, typer.Argument(help="A saved stream (one JSON batch per line); default stdin.")
    ] = None,
    public_key: Annotated[
        list[str] | None,
        typer.Option(help="The log's verifier key, or a file of them. Repeatable."),
    ] = None,
) -> None:
    """Check a captured stream offline with the public key alone: every event is in the log,
    unaltered, and nothing between two batches was skipped. Exit status 1 if not."""
    if not public_key:
        fail(InvalidInput("no key", [Problem("--public-key", "give the log's verifier key")]))
    try:
        trusted = verifier_keys(public_key)
    except InvalidInput as exc:
        fail(exc)
    try:
        if stream is None:
            report = verify_lines(sys.stdin, trusted)
        else:
            with stream.open(encoding="utf-8") as handle:
                report = verify_lines(handle, trusted)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {stream}: {exc}")
    summary = (
        f"{report.batches} batches, {report.events} events, seq {report.first_seq} to "
        f"{report.to_seq}, checkpoint of {report.tree_size}"
    )
    if report.unbound:
        summary += f" ({report.unbound} events without their hashed content: source withheld)"
    if report.ok:
        console.print(f"[green]OK[/] {summary}", highlight=False, soft_wrap=True)
        return
    console.print(f"[bold red]FAILED[/] {summary}", highlight=False, soft_wrap=True)
    for problem in report.problems[:200]:
        console.print(f"  - {problem}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


__all__ = ["destinations", "verify_stream"]
