"""PostgreSQL: which sequence numbers each day's partition holds, per organization, as runs.

``event_runs`` (org_id, day, first_seq, last_seq) lists, per organization and UTC day, the
runs of consecutive sequence numbers whose events occurred that day: the day's partition holds
exactly the organization's events of those seqs. A statement trigger on ``events`` keeps it in
step from the rows every INSERT or COPY writes, in the same transaction, so it is exact however
a row arrived; the purge trims it when it deletes rows and forgets a day when it detaches the
day's partition. Events arrive nearly in order, so a day has a few runs (late arrivals and the
minutes around midnight split them), not one row per event.

The purge plans from it: an expired day's runs are the ranges its record lists, and whether a
day may be detached whole is read from which organizations have runs in it, so neither
planning nor removal reads the events themselves (their count would grow with the rows).

Derived data, like the search index: ``verify`` never reads it. Were a run wrong, a purge would
drop events it did not record (``verify`` reports each as missing, not covered by a purge) or
record seqs it did not remove (its count then exceeds the expired events its ranges hold,
which ``GET /retention`` reports as the purge's problem).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Connection, text

TABLE = "event_runs"
Range = tuple[int, int]  # inclusive first and last sequence number

# Runs of consecutive seqs per organization and UTC day among ``source``'s rows (gaps and
# islands: consecutive seqs of one day share ``seq - row_number()``).
_RUNS_OF = """SELECT org_id, day, min(seq) AS first_seq, max(seq) AS last_seq FROM (
      SELECT org_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, seq,
             seq - row_number() OVER (
               PARTITION BY org_id, (occurred_at AT TIME ZONE 'UTC')::date ORDER BY seq
             ) AS island
      FROM {source}) AS numbered
    GROUP BY org_id, day, island"""

DDL = [
    f"""CREATE TABLE {TABLE} (
         org_id integer NOT NULL,
         day date NOT NULL,
         first_seq bigint NOT NULL,
         last_seq bigint NOT NULL,
         CONSTRAINT pk_event_runs PRIMARY KEY (org_id, day, first_seq))""",
    # Which organizations a day holds (the purge's check before detaching it).
    f"CREATE INDEX ix_event_runs_day ON {TABLE} (day, org_id)",
    # A run that continues one already listed (the next seq of the same day) extends it, so an
    # organization's day stays one run while its events arrive in order.
    f"""CREATE FUNCTION auditledger_note_event_runs() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
         r record;
       BEGIN
         FOR r IN {_RUNS_OF.format(source="new_events")} ORDER BY 1, 2, 3 LOOP
           UPDATE {TABLE} SET last_seq = r.last_seq
             WHERE org_id = r.org_id AND day = r.day AND last_seq = r.first_seq - 1;
           IF NOT FOUND THEN
             INSERT INTO {TABLE} (org_id, day, first_seq, last_seq)
               VALUES (r.org_id, r.day, r.first_seq, r.last_seq);
           END IF;
         END LOOP;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER events_note_runs AFTER INSERT ON events
       REFERENCING NEW TABLE AS new_events
       FOR EACH STATEMENT EXECUTE FUNCTION auditledger_note_event_runs()""",
]


def create(connection: Connection) -> None:
    """Create the table and its trigger, filled from the events already stored (the
    migration's work; PostgreSQL only)."""
    for statement in DDL:
        connection.exec_driver_sql(statement)
    rebuild(connection)


def rebuild(connection: Connection) -> None:
    """Work the runs out again from the events stored (one pass over their primary keys)."""
    connection.exec_driver_sql(f"DELETE FROM {TABLE}")
    connection.exec_driver_sql(
        f"INSERT INTO {TABLE} (org_id, day, first_seq, last_seq) "
        + _RUNS_OF.format(source="events")
    )


def org_runs_by_day(connection: Connection, org_id: int, before: date) -> dict[date, list[Range]]:
    """The organization's runs in each day's partition before ``before``, day by day."""
    rows = connection.execute(
        text(
            f"SELECT day, first_seq, last_seq FROM {TABLE} "
            "WHERE org_id = :org AND day < :before ORDER BY day, first_seq"
        ),
        {"org": org_id, "before": before},
    )
    found: dict[date, list[Range]] = {}
    for day, first, last in rows:
        found.setdefault(day, []).append((int(first), int(last)))
    return found


def day_contents(connection: Connection, days: Sequence[date]) -> dict[date, dict[int, int]]:
    """Per day, per organization with events in it, the highest seq the day's partition holds
    (a few index entries per day, never the events)."""
    contents: dict[date, dict[int, int]] = {day: {} for day in days}
    if not days:
        return contents
    rows = connection.execute(
        text(
            f"SELECT day, org_id, max(last_seq) FROM {TABLE} "
            "WHERE day = ANY(:days) GROUP BY day, org_id"
        ),
        {"days": list(days)},
    )
    for day, org_id, top in rows:
        contents[day][int(org_id)] = int(top)
    return contents


def forget_days(connection: Connection, days: Sequence[date]) -> None:
    """The days' partitions are detached: their runs go with them (same transaction)."""
    if days:
        connection.execute(
            text(f"DELETE FROM {TABLE} WHERE day = ANY(:days)"), {"days": list(days)}
        )


def forget_seqs(connection: Connection, org_id: int, before: date, first: int, last: int) -> None:
    """The organization's events of days before ``before`` with seqs ``first`` to ``last`` were
    deleted (same transaction): its runs of those days lose that span."""
    params = {"org": org_id, "before": before, "first": first, "last": last}
    overlapping = "org_id = :org AND day < :before AND first_seq <= :last AND last_seq >= :first"
    # What outlasts the span on its right becomes a run of its own, what outlasts it on its
    # left stays in the run it started, and the runs wholly inside the span go.
    connection.execute(
        text(
            f"INSERT INTO {TABLE} (org_id, day, first_seq, last_seq) "
            f"SELECT org_id, day, :last + 1, last_seq FROM {TABLE} "
            f"WHERE {overlapping} AND last_seq > :last"
        ),
        params,
    )
    connection.execute(
        text(
            f"UPDATE {TABLE} SET last_seq = :first - 1 WHERE {overlapping} AND first_seq < :first"
        ),
        params,
    )
    connection.execute(text(f"DELETE FROM {TABLE} WHERE {overlapping}"), params)
