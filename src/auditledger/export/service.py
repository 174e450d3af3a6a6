"""Exports: every matching event, streamed from one snapshot, and recorded in the log itself.

Order is chronological: by timestamp, then sequence number (stable; the view shows the same
events newest first). Rows come in keyset pages inside a single read transaction, so events
committed during a long export neither appear in it nor shift its rows, and memory stays flat
however many rows there are.

Before the first byte, auditledger commits an ``audit_log.export`` event: who, which filters,
how many rows (exactly: the export is bounded to the events stored at that moment), and from
which address. If that record cannot be committed, there is no export. An export that stops
short (the client went away, an error) adds a second record with ``completed`` false.
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

from auditledger.core.canonical import format_timestamp
from auditledger.export.copy_lines import (
    copy_csv_lines,
    copy_jsonl_lines,
    csv_blocks,
    jsonl_blocks,
)
from auditledger.export.formats import csv_chunks, csv_header, jsonl_chunks
from auditledger.ingest.service import IngestService
from auditledger.integrity.bundle import BundleSummary, write_bundle
from auditledger.integrity.checkpointer import CheckpointService
from auditledger.integrity.cosigning import CosigningService
from auditledger.query.filters import EventFilter
from auditledger.query.search import fixed_contents, iterate_rows, row_columns
from auditledger.store.database import Database
from auditledger.store.log import fetch_nodes
from auditledger.store.schema import directory
from auditledger.tenancy.model import Organization
from auditledger_client.core.event import Actor, PropertyValue, Subject

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
    # A search's after:/before: bound the range without a from/to: named by the bound's day.
    start = (raw.get("from") or flt.since.date().isoformat())[:10] if flt.since else "start"
    end = (raw.get("to") or flt.until.date().isoformat())[:10] if flt.until else "now"
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
    if raw.get("q"):
        about.append("search")
    name = "-".join(["auditledger", org.slug, *about, span]) + f".{fmt}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


@dataclass
class ExportRun:
    """What an export produced, filled in as it streams."""

    rows: int = 0  # written so far
    completed: bool = False
    expected: int = 0  # what the export's record says it holds
    bom: bool = False  # CSV only: start with a UTF-8 byte order mark (for Excel)


class ExportService:
    """Streams exports, writes evidence bundles, and records both."""

    def __init__(
        self,
        db: Database,
        ingest: IngestService,
        checkpoints: CheckpointService,
        cosigning: CosigningService,
    ) -> None:
        self.db = db
        self.ingest = ingest
        self.checkpoints = checkpoints
        self.cosigning = cosigning  # a bundle's checkpoint carries the witnesses' cosignatures

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
        """Record the export, then return an iterator of its bytes.

        The ``audit_log.export`` record (who, filters, format, the exact number of rows) is
        committed before this returns: if it cannot be, this raises and no byte is produced.
        There is no other path to the rows. An error mid-stream propagates (the HTTP layer
        then aborts the response, so a truncated file can never look complete) and is
        recorded as a second ``audit_log.export`` with ``completed`` false.
        """
        run = run or ExportRun()
        bounded, description = self._begin(org, flt, fmt, run, actor, source_ip)
        return self._bytes(org, bounded, fmt, include_source, run, description, actor, source_ip)

    def _begin(
        self,
        org: Organization,
        flt: EventFilter,
        fmt: ExportFormat,
        run: ExportRun,
        actor: Actor,
        source_ip: str | None,
    ) -> tuple[EventFilter, str]:
        # Recorded in the export's own event, which members read: no source addresses.
        description = flt.describe(self.names(org, flt), hide_sources=True)
        with self.db.read() as connection:
            bounded, run.expected = fixed_contents(connection, org.id, flt)
        self._record(org, fmt, description, run.expected, None, actor, source_ip, flt)
        return bounded, description

    def _bytes(
        self,
        org: Organization,
        flt: EventFilter,
        fmt: ExportFormat,
        include_source: bool,
        run: ExportRun,
        description: str,
        actor: Actor,
        source_ip: str | None,
    ) -> Iterator[bytes]:
        try:
            raw = fmt is ExportFormat.CSV
            with self.db.read() as connection:
                if self.db.is_postgres and not flt.text:
                    # The server makes every line (export/copy_lines.py): the same bytes,
                    # and no row becomes Python values. A free-text search takes the Python
                    # path, which checks every index hit against the row's own words.
                    if raw:
                        yield csv_header(include_source=include_source, bom=run.bom)
                        lines = copy_csv_lines(
                            connection, org.id, flt, include_source=include_source
                        )
                        yield from csv_blocks(self._counted(lines, run))
                    else:
                        lines = copy_jsonl_lines(
                            connection, org.id, org.slug, flt, include_source=include_source
                        )
                        yield from jsonl_blocks(self._counted(lines, run))
                else:
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
                        yield from csv_chunks(
                            rows, include_source=include_source, columns=columns, bom=run.bom
                        )
                    else:
                        yield from jsonl_chunks(rows, org.slug, include_source=include_source)
            run.completed = True
        finally:
            if not run.completed:
                self._record_stop(org, fmt, description, run, actor, source_ip, flt)

    def write_bundle(
        self,
        org: Organization,
        flt: EventFilter,
        path: Path,
        *,
        actor: Actor,
        source_ip: str | None,
    ) -> BundleSummary:
        """Record the export, then write the evidence bundle of the matching events to
        ``path`` (see :mod:`auditledger.integrity.bundle`); administrators only, it holds
        sources. The record is committed first: if it cannot be, nothing is written."""
        run = ExportRun()
        bounded, description = self._begin(org, flt, ExportFormat.BUNDLE, run, actor, source_ip)
        try:
            # A fresh checkpoint, so every event recorded until now is provable.
            checkpoint, _ = self.checkpoints.checkpoint(org.id, org.slug)
            checkpoint = self.cosigning.checkpoint_cosigned(checkpoint, org.slug)
            key = self.checkpoints.signing_key()
            with self.db.read() as connection:
                summary = write_bundle(
                    path,
                    org_slug=org.slug,
                    origin=self.checkpoints.origin(org.slug),
                    checkpoint=checkpoint,
                    rows=iterate_rows(
                        connection, org.id, bounded, include_source=True, with_hash=True
                    ),
                    fetch=lambda wanted: fetch_nodes(connection, org.id, wanted),
                    key=key,
                    filters=flt.query_items(),
                    description=description,
                    created=format_timestamp(self.ingest.clock.now()),
                )
            run.rows, run.completed = summary.records, True
            return summary
        finally:
            if not run.completed:
                self._record_stop(org, ExportFormat.BUNDLE, description, run, actor, source_ip, flt)

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
        rows: int,
        completed: bool | None,
        actor: Actor,
        source_ip: str | None,
        flt: EventFilter,
    ) -> None:
        """Commit one ``audit_log.export`` event; raises if it cannot be committed."""
        properties: dict[str, PropertyValue] = {
            "format": fmt.value,
            "filters": description,
            "rows": rows,
        }
        if completed is not None:
            properties["completed"] = completed
        draft = self.ingest.own_event(
            "export",
            subject=Subject(
                type="export",
                id=str(uuid.uuid4()),
                name=export_filename(org, flt, fmt.extension),
            ),
            properties=properties,
            actor=actor,
            source_ip=source_ip,
        )
        self.ingest.ingest_blocking(org, [draft], draft.occurred_at)

    def _record_stop(
        self,
        org: Organization,
        fmt: ExportFormat,
        description: str,
        run: ExportRun,
        actor: Actor,
        source_ip: str | None,
        flt: EventFilter,
    ) -> None:
        # The export itself is already on record; this adds that it stopped short.
        try:
            self._record(org, fmt, description, run.rows, False, actor, source_ip, flt)
        except Exception:
            log.exception("could not record that an export stopped", extra={"org": org.slug})
