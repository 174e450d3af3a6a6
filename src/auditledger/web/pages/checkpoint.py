"""The organization page's integrity panel: the latest signed checkpoint, when one is available.

The integrity package owns checkpoints. It plugs in by setting ``app.state.checkpoint_panel``
to a function ``(services, organization) -> CheckpointPanel | None``; until then the page shows
no panel at all rather than a placeholder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from auditledger.services import Services
from auditledger.tenancy.model import Organization
from auditledger.web.context import services


@dataclass(frozen=True)
class CheckpointPanel:
    """What the panel shows about the latest checkpoint, and where to learn more."""

    tree_size: int
    root_hash: str  # as the checkpoint writes it (base64)
    signed_at: datetime
    public_key_url: str
    verify_url: str


CheckpointSource = Callable[[Services, Organization], CheckpointPanel | None]


async def checkpoint_panel(request: Request, org: Organization) -> CheckpointPanel | None:
    """The panel's data, or None when no source is plugged in or no checkpoint exists."""
    source: CheckpointSource | None = getattr(request.app.state, "checkpoint_panel", None)
    if source is None:
        return None
    return await run_in_threadpool(source, services(request), org)
