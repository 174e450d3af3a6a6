"""Reading a query's result at the engine's speed: PostgreSQL's ``COPY (query) TO STDOUT``.

The rows never become Python values: the server renders each as one text line and the
driver hands over its bytes, a row at a time (libpq's unit), inside the caller's transaction
(so in its snapshot).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
from sqlalchemy import Connection, Select
from sqlalchemy.dialects import postgresql


def copy_text_rows(connection: Connection, statement: Select[Any]) -> Iterator[bytes]:
    """The rows of ``statement`` in COPY's text format, one ``bytes`` per row with its
    ``\\n``: columns separated by tabs, and ``\\``, tab, CR, LF, BS, FF and VT inside values
    escaped with a backslash (``\\t``, ``\\r``...)."""
    compiled = statement.compile(
        dialect=postgresql.psycopg.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"render_postcompile": True},
    )
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY ({compiled.string}) TO STDOUT", compiled.params) as copy,
    ):
        for row in copy:
            yield bytes(row)
