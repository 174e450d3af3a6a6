"""PostgreSQL: run a statement with one plan for any parameters, made once per connection.

A query over every daily partition costs more to plan than to run: 170-odd partitions with
nine indexes each took 70 ms of planning for 10 ms of GIN lookups that found nothing. A
prepared statement with a generic plan is planned once per connection (the partitions are
pruned when it starts, not when it is planned) and then costs only its execution. Only for
statements whose best plan does not depend on their parameters' values: a generic plan
assumes typical selectivities (a text search: a bitmap scan of each partition's GIN index).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection


@contextmanager
def generic_plans(connection: Connection) -> Iterator[Connection]:
    """Within the block, statements on ``connection`` are prepared at once and run with a
    generic plan (cached for the connection's life); outside it nothing changes. A no-op on
    SQLite, whose planning is cheap."""
    if connection.dialect.name != "postgresql":
        yield connection
        return
    driver: Any = connection.connection.driver_connection
    threshold = driver.prepare_threshold
    # Local to the transaction, and put back below: the caller's other statements keep theirs.
    previous, _ = connection.exec_driver_sql(
        "WITH before AS MATERIALIZED (SELECT current_setting('plan_cache_mode') AS mode)"
        " SELECT mode, set_config('plan_cache_mode', 'force_generic_plan', true) FROM before"
    ).one()
    driver.prepare_threshold = 0
    try:
        yield connection
    finally:
        driver.prepare_threshold = threshold
        connection.exec_driver_sql(
            "SELECT set_config('plan_cache_mode', %(mode)s, true)", {"mode": previous}
        )
