"""``auditledger keys``, ``checkpoint`` and ``verify``: sign the log and check it offline."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from auditledger.cli.common import (
    DatabaseOption,
    console,
    err_console,
    fail,
    open_services,
    settings_from,
)
from auditledger.core.checkpoint import split_notes
from auditledger.core.cosignature import WitnessKey, parse_witness_vkey
from auditledger.core.errors import AuditLedgerError, InvalidInput
from auditledger.core.keys import VerifierKey, parse_vkey
from auditledger.integrity.anchors import Anchored
from auditledger.integrity.bundle_verify import verify_bundle as verify_bundle_file
from auditledger.integrity.guards import guard_problems
from auditledger.integrity.source import open_source
from auditledger.integrity.verify import Finding, SavedCheckpoint, VerifyReport, verify_log
from auditledger.retention.audit import ProvenPurges
from auditledger.services import Services
from auditledger.tenancy.model import Organization

keys = typer.Typer(help="Show and rotate the key that signs checkpoints.", no_args_is_help=True)


@keys.command("public")
def keys_public(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the key(s) to this file.")
    ] = None,
    all_keys: Annotated[
        bool,
        typer.Option(
            "--all", help="Every registered key, retired ones too (old checkpoints need them)."
        ),
    ] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Print the verifier key, `<name>+<key id>+<base64 key>`, for auditors and C2SP tools."""
    settings = settings_from(database_url)
    with open_services(settings) as svc:
        if all_keys:
            lines = [r.key.vkey() for r in svc.checkpoints.repo.registered_keys()]
        else:
            lines = [svc.checkpoints.signing_key().verifier.vkey()]
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)
    if output is not None:
        output.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        err_console.print(f"written to {output}")


@keys.command("rotate")
def keys_rotate(database_url: DatabaseOption = None) -> None:
    """Sign with a new key from now on. The old key is retired (its public key stays in the
    registry, so old checkpoints still verify) and its file kept as `<file>.retired-<key id>`."""
    settings = settings_from(database_url)
    with open_services(settings) as svc:
        old, new = svc.checkpoints.rotate_key()
        console.print(f"retired {old.verifier.vkey()}", soft_wrap=True, highlight=False)
        console.print(f"  (kept in {svc.checkpoints.keys.retired_path(old)})", highlight=False)
        console.print(f"new key {new.verifier.vkey()}", soft_wrap=True, highlight=False)
        console.print("Give auditors the new verifier key (`auditledger keys public`).")


@keys.command("rotations")
def keys_rotations(database_url: DatabaseOption = None) -> None:
    """Print every rotation statement: signed notes linking each old key to its successor, so
    an auditor who trusts one key can check the others offline."""
    settings = settings_from(database_url)
    with open_services(settings) as svc:
        for statement in svc.checkpoints.repo.rotations():
            console.print(statement, end="", highlight=False, soft_wrap=True)


def _orgs(svc: Services, org: str | None) -> list[Organization]:
    if org is not None:
        return [svc.tenancy.org(org)]
    return svc.tenancy.repo.list_orgs()


