"""The PostgreSQL COPY exports (export/copy_lines.py) write the same bytes as the Python CSV
and JSON Lines writers over the same rows: hostile values (formula starts after every
separator, quotes, backslashes, control characters, line breaks, non-ASCII), with and without
source columns."""

from __future__ import annotations

import random

import pytest

from auditledger.core.cells import neutralise
from auditledger.export.copy_lines import (
    copy_csv_lines,
    copy_jsonl_lines,
    csv_blocks,
    jsonl_blocks,
    unescape,
)
from auditledger.export.formats import csv_chunks, csv_header, jsonl_chunks
from auditledger.query.filters import EventFilter, parse_filters
from auditledger.query.search import iterate_rows, row_columns
from auditledger.services import Services
from tests.support.helpers import OrgAccess, make_org, sample_event, store_wire
from tests.support.hostile import hostile_events

ON_POSTGRES = pytest.mark.parametrize("engine_kind", ["postgres"], indirect=True)


@pytest.fixture
def acme(services: Services) -> OrgAccess:
    return make_org(services, "acme")


def _both(
    services: Services, access: OrgAccess, flt: EventFilter, include_source: bool
) -> tuple[bytes, bytes]:
    with services.db.read() as connection:
        python = b"".join(
            csv_chunks(
                iterate_rows(
                    connection,
                    access.org.id,
                    flt,
                    include_source=include_source,
                    with_hash=True,
                    raw=True,
                ),
                include_source=include_source,
                columns=row_columns(include_source=include_source, with_hash=True),
                bom=True,
            )
        )
        copied = csv_header(include_source=include_source, bom=True) + b"".join(
            csv_blocks(
                copy_csv_lines(connection, access.org.id, flt, include_source=include_source)
            )
        )
    return python, copied


def _both_jsonl(
    services: Services, access: OrgAccess, flt: EventFilter, include_source: bool
) -> tuple[bytes, bytes]:
    org = access.org
    with services.db.read() as connection:
        python = b"".join(
            jsonl_chunks(
                iterate_rows(
                    connection, org.id, flt, include_source=include_source, with_hash=True
                ),
                org.slug,
                include_source=include_source,
            )
        )
        copied = b"".join(
            jsonl_blocks(
                copy_jsonl_lines(connection, org.id, org.slug, flt, include_source=include_source)
            )
        )
    return python, copied


@pytest.mark.slow
@pytest.mark.postgres
@ON_POSTGRES
def test_copy_writes_the_python_writers_bytes(services: Services, acme: OrgAccess) -> None:
    events = hostile_events(1200, random.Random(21))
    tricky = sample_event("model", "rename")
    tricky["subject"]["name"] = 'a\\b\t"c"\r\n=d;+e,-f\x0b\x08\x0c\x01 é \\n'
    tricky["properties"] = {"old_name": "=1+1", "new_name": "x\\\\y\n@z"}
    tricky["project"] = {"id": "p:1"}
    tricky["source"] = {"ip": "10.0.0.1"}
    events.append(tricky)
    unnamed = sample_event("model_version", "tag_change")
    del unnamed["subject"]["name"]
    del unnamed["subject"]["parent"]["name"]
    del unnamed["project"]
    del unnamed["source"]
    events.append(unnamed)
    store_wire(services, acme.org, events)
    for include_source in (True, False):
        python, copied = _both(services, acme, EventFilter(), include_source)
        assert python.count(b"\r\n") > len(events)
        assert copied == python
        python, copied = _both_jsonl(services, acme, EventFilter(), include_source)
        assert python.count(b"\n") == len(events)
        assert copied == python
    # A filter narrows both the same way.
    narrow = parse_filters([("category", "model")])
    python, copied = _both(services, acme, narrow, True)
    assert copied == python
    assert 0 < python.count(b"(model ") < len(events)


def test_unescape_reads_copys_text_escapes() -> None:
    assert (
        unescape(b'"a\\tb","c\\\\n","\\r\\n\\b\\f\\v"\n') == b'"a\tb","c\\n","\r\n\x08\x0c\x0b"\r\n'
    )
    assert neutralise("x;=1") == "x;'=1"
