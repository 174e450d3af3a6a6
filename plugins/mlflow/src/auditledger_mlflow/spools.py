"""One audit client per MLflow worker process, each with its own spool file in one directory.

uvicorn runs several workers; a spool file is locked by the client that has it open. A worker
first adopts a file no running worker holds (one a stopped or killed worker left, events and
all), and only then creates a new one, so what a dead worker had spooled is shipped by the next.
"""

from __future__ import annotations

import uuid

from auditledger_client import AuditClient, SpoolLocked
from auditledger_client.core.catalog.extensions import load_extensions
from auditledger_client.options import ClientOptions

from . import CATALOG
from .settings import PluginSettings


def open_client(settings: PluginSettings) -> AuditClient:
    """A client on a free spool file of ``settings.spool_dir``."""
    settings.spool_dir.mkdir(parents=True, exist_ok=True)
    catalog = load_extensions(CATALOG)
    options: ClientOptions = {
        "org": settings.org,
        "catalog": catalog,
        "ack_timeout": settings.ack_timeout,
    }
    for path in sorted(settings.spool_dir.glob("spool-*.db")):
        try:
            return AuditClient(settings.server, settings.token, spool_path=path, **options)
        except SpoolLocked:
            continue
    path = settings.spool_dir / f"spool-{uuid.uuid4().hex}.db"
    return AuditClient(settings.server, settings.token, spool_path=path, **options)
