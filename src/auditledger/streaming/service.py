"""Destinations managed by administrators; every change is an event of the log itself.

Create, change, pause, resume (also the retry of a dead-lettered destination) and delete are
recorded as ``audit_log.destination_*`` events, with the destination's name, transport, filters
and whether it receives sources, and never a secret.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from auditledger.core.errors import InvalidInput, NotFound, Problem
from auditledger.ingest.service import IngestService
from auditledger.query.filters import parse_filters
from auditledger.store.log import SqlEventLog
from auditledger.streaming.model import (
    Destination,
    State,
    check_allowed_target,
    check_settings,
    check_transport,
    dumps,
    secret_in_use,
)
from auditledger.streaming.repository import DestinationRepository
from auditledger.tenancy.model import Organization
from auditledger_client.core.clock import Clock
from auditledger_client.core.event import Actor, Subject

MAX_NAME = 128


class Action(StrEnum):
    """A change of a destination's delivery state that an administrator asks for."""

    PAUSE = "pause"
    RESUME = "resume"
    RETRY = "retry"  # of a dead letter; the same as a resume, kept apart for the record's reader


# The event each action is recorded as (a retry is a resume: both deliver from the cursor).
RECORDED_AS = {
    Action.PAUSE: "destination_pause",
    Action.RESUME: "destination_resume",
    Action.RETRY: "destination_resume",
}


def check_action(value: Action | str) -> Action:
    """``value`` as an :class:`Action`, or :class:`InvalidInput` naming the allowed ones."""
    try:
        return Action(value)
    except ValueError:
        allowed = ", ".join(a.value for a in Action)
        raise InvalidInput(
            "unknown action", [Problem("action", f"must be one of: {allowed}")]
        ) from None


