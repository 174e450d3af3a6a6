"""One event's page: the full record, its canonical bytes and leaf hash, its inclusion proof
and the signed checkpoint it is proven against.

The page carries every value the proof needs, so ``static/verify-event.js`` checks the proof
and the checkpoint's Ed25519 signature in the browser (WebCrypto), with no request to the
server for the check itself. Without JavaScript the page still shows all of it, and the
commands that verify it offline. The canonical bytes contain the source, so only
administrators get them (members verify from the leaf hash on).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from auditledger.core.canonical import canonical_bytes, event_leaf_hash, format_timestamp
from auditledger.core.checkpoint import StoredCheckpoint
from auditledger.core.errors import InvalidInput, NotFound
from auditledger.core.keys import VerifierKey
from auditledger.core.note import parse_note
from auditledger.events.render import event_json
from auditledger.integrity.proofs import InclusionProof
from auditledger.services import Services
from auditledger.web.pages.render import render
from auditledger.web.pages.results import Crumb, org_base
from auditledger.web.pages.rows import EventRow, event_row
from auditledger.web.pages.session import PageUser, page_user
from auditledger.web.pages.zone import viewer_zone
from auditledger.web.reading import Reader, reader_for
from auditledger_client.core.event import Event

router = APIRouter(include_in_schema=False)

User = Annotated[PageUser, Depends(page_user)]


@dataclass(frozen=True)
class EventProof:
    """Everything the page shows and the browser checks."""

    event: Event
    row: EventRow
    record: dict[str, Any]  # the event as the API returns it (source for admins only)
    canonical: bytes | None  # administrators only: it holds the source
    leaf_hash: bytes
    checkpoint: StoredCheckpoint | None
    proof: InclusionProof | None
    key: VerifierKey | None  # the registered key whose id signs the checkpoint

    @property
    def canonical_text(self) -> str | None:
        """The canonical bytes as text (they are UTF-8 JSON)."""
        return self.canonical.decode("utf-8") if self.canonical is not None else None

    @property
    def canonical_b64(self) -> str:
        """The canonical bytes in base64, for the browser to hash exactly these bytes."""
        return base64.b64encode(self.canonical).decode("ascii") if self.canonical else ""

    @property
    def note_b64(self) -> str:
        """The signed note in base64 (it holds an em dash and newlines)."""
        if self.checkpoint is None:
            return ""
        return base64.b64encode(self.checkpoint.served_note.encode("utf-8")).decode("ascii")

    @property
    def proof_hex(self) -> list[str]:
        """The audit path, leaf side first."""
        return [h.hex() for h in self.proof.proof] if self.proof else []


def _signing_key(services: Services, checkpoint: StoredCheckpoint) -> VerifierKey | None:
    try:
        note = parse_note(checkpoint.note)
    except InvalidInput:
        return None
    registered = {r.key.key_id: r.key for r in services.checkpoints.repo.registered_keys()}
    for signature in note.signatures:
        key = registered.get(signature.key_id)
        if key is not None and key.name == signature.name:
            return key
    return None


def event_proof(services: Services, reader: Reader, event_id: uuid.UUID, zone: str) -> EventProof:
    """The event, its proof against the latest checkpoint that covers it, and the key; or
    :class:`NotFound`. Sources only for administrators."""
    org = reader.org
    event = services.log.event_by_id(org.id, org.slug, event_id)
    if event is None:
        raise NotFound(f"no event {str(event_id)!r} in this organization's log")
    leaf = event_leaf_hash(event)
    checkpoint = services.checkpoints.repo.latest_checkpoint(org.id)
    proof = None
    if checkpoint is not None and checkpoint.tree_size > event.seq:
        proof = services.proofs.inclusion(org.id, seq=event.seq, tree_size=checkpoint.tree_size)
    elif checkpoint is not None:
        checkpoint = None  # signed before this event arrived: it proves nothing about it
    sees = reader.sees_sources
    return EventProof(
        event=event,
        row=event_row(event, base=org_base(org.slug), zone=zone, with_source=sees),
        record=event_json(event, include_source=sees, leaf_hash=leaf),
        canonical=canonical_bytes(event) if sees else None,
        leaf_hash=leaf,
        checkpoint=checkpoint,
        proof=proof,
        key=_signing_key(services, checkpoint) if checkpoint is not None else None,
    )


def _bundle_url(server: str, org_slug: str, event: Event) -> str:
    """An evidence bundle holding this event: its subject at its exact instant."""
    instant = format_timestamp(event.occurred_at)
    query = urlencode([("subject", event.subject.id), ("from", instant), ("to", instant)])
    return f"{server}/api/v1/orgs/{quote(org_slug, safe='')}/export.zip?{query}"


@router.get("/orgs/{org}/events/{event_id}", response_class=HTMLResponse)
async def event_page(request: Request, org: str, event_id: str, user: User) -> HTMLResponse:
    """One event, with its proof verified in the browser."""
    reader = await reader_for(request, org, user.principal)
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        raise NotFound(f"no event {event_id[:80]!r} in this organization's log") from None
    svc: Services = request.app.state.services
    zone = viewer_zone(request)
    found = await run_in_threadpool(event_proof, svc, reader, parsed, zone)
    base = org_base(reader.org.slug)
    server = svc.settings.public_url or str(request.base_url).rstrip("/")
    return render(
        request,
        "event.html",
        {
            "user": user,
            "reader": reader,
            "tab": "audit-log",
            "title": f"Event {found.event.seq}",
            "crumbs": [
                Crumb(reader.org.name, base),
                Crumb("Audit Log", f"{base}/audit-log"),
                Crumb(f"Event {found.event.seq}"),
            ],
            "found": found,
            "zone": zone,
            "server": server,
            "bundle_url": _bundle_url(server, reader.org.slug, found.event),
        },
    )
