"""Load the demo organizations into a database through the real ingest path."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from auditledger.core.canonical import format_timestamp
from auditledger.core.errors import AuditLedgerError, NotFound
from auditledger.demo.generate import generate
from auditledger.integrity.files import replace_file
from auditledger.retention.policy import start_of_day
from auditledger.services import Services
from auditledger.tenancy import tokens
from auditledger.tenancy.model import CredentialKind, Organization, Role
from auditledger_client.core.validate import parse_event
from auditledger_client.core.wire import MAX_BATCH_EVENTS

DEMO_DAYS = 200
DEMO_ORGS = (
    ("northwind", "Northwind AI", 1.0),
    # A second, smaller organization: its people must never see Northwind's log, and back.
    ("globex", "Globex Research", 0.25),
)


class Printer(Protocol):
    """Where progress goes (a rich Console, or anything with ``print``)."""

    def print(self, *objects: object) -> None:
        """Print a line."""
        ...


@dataclass(frozen=True)
class DemoAccess:
    """How to get into the demo."""

    accounts: list[tuple[str, str, str]]  # (username, password, description)
    ingest_token: str
    credentials_file: Path | None = None

    def lines(self) -> list[str]:
        """What `serve --demo` prints."""
        lines = []
        for user, password, description in self.accounts:
            lines.append(f"{description}: [bold]{user}[/] / [bold]{password}[/]")
        lines.append("Platform ingest token, for the README's curl example:")
        lines.append(f"  [bold]export TOKEN={self.ingest_token}[/]")
        if self.credentials_file is not None:
            lines.append(
                f"These stay the same on every restart with this data (kept in "
                f"{self.credentials_file}); delete that folder for a new demo."
            )
        else:
            lines.append(
                "Passwords and token are new on every start; the previous token is revoked."
            )
        return lines


def _load_events(services: Services, org: Organization, scale: float, progress: Printer) -> int:
    now = services.clock.now()
    start = start_of_day(now) - timedelta(days=DEMO_DAYS)
    total = 0
    for day_events in generate(
        start, DEMO_DAYS + 1, seed=zlib.crc32(org.slug.encode()), per_day_scale=scale
    ):
        day_events = [e for e in day_events if e["timestamp"] <= format_timestamp(now)]
        for offset in range(0, len(day_events), MAX_BATCH_EVENTS):
            chunk = day_events[offset : offset + MAX_BATCH_EVENTS]
            if not chunk:
                continue
            # As if each day's events had arrived that day, a few seconds after the last one.
            last = max(parse_event(e, received_at=now).occurred_at for e in chunk)
            received_at = min(now, last + timedelta(seconds=3))
            drafts = [parse_event(e, received_at=received_at) for e in chunk]
            services.ingest.ingest_blocking(org, drafts, received_at)
            total += len(drafts)
    progress.print(f"loaded {total} events into {org.slug}")
    return total


def _stored(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _working_token(services: Services, token: object) -> str | None:
    if not isinstance(token, str):
        return None
    try:
        principal = services.tenancy.authenticate_token(token)
    except AuditLedgerError:
        return None
    return token if principal.kind == "ingest" else None


def ensure_demo(
    services: Services, progress: Printer, *, credentials_file: Path | None = None
) -> DemoAccess:
    """Create the demo organizations once, and say how to get in.

    With ``credentials_file`` (``demo-data/demo-credentials.json`` for ``make run``) the
    passwords and the ingest token are kept there, readable by the owner only, and reused on
    every start, so a restart does not break a token already exported in a shell. Without it,
    every start hands out fresh ones and revokes the previous token.
    """
    tenancy = services.tenancy
    stored = _stored(credentials_file)
    passwords = stored.get("passwords") if isinstance(stored.get("passwords"), dict) else {}
    assert isinstance(passwords, dict)
    accounts: list[tuple[str, str, str]] = []
    for slug, name, scale in DEMO_ORGS:
        try:
            org = tenancy.org(slug)
            fresh = False
        except NotFound:
            org = tenancy.create_org(slug, name)
            fresh = True
        if fresh:
            progress.print(f"creating demo organization {slug} ({DEMO_DAYS} days of events)...")
            _load_events(services, org, scale, progress)
        for role in (Role.ADMIN, Role.MEMBER):
            username = f"{role.value}@{slug}.example"
            kept = passwords.get(username)
            password = kept if isinstance(kept, str) and kept else tokens.generate_password()
            found = tenancy.repo.user_by_username(username)
            if found is None:
                user = tenancy.create_user(username, f"{name} {role.value}", password)
            else:
                user = found[0]
                tenancy.repo.set_password(user.id, tokens.hash_password(password))
            tenancy.add_member(org, user, role)
            accounts.append((username, password, f"{name} {role.value}"))
    token = _working_token(services, stored.get("ingest_token")) if credentials_file else None
    if token is None:
        for credential in tenancy.repo.list_credentials():
            if credential.name == "demo-platform" and credential.revoked_at is None:
                tenancy.revoke_credential(credential.public_id)
        token = tenancy.issue_credential(CredentialKind.INGEST, "demo-platform", org=None).token
    if credentials_file is not None:
        body = {"passwords": {u: p for u, p, _ in accounts}, "ingest_token": token}
        replace_file(credentials_file, (json.dumps(body, indent=2) + "\n").encode())
    return DemoAccess(accounts, token, credentials_file)
