"""Reads through the query API are recorded too, coalesced so the log stays readable.

An export records itself every time (:mod:`auditledger.export.service`). A script polling the
events API every few seconds would bury the log under its own reads, so a read by a credential
is recorded once per credential, route, filter set and clock hour: the first such read of the
hour is committed (``audit_log.read``) before its events are returned; identical reads later in
that hour are not recorded again. Reads by signed-in people in the browser are recorded by
their sign-in (and exports); pages are not recorded one by one.

Which reads were recorded is remembered per process (bounded; forgetting only means a read is
recorded once more), so behind N processes a read may be recorded up to N times an hour.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

from auditledger.core.canonical import format_timestamp
from auditledger.ingest.service import IngestService
from auditledger.tenancy.model import Organization, Principal
from auditledger_client.core.event import Subject

MAX_REMEMBERED = 50_000


def _storable(text: str) -> str:
    """``text`` without NUL and with lone surrogates escaped: what an event may hold."""
    text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class ReadAudit:
    """Records ``audit_log.read`` events, at most one per credential, route, filters, hour."""

    def __init__(self, ingest: IngestService) -> None:
        self.ingest = ingest
        self._seen: set[tuple[str, str, str, datetime]] = set()
        self._hour: datetime | None = None
        self._lock = threading.Lock()

    def _first(self, key: tuple[str, str, str, datetime]) -> bool:
        with self._lock:
            if self._hour != key[3] or len(self._seen) >= MAX_REMEMBERED:
                self._seen.clear()
                self._hour = key[3]
            if key in self._seen:
                return False
            self._seen.add(key)
            return True

    async def record(
        self,
        org: Organization,
        principal: Principal,
        route: str,
        filters: str,
        source_ip: str | None,
    ) -> None:
        """Commit the read's record unless this hour already has it; raises if it cannot be
        committed (the caller then returns no events)."""
        if principal.kind != "read":
            return
        now = self.ingest.clock.now()
        hour = now.replace(minute=0, second=0, microsecond=0)
        # Descriptions quote what the caller sent; the record must always be storable text,
        # or a read would fail once and then pass (the key is already remembered).
        filters = _storable(filters)
        draft = self.ingest.own_event(
            "read",
            subject=Subject(type="audit_log", id=str(uuid.uuid4()), name=f"{org.slug} audit log"),
            properties={"route": route, "filters": filters, "hour": format_timestamp(hour)},
            actor=principal.as_actor(),
            source_ip=source_ip,
        )
        key = (principal.credential_id or principal.label, route, filters, hour)
        if not self._first(key):
            return
        try:
            await self.ingest.ingest(org, [draft], now)
        except BaseException:
            with self._lock:
                self._seen.discard(key)  # not recorded: the next identical read tries again
            raise
