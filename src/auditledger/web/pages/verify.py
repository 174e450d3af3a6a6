"""The "How to verify" page, and the latest-checkpoint panel of the organization page.

Everything here is public material (checkpoints and verifier keys) plus instructions; it lets
an auditor check the log, or an export of it, without trusting this server.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from auditledger.services import Services
from auditledger.tenancy.model import Organization
from auditledger.web.pages.checkpoint import CheckpointPanel
from auditledger.web.pages.render import render
from auditledger.web.pages.results import Crumb, org_base
from auditledger.web.pages.session import PageUser, page_user
from auditledger.web.reading import reader_for

router = APIRouter(include_in_schema=False)

User = Annotated[PageUser, Depends(page_user)]


def latest_checkpoint_panel(services: Services, org: Organization) -> CheckpointPanel | None:
    """The organization's latest signed checkpoint for the audit log page, or None."""
    latest = services.checkpoints.repo.latest_checkpoint(org.id)
    if latest is None:
        return None
    root = (
        latest.note.splitlines()[2] if len(latest.note.splitlines()) > 2 else latest.root_hash.hex()
    )
    return CheckpointPanel(
        tree_size=latest.tree_size,
        root_hash=root,
        signed_at=latest.created_at,
        public_key_url="/api/v1/keys",
        verify_url=f"/orgs/{quote(org.slug, safe='')}/verify",
    )


@router.get("/orgs/{org}/verify", response_class=HTMLResponse)
async def how_to_verify(request: Request, org: str, user: User) -> HTMLResponse:
    """The latest checkpoint verbatim, the verifier keys, and the steps to check either."""
    reader = await reader_for(request, org, user.principal)
    svc = request.app.state.services
    latest = await run_in_threadpool(svc.checkpoints.repo.latest_checkpoint, reader.org.id)
    keys = await run_in_threadpool(svc.checkpoints.repo.registered_keys)
    base_url = svc.settings.public_url or str(request.base_url).rstrip("/")
    return render(
        request,
        "verify.html",
        {
            "user": user,
            "reader": reader,
            "tab": "verify",
            "title": "How to verify",
            "crumbs": [Crumb(reader.org.name, org_base(reader.org.slug)), Crumb("How to verify")],
            "checkpoint": latest,
            "keys": keys,
            "server": base_url,
        },
    )
