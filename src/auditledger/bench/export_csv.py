"""CSV export rate and memory, against ``csv.writer`` over the same rows already in memory."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time

from auditledger.bench.env import BenchDatabase
from auditledger.bench.model import Figure
from auditledger.core.cells import header, row_cells
from auditledger.query.filters import EventFilter
from auditledger.query.search import iterate_rows
from auditledger.services import Services
from auditledger.tenancy.model import Organization

BASELINE_ROWS = 200_000


def _baseline(services: Services, org: Organization) -> float:
    """Rows/s of csv.writer alone over the first rows' cells, prepared in memory beforehand."""
    with services.db.read() as connection:
        cells = []
        for row in iterate_rows(
            connection, org.id, EventFilter(), include_source=True, with_hash=True
        ):
            cells.append(row_cells(row._mapping, True))
            if len(cells) >= BASELINE_ROWS:
                break
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    started = time.perf_counter()
    writer.writerow(header(True))
    for index, row in enumerate(cells):
        writer.writerow(row)
        if index % 500 == 0:
            buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    buffer.getvalue().encode("utf-8")
    return len(cells) / (time.perf_counter() - started)


def measure(database: BenchDatabase, services: Services, org: Organization) -> list[Figure]:
    """Export every event of ``org`` in a subprocess; compare with the in-memory writer."""
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditledger.bench.export_run",
            "--database-url",
            database.url,
            "--org",
            org.slug,
        ],
        check=True,
        capture_output=True,
        timeout=3600,
    )
    result = json.loads(output.stdout)
    rate = result["rows"] / result["seconds"]
    baseline = _baseline(services, org)
    detail = f"{result['rows']:,} rows, {result['bytes'] / 1e6:,.0f} MB of CSV"
    return [
        Figure(
            database.engine,
            "CSV export",
            rate,
            "rows/s",
            baseline,
            "csv.writer over the same rows' cells already in memory",
            ">= 0.5 x baseline",
            rate >= 0.5 * baseline,
            detail,
        ),
        Figure(
            database.engine,
            "CSV export peak RSS",
            result["max_rss_mb"],
            "MB",
            None,
            "",
            "<= 150 MB",
            result["max_rss_mb"] <= 150,
            "whole export process, interpreter and libraries included",
        ),
    ]
