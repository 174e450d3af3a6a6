"""Plans made once per connection for the view's query and rare searches, on PostgreSQL.

The events table has a partition per day (about 180 under the default retention). Planning a
statement over all of them costs far more than running it: measured on 100,000 events, 20 to
26 ms of planning for well under 5 ms of execution. A statement prepared on the server with a
generic plan is planned once per connection and statement text; each later execution only
prunes the partitions its parameters exclude (bounds on ``occurred_at``) and runs.

Generic plans are asked for only around the statements that gain from them (the view's
"newest matching events", whose best plan does not depend on the values: an ordered walk of an
index that ends in ``occurred_at, seq``, newest partition first, stopping at the limit), so
every other query keeps PostgreSQL's usual choice between custom and generic plans. A search
uses them only to find the newest day it can match (the view's query, one row), to count its
hits over the older days and, when the index holds few, to read them (a rare word looked up
in each partition's GIN index: 70 ms of planning for 10 ms of lookups). SQLite
plans in microseconds and caches its own statements: nothing to do there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection


@contextmanager
def generic_plans(connection: Connection) -> Iterator[Connection]:
    """Statements run inside are prepared on the server at once and planned generically.

    Call it inside a transaction (``Database.read()``): the plan mode is set with ``SET
    LOCAL``, so a failure that aborts the transaction also ends the setting.
    """
    if connection.dialect.name != "postgresql":
        yield connection
        return
    driver: Any = connection.connection.driver_connection  # psycopg.Connection
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    threshold = driver.prepare_threshold
    # 0: prepare on the first execution (psycopg's default waits for the fifth), so the plan
    # is reused from the second; the prepared statements stay with the pooled connection.
    driver.prepare_threshold = 0
    try:
        yield connection
    finally:
        driver.prepare_threshold = threshold
    connection.exec_driver_sql("SET LOCAL plan_cache_mode TO DEFAULT")


@contextmanager
def log_walk_plans(connection: Connection) -> Iterator[Connection]:
    """:func:`generic_plans` for a reader that walks a whole log in seq ranges (``verify``),
    and without parallel workers.

    Such a read asks the same statements a hundred times (a page of seqs each), and a page
    spans every partition: planning one costs 100 to 300 ms on PostgreSQL, more than reading
    it. Without parallel workers the plan is an ordered merge of each partition's seq index
    joined to the leaves' primary key (measured on 100,000 events, one page of 10,000: 16 ms);
    with them PostgreSQL hashes and sorts the page (95 ms).
    """
    if connection.dialect.name != "postgresql":
        yield connection
        return
    with generic_plans(connection):
        # SET LOCAL: an error that aborts the transaction ends it too (as in generic_plans).
        connection.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        yield connection
        connection.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather TO DEFAULT")
