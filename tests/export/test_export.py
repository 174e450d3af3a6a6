"""Exports: every matching event once, in a documented order, safe in a spreadsheet, source
columns only for administrators, recorded in the audit log itself."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from auditledger.core.cells import FORMULA_STARTS, header, neutralise, neutralised
from auditledger.events.render import event_json
from auditledger.export.formats import csv_record
from auditledger.export.service import ExportFormat, ExportRun
from auditledger.query.filters import EventFilter, parse_filters
from auditledger.services import Services
from tests.support.databases import NOW
from tests.support.helpers import OrgAccess, make_org, sample_event, store_wire
from tests.support.hostile import hostile_events


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    return make_org(services, "acme")


def load(services: Services, access: OrgAccess, events: list[dict[str, Any]]) -> None:
    store_wire(services, access.org, events)


def read_csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def test_neutralise_only_touches_formula_starts() -> None:
    for start in FORMULA_STARTS:
        assert neutralise(start + "x") == "'" + start + "x"
    for safe in ("abc", "1-2", "a=b", "'quoted", "", '{"a":1}'):
        assert neutralise(safe) == safe


# Text made of what matters to CSV and to neutralising (quotes, separators, line breaks,
# formula starts, NUL) among ordinary characters.
_CELL_TEXT = st.text(alphabet=st.sampled_from("\"',;\t\r\n\x00=+-@ ab\u00e9\u2028"), max_size=12)


@given(st.lists(_CELL_TEXT, min_size=1, max_size=14))
def test_a_row_is_neutralised_exactly_as_cell_by_cell(cells: list[str]) -> None:
    assert neutralised(cells) == [neutralise(cell) for cell in cells]


@given(st.lists(_CELL_TEXT, min_size=1, max_size=14))
def test_a_record_is_what_the_csv_writer_writes(cells: list[str]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL).writerow(cells)
    assert csv_record(cells) == buffer.getvalue()


@pytest.mark.slow
def test_csv_round_trips_thousands_of_hostile_events(
    client: TestClient, services: Services, acme: OrgAccess
) -> None:
    sent = hostile_events(2500, random.Random(3))
    load(services, acme, sent)
    response = client.get("/api/v1/orgs/acme/export.csv", headers=acme.headers(acme.admin))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = read_csv(response.content)
    assert len(rows) == len(sent)
    assert list(rows[0]) == header(include_source=True)
    # Chronological, ties by sequence number: the documented export order.
    keys = [(r["Timestamp"], int(r["Sequence Number"])) for r in rows]
    assert keys == sorted(keys)
    by_id = {e["id"]: e for e in sent}
    stored = {
        str(e.event_id): e for e in services.log.events(acme.org.id, acme.org.slug, 0, len(sent))
    }
    leaves = {str(leaf.event_id): leaf for leaf in services.log.leaves(acme.org.id, 0, len(sent))}
    for row in rows:
        event = by_id[row["Event ID"]]
        properties = json.loads(row["Event Properties"])
        assert properties == event["properties"]
        assert row["Actor"] == neutralise(f"{event['actor']['name']} (user u-1)")
        assert row["Event Subject"].startswith(neutralise(event["subject"]["name"]))
        assert row["Event Hash"] == leaves[row["Event ID"]].leaf_hash.hex()
        assert row["Sequence Number"] == str(stored[row["Event ID"]].seq)
        assert row["Source IP"] == "193.166.3.7"
        assert row["Source Location"] == "Espoo, Finland (FI)"
        for cell in row.values():
            assert not cell.startswith(FORMULA_STARTS)


def test_member_export_has_no_source_columns(
    client: TestClient, services: Services, acme: OrgAccess
) -> None:
    load(services, acme, [sample_event() for _ in range(5)])
    for path in ("export.csv", "export.jsonl"):
        response = client.get(f"/api/v1/orgs/acme/{path}", headers=acme.headers(acme.member))
        assert response.status_code == 200
        assert b"193.166.3.7" not in response.content
        assert b"Espoo" not in response.content
    rows = read_csv(
        client.get("/api/v1/orgs/acme/export.csv", headers=acme.headers(acme.member)).content
    )
    assert "Source IP" not in rows[0]
    assert list(rows[0]) == header(include_source=False)
    lines = client.get("/api/v1/orgs/acme/export.jsonl", headers=acme.headers(acme.member)).text
    assert all("source" not in json.loads(line) for line in lines.splitlines())


@pytest.mark.slow
def test_jsonl_has_one_api_shaped_object_per_event(
    client: TestClient, services: Services, acme: OrgAccess
) -> None:
    sent = hostile_events(300, random.Random(9))
    load(services, acme, sent)
    response = client.get("/api/v1/orgs/acme/export.jsonl", headers=acme.headers(acme.admin))
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = response.text.splitlines()
    assert len(lines) == len(sent)
    stored = services.log.events(acme.org.id, acme.org.slug, 0, len(sent))
    by_id = {str(e.event_id): e for e in stored}
    for line in lines:
        obj = json.loads(line)
        event = by_id[obj["id"]]
        expected = event_json(event, include_source=True, leaf_hash=bytes.fromhex(obj["hash"]))
        assert obj == expected


def test_filters_apply_and_the_file_is_named(
    client: TestClient, services: Services, acme: OrgAccess
) -> None:
    events = [sample_event(timestamp=(NOW - timedelta(days=d)).isoformat()) for d in range(10)]
    events[0]["project"] = {"id": "prj-2", "name": "Two"}
    load(services, acme, events)
    response = client.get(
        "/api/v1/orgs/acme/export.csv",
        params={
            "from": (NOW - timedelta(days=4)).date().isoformat(),
            "to": NOW.date().isoformat(),
            "project": "prj-1",
        },
        headers=acme.headers(acme.admin),
    )
    rows = read_csv(response.content)
    assert len(rows) == 4  # days 1..4 of project one; day 0 is project two
    disposition = response.headers["content-disposition"]
    # Named after the project the export is about, then the range.
    assert disposition == (
        'attachment; filename="auditledger-acme-project-prj-1-2026-11-21-to-2026-11-25.csv"'
    )


def test_bad_filters_and_access(client: TestClient, services: Services, acme: OrgAccess) -> None:
    globex = make_org(services, "globex")
    load(services, globex, [sample_event()])
    assert (
        client.get("/api/v1/orgs/globex/export.csv", headers=acme.headers(acme.admin)).status_code
        == 404
    )
    assert client.get("/api/v1/orgs/acme/export.csv").status_code == 401
    assert (
        client.get("/api/v1/orgs/acme/export.csv", headers=acme.headers(acme.ingest)).status_code
        == 403
    )
    bad = client.get(
        "/api/v1/orgs/acme/export.csv", params={"from": "soon"}, headers=acme.headers(acme.admin)
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["problems"][0]["field"] == "from"
    unknown = client.get(
        "/api/v1/orgs/acme/export.csv", params={"project": "nope"}, headers=acme.headers(acme.admin)
    )
    assert unknown.status_code == 422


def test_each_export_is_recorded_with_its_source(services: Services, acme: OrgAccess) -> None:
    from auditledger.web.app import create_app

    load(services, acme, [sample_event() for _ in range(7)])
    app = create_app(services, manage_services=False)
    forwarded = {"X-Forwarded-For": "81.2.69.160"}

    def last_record() -> Any:
        head = services.log.head(acme.org.id)
        (record,) = services.log.events(
            acme.org.id, acme.org.slug, head.tree_size - 1, head.tree_size
        )
        return record

    # Through a trusted proxy (127.0.0.1 by default) the forwarded address is the client's.
    with TestClient(app, client=("127.0.0.1", 40000)) as via_proxy:
        via_proxy.get(
            "/api/v1/orgs/acme/export.csv",
            params={"project": "prj-1"},
            headers={**acme.headers(acme.member), **forwarded},
        )
    record = last_record()
    assert (record.category, record.type) == ("audit_log", "export")
    # Recorded before the first byte, so it cannot say "completed"; it says exactly how many.
    assert record.properties == {
        "filters": "project = Project One",
        "format": "csv",
        "rows": 7,
    }
    assert record.actor.id.startswith("credential:")
    assert record.source.ip == "81.2.69.160"
    # From anywhere else the header is somebody's claim, not evidence.
    with TestClient(app, client=("203.0.113.9", 40000)) as direct:
        direct.get(
            "/api/v1/orgs/acme/export.jsonl", headers={**acme.headers(acme.admin), **forwarded}
        )
    record = last_record()
    assert record.source.ip == "203.0.113.9"
    assert record.properties["format"] == "jsonl"
    assert record.properties["rows"] == 8  # the seven events and the first export's record


def test_an_error_mid_stream_is_not_a_complete_export(
    services: Services, acme: OrgAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(services, acme, [sample_event() for _ in range(1200)])
    import auditledger.export.service as service_module

    def failing(real: Any) -> Any:
        def rows(*args: Any, **kwargs: Any) -> Any:
            for index, row in enumerate(real(*args, **kwargs)):
                if index == 700:
                    raise RuntimeError("disk on fire")
                yield row

        return rows

    # The rows come from iterate_rows, or on PostgreSQL from COPY (export/copy_csv.py).
    for name in ("iterate_rows", "copy_csv_lines", "copy_jsonl_lines"):
        monkeypatch.setattr(service_module, name, failing(getattr(service_module, name)))
    run = ExportRun()
    stream = services.export.stream(
        acme.org,
        EventFilter(),
        ExportFormat.CSV,
        include_source=False,
        actor=sample_actor(),
        source_ip=None,
        run=run,
    )
    with pytest.raises(RuntimeError, match="disk on fire"):
        b"".join(stream)
    assert not run.completed
    assert 0 < run.rows <= 701
    head = services.log.head(acme.org.id)
    (record,) = services.log.events(acme.org.id, acme.org.slug, head.tree_size - 1, head.tree_size)
    assert record.properties["completed"] is False
    assert record.properties["rows"] == run.rows
    (before,) = services.log.events(
        acme.org.id, acme.org.slug, head.tree_size - 2, head.tree_size - 1
    )
    assert before.properties["rows"] == 1200  # the record made before the first byte
    assert "completed" not in before.properties


@pytest.mark.slow
def test_events_arriving_during_an_export_are_not_in_it(
    services: Services, acme: OrgAccess
) -> None:
    load(services, acme, [sample_event() for _ in range(1500)])
    stream = services.export.stream(
        acme.org,
        parse_filters([]),
        ExportFormat.JSONL,
        include_source=False,
        actor=sample_actor(),
        source_ip=None,
    )
    first = next(stream)
    load(services, acme, [sample_event() for _ in range(300)])
    body = first + b"".join(stream)
    assert len(body.splitlines()) == 1500


def sample_actor() -> Any:
    from auditledger_client.core.event import Actor

    return Actor("system", "test", f"test {uuid.uuid4().hex[:6]}")


@pytest.mark.slow
def test_raw_cells_equal_the_reference_cells(services: Services, acme: OrgAccess) -> None:
    from auditledger.core.cells import RowCells, row_cells
    from auditledger.query.search import iterate_rows, row_columns

    load(services, acme, hostile_events(300, random.Random(8)))
    for include_source in (True, False):
        columns = row_columns(include_source=include_source, with_hash=True)
        fast = RowCells(include_source, columns)
        with services.db.read() as connection:
            raw = list(
                iterate_rows(
                    connection,
                    acme.org.id,
                    EventFilter(),
                    with_hash=True,
                    include_source=include_source,
                    raw=True,
                    page_size=70,
                )
            )
            rows = list(
                iterate_rows(
                    connection,
                    acme.org.id,
                    EventFilter(),
                    with_hash=True,
                    include_source=include_source,
                    page_size=70,
                )
            )
        assert len(raw) == len(rows) == 300
        for raw_row, row in zip(raw, rows, strict=True):
            assert fast(raw_row) == row_cells(row._mapping, include_source)
