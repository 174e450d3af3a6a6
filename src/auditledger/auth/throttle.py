"""The sign-in throttle: bounds password guessing without handing anyone a lockout.

Three kinds of key, counted in the database (shared by every process, never evicted while
they matter, so no address pool can reset them):

* ``pair:<username>|<address>``: at most :data:`PAIR_FAILURES` failures per window from one
  address for one username, then that address waits for the window to end. Thirty wrong
  passwords from one address therefore stop that address only: the owner signs in from
  another one at once.
* ``ip:<address>``: at most :data:`ADDRESS_FAILURES` failures per window from one address
  across all usernames (password spraying).
* ``user:<username>``: from :data:`USERNAME_SOFT_LIMIT` failures in a window on (a guess
  from many addresses), every attempt for the username waits an increasing delay after the
  previous failure: 1, 2, 4, ... up to :data:`MAX_DELAY` seconds. Guessing is bounded to
  about two tries a minute whatever the address pool; the owner waits seconds, never minutes.

Windows are fixed (:data:`WINDOW` from a key's first failure). A refusal because of the
throttle is recorded in the audit log once per key and window; later refusals in the window
are counted, and the next recorded refusal of that key says how many there were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, or_, select

from auditledger.core.errors import AuditLedgerError
from auditledger.store.database import Database
from auditledger.store.schema import sign_in_throttle
from auditledger_client.core.clock import Clock

WINDOW = timedelta(minutes=15)
PAIR_FAILURES = 10
ADDRESS_FAILURES = 50
USERNAME_SOFT_LIMIT = 20
MAX_DELAY = 30
# Rows whose window ended this long ago are deleted (at most once a minute per process).
FORGET_AFTER = 2 * WINDOW
_PRUNE_EVERY = timedelta(minutes=1)

KINDS = {"pair": "username_address", "ip": "address", "user": "username"}


class TooManyAttempts(AuditLedgerError):
    """Too many failed sign-ins for this username or from this address; wait, then retry."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Refusal:
    """Why an attempt may not even be checked now, and whether to record it."""

    retry_after: int
    key: str
    limit: str  # username_address, address or username
    failures: int  # failures counted against the key in its window
    record: bool  # the first throttled refusal of this key and window
    unreported: int  # throttled refusals since the last recorded one (when ``record``)


def keys_for(username: str, address: str) -> dict[str, str]:
    """The throttle keys of an attempt: ``{"pair": ..., "ip": ..., "user": ...}``."""
    name = username.lower()
    return {"pair": f"pair:{name}|{address}", "ip": address, "user": f"user:{name}"}


def _delay(failures: int) -> int:
    return int(min(MAX_DELAY, 2 ** min(failures - USERNAME_SOFT_LIMIT, 6)))


class SignInThrottle:
    """The counters and the rules above, over the ``sign_in_throttle`` table."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._pruned: datetime | None = None

    def _all(self, connection: Connection, keys: list[str]) -> dict[str, Any]:
        query = select(sign_in_throttle).where(sign_in_throttle.c.key.in_(keys))
        return {r.key: r for r in connection.execute(self.db.for_update(query))}

    def _rows(self, connection: Connection, keys: list[str], now: datetime) -> dict[str, Any]:
        """The keys' rows whose window is still open."""
        rows = self._all(connection, keys)
        return {k: r for k, r in rows.items() if now < r.window_start + WINDOW}

    def _wait(self, kind: str, row: Any, now: datetime) -> float | None:
        if kind in ("pair", "ip"):
            limit = PAIR_FAILURES if kind == "pair" else ADDRESS_FAILURES
            if row.failures >= limit:
                return float((row.window_start + WINDOW - now).total_seconds())
            return None
        if row.failures < USERNAME_SOFT_LIMIT:
            return None
        until = row.last_failure + timedelta(seconds=_delay(row.failures))
        return float((until - now).total_seconds()) if now < until else None

    def check(self, username: str, address: str) -> Refusal | None:
        """None if the attempt may be checked; else the refusal (and it is counted)."""
        now = self.clock.now()
        keys = keys_for(username, address)
        with self.db.write() as connection:
            rows = self._rows(connection, list(keys.values()), now)
            worst: tuple[float, str] | None = None
            for kind, key in keys.items():
                row = rows.get(key)
                wait = self._wait(kind, row, now) if row is not None else None
                if wait is not None and (worst is None or wait > worst[0]):
                    worst = (wait, kind)
            if worst is None:
                return None
            wait, kind = worst
            row = rows[keys[kind]]
            record = not row.reported
            connection.execute(
                sign_in_throttle.update()
                .where(sign_in_throttle.c.key == row.key)
                .values(
                    reported=True,
                    unreported=0 if record else row.unreported + 1,
                )
            )
        return Refusal(
            retry_after=max(1, int(wait) + 1),
            key=row.key,
            limit=KINDS[kind],
            failures=int(row.failures),
            record=record,
            unreported=int(row.unreported) if record else 0,
        )

    def fail(self, username: str, address: str) -> None:
        """Count one failed attempt against each of its keys."""
        now = self.clock.now()
        keys = list(keys_for(username, address).values())
        with self.db.write() as connection:
            stored = self._all(connection, keys)
            for key in keys:
                old = stored.get(key)
                row = old if old is not None and now < old.window_start + WINDOW else None
                values = {
                    "key": key,
                    "window_start": row.window_start if row is not None else now,
                    "failures": (row.failures + 1) if row is not None else 1,
                    "last_failure": now,
                    "reported": bool(row.reported) if row is not None else False,
                    # Refusals never recorded survive into the next window's record.
                    "unreported": int(old.unreported) if old is not None else 0,
                }
                self.db.upsert(
                    connection,
                    sign_in_throttle,
                    [values],
                    keys=["key"],
                    update={k: v for k, v in values.items() if k != "key"},
                )
            self._prune(connection, now)

    def _prune(self, connection: Connection, now: datetime) -> None:
        if self._pruned is not None and now - self._pruned < _PRUNE_EVERY:
            return
        self._pruned = now
        connection.execute(
            delete(sign_in_throttle).where(
                sign_in_throttle.c.last_failure < now - FORGET_AFTER,
                sign_in_throttle.c.unreported == 0,
            )
        )

    def succeeded(self, username: str, address: str) -> None:
        """The owner signed in: forget the username's counters at this address and overall
        (the address's own count across usernames stays)."""
        keys = keys_for(username, address)
        with self.db.write() as connection:
            connection.execute(
                delete(sign_in_throttle).where(
                    sign_in_throttle.c.key.in_([keys["pair"], keys["user"]])
                )
            )

    def unlock(self, username: str) -> int:
        """Forget every counter of ``username`` (``auditledger users unlock``); how many."""
        name = username.lower()
        with self.db.write() as connection:
            result = connection.execute(
                delete(sign_in_throttle).where(
                    or_(
                        sign_in_throttle.c.key == f"user:{name}",
                        sign_in_throttle.c.key.startswith(f"pair:{name}|", autoescape=True),
                    )
                )
            )
        return int(result.rowcount or 0)
