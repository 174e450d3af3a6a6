"""Exports: every matching event, streamed from one snapshot, and recorded in the log itself.

Order is chronological: by timestamp, then sequence number (stable; the view shows the same
events newest first). Rows come in keyset pages inside a single read transaction, so events
committed during a long export neither appear in it nor shift its rows, and memory stays flat
however many rows there are.

When the export ends (completely, or because the client went away or an error stopped it),
auditledger records an ``audit_log.export`` event: who, which filters, how many rows, whether
it completed, and from which address.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select

from auditledger.export.formats import csv_chunks, jsonl_chunks
from auditledger.ingest.service import IngestService
from auditledger.integrity.bundle import BundleSummary, write_bundle
from auditledger.integrity.canonical import format_timestamp
from auditledger.integrity.checkpointer import CheckpointService
from auditledger.query.filters import EventFilter
from auditledger.query.search import iterate_rows, row_columns
from auditledger.store.database import Database
from auditledger.store.log import fetch_nodes
from auditledger.store.schema import directory
from auditledger.tenancy.model import Organization
from auditledger_client.core.event import Actor, Subject

log = logging.getLogger(__name__)


class ExportFormat(StrEnum):
    """File formats an export can take."""

    CSV = "csv"
    JSONL = "jsonl"
    BUNDLE = "bundle"  # an evidence bundle (zip) that proves itself offline

    @property
    def media_type(self) -> str:
        """The HTTP content type."""
        return {
            ExportFormat.CSV: "text/csv; charset=utf-8",
            ExportFormat.JSONL: "application/x-ndjson",
            ExportFormat.BUNDLE: "application/zip",
        }[self]

    @property
    def extension(self) -> str:
        """The file name's extension."""
        return "zip" if self is ExportFormat.BUNDLE else self.value


def export_filename(org: Organization, flt: EventFilter, fmt: str) -> str:
    """``auditledger-acme-model-mdl-churn-2026-05-01-to-2026-05-31.csv``: the organization,
    the project, model or version the export is about (by id: names change, ids do not), and
    the range."""
    raw = dict(flt.raw)
    start = raw.get("from", "start")[:10] if flt.since else "start"
    end = raw.get("to", "now")[:10] if flt.until else "now"
    span = "all" if not (flt.since or flt.until) else f"{start}-to-{end}"
    about = []
    for kind, plural, values in (
        ("project", "projects", flt.projects),
        ("model", "models", flt.models),
        ("version", "versions", flt.model_versions),
    ):
        if len(values) == 1:
            about.append(f"{kind}-{values[0][:60]}")
        elif values:
            about.append(f"{len(values)}-{plural}")
    name = "-".join(["auditledger", org.slug, *about, span]) + f".{fmt}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


@dataclass
class ExportRun:
    """What an export produced, filled in as it streams."""

    rows: int = 0
    completed: bool = False


class ExportService:
    """Streams exports, writes evidence bundles, and records both."""

    def __init__(self, db: Database, ingest: IngestService, checkpoints: CheckpointService) -> None:
        self.db = db
        self.ingest = ingest
        self.checkpoints = checkpoints

    def names(self, org: Organization, flt: EventFilter) -> dict[tuple[str, str], str]:
        """Display names of the ids a filter mentions, for its description."""
        wanted = [
            ("project", flt.projects),
            ("model", flt.models),
            ("model_version", flt.model_versions),
            ("actor", flt.actors),
        ]
        found: dict[tuple[str, str], str] = {}
        with self.db.read() as connection:
            for kind, ids in wanted:
                if not ids:
                    continue
                rows = connection.execute(
                    select(directory.c.ref_id, directory.c.name).where(
                        directory.c.org_id == org.id,
                        directory.c.kind == kind,
                        directory.c.ref_id.in_(ids),
                    )
                )
                found.update({(kind, r.ref_id): r.name for r in rows if r.name})
        return found

    def stream(
        self,
        org: Organization,
        flt: EventFilter,
        fmt: ExportFormat,
        *,
        include_source: bool,
        actor: Actor,
        source_ip: str | None,
        run: ExportRun | None = None,
    ) -> Iterator[bytes]:
        """The export's bytes. Record of the export is written when the iterator finishes or is
        closed; an error mid-stream propagates (the HTTP layer then aborts the response, so a
        truncated file can never look complete)."""
        run = run or ExportRun()
        description = flt.describe(self.names(org, flt))
        try:
            raw = fmt is ExportFormat.CSV
            with self.db.read() as connection:
                rows = self._counted(
                    iterate_rows(
                        connection,
                        org.id,
                        flt,
                        include_source=include_source,
                        with_hash=True,
                        raw=raw,
                    ),
                    run,
                )
                if raw:
                    columns = row_columns(include_source=include_source, with_hash=True)
                    yield from csv_chunks(rows, include_source=include_source, columns=columns)
                else:
                    yield from jsonl_chunks(rows, org.slug, include_source=include_source)
            run.completed = True
        finally:
            self._record(org, fmt, description, run, actor, source_ip, flt)

    def write_bundle(
        self,
        org: Organization,
        flt: EventFilter,
        path: Path,
        *,
        actor: Actor,
        source_ip: str | None,
    ) -> BundleSummary:
        """Write the evidence bundle of the matching events to ``path`` (see
        :mod:`auditledger.integrity.bundle`); administrators only, it holds sources."""
        run = ExportRun()
        description = flt.describe(self.names(org, flt))
        try:
            # A fresh checkpoint, so every event recorded until now is provable.
            checkpoint, _ = self.checkpoints.checkpoint(org.id, org.slug)
            key = self.checkpoints.signing_key()
            with self.db.read() as connection:
                summary = write_bundle(
                    path,
                    org_slug=org.slug,
                    origin=self.checkpoints.origin(org.slug),
                    checkpoint=checkpoint,
                    rows=iterate_rows(connection, org.id, flt, include_source=True, with_hash=True),
                    fetch=lambda wanted: fetch_nodes(connection, org.id, wanted),
                    key=key,
                    filters=flt.query_items(),
                    description=description,
                    created=format_timestamp(self.ingest.clock.now()),
                )
            run.rows, run.completed = summary.records, True
            return summary
        finally:
            self._record(org, ExportFormat.BUNDLE, description, run, actor, source_ip, flt)

    @staticmethod
    def _counted(rows: Iterable[Any], run: ExportRun) -> Iterator[Any]:
        for row in rows:
            run.rows += 1
            yield row

    def _record(
        self,
        org: Organization,
        fmt: ExportFormat,
        description: str,
        run: ExportRun,
        actor: Actor,
        source_ip: str | None,
        flt: EventFilter,
    ) -> None:
        draft = self.ingest.own_event(
            "export",
            subject=Subject(
                type="export",
                id=str(uuid.uuid4()),
                name=export_filename(org, flt, fmt.extension),
            ),
            properties={
                "format": fmt.value,
                "filters": description,
                "rows": run.rows,
                "completed": run.completed,
            },
            actor=actor,
            source_ip=source_ip,
        )
        try:
            self.ingest.ingest_blocking(org, [draft], draft.occurred_at)
        except Exception:
            # The data is already sent; say loudly that its record is missing.
            log.exception("could not record an export in the audit log", extra={"org": org.slug})
