"""CSV exports opened in a real spreadsheet: LibreOffice (headless) imports the export with
``,``, ``;`` and tab as the separator, and not one cell becomes a formula (issue 16, finding 3).

Without ``soffice`` these tests skip, unless ``AUDITLEDGER_REQUIRE_LIBREOFFICE=1`` (CI, which
installs Debian's ``libreoffice-calc-nogui``), which fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from auditledger.core.cells import neutralise
from auditledger.services import Services
from auditledger_client.core.validate import parse_event
from tests.support.databases import NOW
from tests.support.helpers import OrgAccess, make_org, sample_event

SQLITE = pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)

REQUIRE = os.environ.get("AUDITLEDGER_REQUIRE_LIBREOFFICE") == "1"
# LibreOffice's CSV filter options: separator, text delimiter ("), charset (76 = UTF-8), row 1.
SEPARATORS = {"comma": 44, "semicolon": 59, "tab": 9}
PAYLOADS = [
    "x;=1+1;y",
    "x,=2+2,y",
    "x\t=3+3\ty",
    "a\r\n=4+4",
    "a\n+5+5",
    "a\r-6+6",
    "=7+7",
    "+8+8",
    "-9+9",
    "@SUM(1,2)",
    "\t=10+10",
    'q";=11+11;"',
    "a; @SUM(1)",
    "a;;=12+12",
]


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        message = "LibreOffice (soffice) is not installed"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    access = make_org(services)
    events = []
    for index, text in enumerate(PAYLOADS):
        event = sample_event(properties={"old_name": text, "new_name": f"n{index}"})
        event["subject"] = {"id": f"mdl-{index}", "name": text}
        event["actor"]["name"] = text
        event["project"] = {"id": f"prj-{index}", "name": text}
        events.append(parse_event(event, received_at=NOW))
    services.ingest.ingest_blocking(access.org, events, NOW)
    return access


def formulas_after_import(csv_file: Path, separator: int, workdir: Path) -> list[str]:
    """Open ``csv_file`` in LibreOffice with ``separator`` and return every formula cell."""
    binary = soffice()
    out = workdir / "out"
    subprocess.run(
        [
            binary,
            f"-env:UserInstallation=file://{workdir / 'profile'}",
            "--headless",
            "--convert-to",
            "fods",
            f"--infilter=CSV:{separator},34,76,1",
            "--outdir",
            str(out),
            str(csv_file),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    document = (out / (csv_file.stem + ".fods")).read_text(encoding="utf-8")
    assert "<table:table-cell" in document  # the import produced a sheet at all
    return re.findall(r'table:formula="([^"]*)"', document)


@pytest.mark.slow
@SQLITE
@pytest.mark.parametrize("separator", list(SEPARATORS))
@pytest.mark.parametrize("bom", [False, True])
def test_no_cell_becomes_a_formula_under_any_separator(
    client: TestClient, acme: OrgAccess, tmp_path: Path, separator: str, bom: bool
) -> None:
    # x;=1+1;y was written unquoted: opened with ";" as the separator, =1+1 ran.
    response = client.get(
        "/api/v1/orgs/acme/export.csv",
        params={"bom": "true"} if bom else {},
        headers=acme.headers(acme.admin),
    )
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf") is bom
    path = tmp_path / "export.csv"
    path.write_bytes(response.content)
    assert formulas_after_import(path, SEPARATORS[separator], tmp_path) == []


@pytest.mark.slow
def test_the_harness_sees_formulas_when_there_are_some(tmp_path: Path) -> None:
    # Without neutralising, the same import does find formulas: the count above can fail.
    path = tmp_path / "raw.csv"
    path.write_text('a;=1+1;"=2+2"\r\n', encoding="utf-8")
    assert len(formulas_after_import(path, SEPARATORS["semicolon"], tmp_path)) == 2


@pytest.mark.parametrize("text", PAYLOADS)
def test_neutralise_quotes_every_formula_start_after_a_break(text: str) -> None:
    cell = neutralise(text)
    # No formula start is left at the beginning or right after a separator or line break...
    assert re.search(r"(?<![^,;\t\r\n])[=+\-@\t\r]", cell) is None, repr(cell)
    # ...and the only change is the inserted quotes.
    assert cell.replace("'", "") == text.replace("'", "")