class DestinationService:
    """Create, change, pause, resume and delete destinations."""

    def __init__(
        self,
        repo: DestinationRepository,
        log: SqlEventLog,
        ingest: IngestService,
        clock: Clock,
        *,
        allowed_networks: Sequence[str],
    ) -> None:
        self.repo = repo
        self.log = log
        self.ingest = ingest
        self.clock = clock
        self.allowed_networks = tuple(allowed_networks)

    def list(self, org: Organization) -> list[Destination]:
        """The organization's destinations, by name."""
        return self.repo.list(org.id)

    def get(self, org: Organization, destination_id: uuid.UUID | str) -> Destination:
        """One destination, by id or by name; :class:`NotFound` if the organization has none."""
        found = None
        if isinstance(destination_id, uuid.UUID):
            found = self.repo.get(org.id, destination_id)
        else:
            try:
                found = self.repo.get(org.id, uuid.UUID(destination_id))
            except ValueError:
                found = None
            found = found or self.repo.by_name(org.id, destination_id)
        if found is None:
            raise NotFound(f"no destination {str(destination_id)[:80]!r} in {org.slug}")
        return found

    def create(
        self,
        org: Organization,
        *,
        name: str,
        transport: str,
        settings: Mapping[str, Any],
        secrets: Mapping[str, Any] | None = None,
        filters: Sequence[tuple[str, str]] = (),
        include_source: bool = False,
        start_seq: int | None = None,
        paused: bool = False,
        actor: Actor,
        source_ip: str | None = None,
    ) -> Destination:
        """A new destination, delivering from now (``start_seq`` None) or from ``start_seq``."""
        kind = check_transport(transport)
        clean, secret_values = check_settings(kind, settings, secrets or {})
        _check_name(name)
        parse_filters(filters, allow_search=False)  # the same rules as the view's filters
        check_allowed_target(kind, clean, self.allowed_networks)
        size = self.log.head(org.id).tree_size
        if start_seq is not None and not 0 <= start_seq <= size:
            raise InvalidInput(
                "bad start",
                [Problem("start_seq", f"must be between 0 and {size} (the log's current size)")],
            )
        if self.repo.by_name(org.id, name) is not None:
            raise InvalidInput(
                "name taken", [Problem("name", f"{org.slug} already has a destination {name!r}")]
            )
        start = size if start_seq is None else start_seq
        now = self.clock.now()
        destination_id = uuid.uuid4()
        self.repo.insert(
            {
                "id": destination_id,
                "org_id": org.id,
                "name": name,
                "transport": kind.value,
                "settings": dumps(clean),
                "secrets": dumps(secret_values),
                "filters": dumps([list(item) for item in filters]),
                "include_source": include_source,
                "state": (State.PAUSED if paused else State.ACTIVE).value,
                "next_seq": start,
                "batch_from": start,
                "last_tree_size": None,
                "delivered": 0,
                "failed": 0,
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": None,
                "last_delivered_at": None,
                "lease_owner": None,
                "lease_expires": None,
                "created_at": now,
                "updated_at": now,
            }
        )
        created = self.get(org, destination_id)
        self._record(org, "destination_create", created, actor, source_ip)
        return created

    def change(
        self,
        org: Organization,
        destination: Destination,
        *,
        settings: Mapping[str, Any] | None = None,
        secrets: Mapping[str, Any] | None = None,
        filters: Sequence[tuple[str, str]] | None = None,
        include_source: bool | None = None,
        name: str | None = None,
        actor: Actor,
        source_ip: str | None = None,
    ) -> Destination:
        """Change what is given; secrets given are replaced, the others kept."""
        values: dict[str, Any] = {}
        changed: list[str] = []
        merged_secrets = dict(destination.secrets)
        if secrets is not None:
            merged_secrets.update(secrets)
            changed.extend(f"secrets.{k}" for k in sorted(secrets))
        new_settings = dict(settings) if settings is not None else destination.settings
        dropped = sorted(
            k
            for k in destination.secrets
            if k not in (secrets or {}) and not secret_in_use(k, new_settings)
        )
        for key in dropped:
            del merged_secrets[key]
        changed.extend(f"secrets.{k}" for k in dropped)
        clean, clean_secrets = check_settings(destination.transport, new_settings, merged_secrets)
        if settings is not None and clean != destination.settings:
            check_allowed_target(destination.transport, clean, self.allowed_networks)
            values["settings"] = clean
            changed.append("settings")
        if secrets is not None or dropped:
            values["secrets"] = clean_secrets
        if filters is not None:
            parse_filters(filters, allow_search=False)
            # The same filters in another order (as a form posts them) are no change.
            if sorted(map(tuple, filters)) != sorted(map(tuple, destination.filters)):
                values["filters"] = [list(item) for item in filters]
                changed.append("filters")
        if include_source is not None and include_source != destination.include_source:
            values["include_source"] = include_source
            changed.append("include_source")
        if name is not None and name != destination.name:
            _check_name(name)
            if self.repo.by_name(org.id, name) is not None:
                raise InvalidInput(
                    "name taken",
                    [Problem("name", f"{org.slug} already has a destination {name!r}")],
                )
            values["name"] = name
            changed.append("name")
        if not changed:
            return destination
        values["updated_at"] = self.clock.now()
        self.repo.change(destination.id, **values)
        updated = self.get(org, destination.id)
        self._record(
            org, "destination_change", updated, actor, source_ip, {"changed": sorted(changed)}
        )
        return updated

    def transition(
        self,
        org: Organization,
        destination: Destination,
        action: Action | str,
        *,
        actor: Actor,
        source_ip: str | None,
    ) -> Destination:
        """Pause, resume or retry a destination (the one path the API, the pages and the CLI
        take). A pause keeps the cursor where it is; a resume, or the retry of a dead letter,
        delivers again from the cursor with the retry count reset (recorded as a resume)."""
        chosen = check_action(action)
        now = self.clock.now()
        if chosen is Action.PAUSE:
            self.repo.change(destination.id, state=State.PAUSED.value, updated_at=now)
        else:
            self.repo.change(
                destination.id,
                state=State.ACTIVE.value,
                attempts=0,
                next_attempt_at=None,
                updated_at=now,
            )
        updated = self.get(org, destination.id)
        self._record(org, RECORDED_AS[chosen], updated, actor, source_ip)
        return updated

    def delete(
        self, org: Organization, destination: Destination, *, actor: Actor, source_ip: str | None
    ) -> None:
        """Remove a destination (what it received stays received)."""
        self.repo.delete(destination.id)
        self._record(org, "destination_delete", destination, actor, source_ip)

    def _record(
        self,
        org: Organization,
        type_: str,
        destination: Destination,
        actor: Actor,
        source_ip: str | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        properties: dict[str, Any] = {
            "name": destination.name,
            "transport": destination.transport.value,
            "filters": destination.event_filter.describe(hide_sources=True),
            "include_source": destination.include_source,
            **(extra or {}),
        }
        draft = self.ingest.own_event(
            type_,
            subject=Subject("destination", str(destination.id), destination.name),
            properties=properties,
            actor=actor,
            source_ip=source_ip,
        )
        self.ingest.ingest_blocking(org, [draft], draft.occurred_at)


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise InvalidInput(
            "bad name",
            [Problem("name", f"must be 1 to {MAX_NAME} printable characters")],
        )
