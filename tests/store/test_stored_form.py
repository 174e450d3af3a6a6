"""Raw readers get SQLite's stored form of instants and UUIDs on both engines."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from auditledger.services import Services
from auditledger.store.types import to_micros

instants = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999_999)
).map(lambda d: d.replace(tzinfo=UTC))


def test_stored_form_is_what_sqlite_stores(services: Services) -> None:
    # Every instant a datetime can hold, and any UUID: the same integer and hex digits as
    # SQLite's columns hold (store.types), so the verifier compares and formats one form.
    db = services.db
    instant = db.stored_form("CAST(:t AS timestamptz)", "instant")
    identifier = db.stored_form("CAST(:u AS uuid)", "uuid")
    if not db.is_postgres:
        assert (instant, identifier) == ("CAST(:t AS timestamptz)", "CAST(:u AS uuid)")
        return

    @settings(max_examples=200, deadline=None)
    @given(at=instants, value=st.uuids())
    def check(at: datetime, value: uuid.UUID) -> None:
        sent = at.astimezone(UTC).replace(tzinfo=None)
        with db.read() as connection:
            got = connection.execute(
                text(f"SELECT {instant}, {identifier}"),
                {"t": f"{sent.isoformat()}+00:00", "u": str(value)},
            ).one()
        assert tuple(got) == (to_micros(at), value.hex)

    check()


def test_stored_form_of_instants_before_the_epoch(services: Services) -> None:
    db = services.db
    if not db.is_postgres:
        return
    at = datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC)
    with db.read() as connection:
        got = connection.execute(
            text(f"SELECT {db.stored_form('CAST(:t AS timestamptz)', 'instant')}"),
            {"t": at.isoformat()},
        ).scalar_one()
    assert got == to_micros(at) == -999_999