def checkpoint(
    org: Annotated[str | None, typer.Option(help="Only this organization (default: all).")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Sign a checkpoint of each organization's log now (if it grew) and print it."""
    settings = settings_from(database_url)
    with open_services(settings) as svc:
        signed = []
        for organization in _orgs(svc, org):
            if svc.log.head(organization.id).tree_size == 0 and org is None:
                continue
            stored, created = svc.checkpoints.checkpoint(organization.id, organization.slug)
            state = "signed" if created else "unchanged since"
            err_console.print(f"{organization.slug}: {state} checkpoint {stored.tree_size}")
            signed.append((stored, organization.slug))
        failed: set[str] = set()  # a witness that failed is not asked again for the next log
        new = 0
        notes = []
        for stored, slug in signed:
            cosigned = svc.cosigning.checkpoint_cosigned(stored, slug, failed)
            new += len(cosigned.cosignatures) - len(stored.cosignatures)
            notes.append(cosigned.served_note)
        if svc.cosigning.witnesses:
            err_console.print(f"{new} new witness cosignatures", highlight=False)
        for note in notes:
            console.print(note, end="", highlight=False, soft_wrap=True)


def _key_texts(values: list[str]) -> list[str]:
    """Each option value as given, or, where it names a file, that file's keys (one per line;
    blank lines and ``#`` comments skipped)."""
    texts: list[str] = []
    for value in values:
        path = Path(value)
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            texts += [line for line in lines if line.strip() and not line.startswith("#")]
        else:
            texts.append(value)
    return texts


def verifier_keys(values: list[str]) -> list[VerifierKey]:
    """Log keys from ``--public-key`` values: vkeys, or files of them (one per line)."""
    return [parse_vkey(text, "--public-key") for text in _key_texts(values)]


def witness_keys(values: list[str]) -> list[WitnessKey]:
    """Witness keys from ``--witness`` values: vkeys, or files of them (one per line)."""
    return [parse_witness_vkey(text, "--witness") for text in _key_texts(values)]


def witness_policy(values: list[str] | None, required: int | None) -> tuple[list[WitnessKey], int]:
    """(witness keys, how many distinct witnesses must have cosigned) from the options; exits
    if inconsistent. A key given twice is one witness, and so are two keys of one name."""
    try:
        witnesses = list(dict.fromkeys(witness_keys(values or [])))
    except InvalidInput as exc:
        fail(exc)
    distinct = len({w.name for w in witnesses})
    if required is None:
        return witnesses, distinct
    if not witnesses and required > 0:
        fail("--witnesses-required needs --witness: the witness keys to count")
    if required > distinct:
        fail(f"--witnesses-required {required} exceeds the {distinct} witnesses given (--witness)")
    return witnesses, required


WitnessOption = Annotated[
    list[str] | None,
    typer.Option(
        "--witness",
        help="A witness's public key (`<name>+<key id>+<base64(0x04 || key)>`, as `auditledger "
        "witness public` prints it) or a file of them. Its cosignatures must verify, and "
        "count towards --witnesses-required. Repeatable.",
    ),
]
WitnessesRequiredOption = Annotated[
    int | None,
    typer.Option(
        "--witnesses-required",
        min=0,
        help="How many of the --witness keys must have cosigned the checkpoint the result "
        "stands on (default: all of them).",
    ),
]


def _saved(paths: list[Path]) -> list[SavedCheckpoint]:
    saved: list[SavedCheckpoint] = []
    for path in paths:
        try:
            content = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {path}: {exc}")
        notes = split_notes(content)
        if not notes:
            fail(f"{path} holds no checkpoint")
        for index, note in enumerate(notes):
            label = str(path) if len(notes) == 1 else f"{path} #{index + 1}"
            saved.append(SavedCheckpoint(label, note))
    return saved


def _print_report(report: VerifyReport, seconds: float) -> None:
    rate = report.events_checked / seconds if seconds > 0 else 0.0
    purged = f", {report.purged} purged by retention (proven)" if report.purged else ""
    summary = (
        f"{report.org}: {report.tree_size} events, {report.events_checked} stored events "
        f"re-hashed{purged}, {report.checkpoints_checked} checkpoints, in {seconds:.1f} s "
        f"({rate:,.0f} events/s)"
    )
    if report.ok:
        console.print(f"[green]OK[/] {summary}", highlight=False, soft_wrap=True)
        return
    console.print(f"[bold red]FAILED[/] {summary}", highlight=False, soft_wrap=True)
    for finding in report.findings:
        console.print(f"  - {finding.describe()}", highlight=False, soft_wrap=True)


def verify(
    org: Annotated[str | None, typer.Option(help="Only this organization (default: all).")] = None,
    against: Annotated[
        list[Path] | None,
        typer.Option(
            help="A checkpoint saved earlier (a file of one or more signed notes); the log must "
            "contain it. Repeatable."
        ),
    ] = None,
    public_key: Annotated[
        list[str] | None,
        typer.Option(
            help="Trust only this verifier key (or a file of them, one per line) and keys "
            "rotation statements link to it. Without it: the signing key file on this machine "
            "and keys that signed --against checkpoints. Keys the database alone names are "
            "never trusted. Repeatable."
        ),
    ] = None,
    witness: WitnessOption = None,
    witnesses_required: WitnessesRequiredOption = None,
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=2,
            help="With 2, a second process checks the upper half of the seqs of a log of "
            "200,000 or more meanwhile: about half the wall time where two cores are free. "
            "Default: 2 on a machine with two cores or more, else 1.",
        ),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Check every stored event, leaf, tree node and checkpoint; list exactly what is wrong.

    Every stored witness cosignature is checked too: its columns against its line, its
    checkpoint, and its signature where the witness's key is known (--witness, or the
    configured AUDITLEDGER_WITNESSES). With --witness, the newest checkpoint (and each
    --against one) must carry enough valid witness cosignatures. Exits with status 1 if
    anything is wrong.
    """
    if processes is None:
        # A second process only helps where a second core can run it.
        processes = 2 if (os.cpu_count() or 1) >= 2 else 1
    settings = settings_from(database_url)
    try:
        trusted = verifier_keys(public_key or [])
    except InvalidInput as exc:
        fail(exc)
    witnesses, required = witness_policy(witness, witnesses_required)
    saved = _saved(against or [])
    if saved and org is None:
        fail("--against needs --org: a checkpoint belongs to one organization's log")
    failed = False
    with open_services(settings) as svc:
        anchored = svc.checkpoints.anchored(trusted, [s.note for s in saved])
        _print_anchors(anchored, bool(trusted))
        verifiers = anchored.trusted
        with svc.db.read() as connection:
            guards = guard_problems(connection, svc.db.is_postgres)
        for organization in _orgs(svc, org):
            report, seconds = _verify_one(
                svc,
                organization,
                verifiers,
                saved,
                witnesses=witnesses,
                required=required,
                processes=processes,
            )
            report.findings.extend(Finding("guard", problem) for problem in guards)
            report.findings.extend(
                Finding(
                    "unanchored_key",
                    f"signing key {key.vkey()} is in the database but no trust anchor vouches "
                    "for it (a key registered by whoever wrote to the database?)",
                )
                for key in anchored.unanchored
            )
            if not anchored.any:
                report.findings.append(Finding("no_anchor", NO_ANCHOR))
            _print_report(report, seconds)
            failed = failed or not report.ok
    if failed:
        raise typer.Exit(1)


NO_ANCHOR = (
    "no trust anchor: signatures cannot be checked against keys the database itself holds. "
    "Pass --public-key (the verifier key, or a file of them), run where the signing key file "
    "is, or pass --against a checkpoint you saved"
)


def _print_anchors(anchored: Anchored, pinned: bool) -> None:
    if not anchored.any:
        err_console.print(f"[bold red]{NO_ANCHOR}[/]", highlight=False, soft_wrap=True)
        return
    if not pinned:
        err_console.print("trusting (no --public-key given):", highlight=False)
        for source in anchored.sources:
            err_console.print(f"  {source}", highlight=False, soft_wrap=True)


def _verify_one(
    svc: Services,
    organization: Organization,
    verifiers: list[VerifierKey],
    saved: list[SavedCheckpoint],
    *,
    witnesses: list[WitnessKey],
    required: int,
    processes: int,
) -> tuple[VerifyReport, float]:
    started = time.perf_counter()
    with (
        Progress(
            TextColumn(f"verifying {organization.slug}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f} seqs"),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as bar,
        open_source(svc.db, organization.id) as source,
    ):
        task = bar.add_task("verify", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        with svc.db.read() as connection:
            purged = ProvenPurges(
                connection,
                organization.id,
                svc.settings.retention_days,
                svc.settings.retention_floor_days,
            )
        try:
            report = verify_log(
                source,
                org_slug=organization.slug,
                origin=svc.checkpoints.origin(organization.slug),
                verifiers=verifiers,
                against=saved,
                purged=purged,
                progress=progress,
                witnesses=witnesses,
                witnesses_required=required,
                known_witnesses=[w.key for w in svc.settings.witnesses],
                processes=processes,
            )
        except AuditLedgerError as exc:
            fail(exc)
    report.purged = purged.hits
    report.findings.extend(purged.final_findings())
    if purged.legacy_hits:
        err_console.print(
            f"{organization.slug}: {purged.legacy_hits} events were purged before expiry "
            "proofs existed; their expiry rests on the purge records alone",
            highlight=False,
        )
    return report, time.perf_counter() - started


def verify_bundle(
    bundle: Annotated[Path, typer.Argument(help="The evidence bundle (.zip) to check.")],
    public_key: Annotated[
        list[str],
        typer.Option(
            help="The log's verifier key (`<name>+<id>+<key>`, as `auditledger keys public` "
            "prints it), or a file of them. Repeatable. Obtain it separately from the bundle."
        ),
    ],
    witness: WitnessOption = None,
    witnesses_required: WitnessesRequiredOption = None,
) -> None:
    """Check an evidence bundle offline: no database, no server, only the public key.

    Reports any edited, added, dropped or reordered record, and any altered file; with
    --witness, the bundle's checkpoint must carry enough witness cosignatures. Exits with
    status 1 if anything is wrong.
    """
    try:
        trusted = verifier_keys(public_key)
    except InvalidInput as exc:
        fail(exc)
    witnesses, required = witness_policy(witness, witnesses_required)
    report = verify_bundle_file(bundle, trusted, witnesses=witnesses, witnesses_required=required)
    summary = (
        f"{bundle}: {report.records} records of {report.organization or '?'}, proven by the "
        f"checkpoint of {report.tree_size} events"
    )
    if report.ok:
        console.print(f"[green]OK[/] {summary}", highlight=False, soft_wrap=True)
        return
    console.print(f"[bold red]FAILED[/] {summary}", highlight=False, soft_wrap=True)
    for problem in report.problems:
        console.print(f"  - {problem}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)
