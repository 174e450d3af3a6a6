"""Send one batch of events to the service and say what happened, in terms a sender can act on.

Shared by the client's background sender and the outbox relay, so both treat every answer the
same way:

* 2xx: delivered, with a receipt per event (``duplicate`` counts: the event is stored);
* 429, 503, other 5xx, 408 and network errors: try again later (``Retry-After`` honoured);
  resending is safe because every event carries its id;
* 400, 409, 413, 422: the service will never accept these events as they are; the ones the
  problems name (``events[3].timestamp``) are rejected, the others may be sent again;
* 401, 403, 404 and anything else: a configuration problem (credential, organization, URL).
  Nothing is dropped: the events wait until someone fixes it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx2 as httpx

from auditledger_client.core.errors import Problem

from .model import Receipt
from .version import VERSION

PERMANENT = frozenset({400, 409, 413, 422})
_INDEX = re.compile(r"^events\[(\d+)\]\.?(.*)$")


@dataclass(frozen=True)
class Delivered:
    """Every event of the batch is committed."""

    receipts: list[Receipt]


@dataclass(frozen=True)
class Retry:
    """Nothing was stored (or we cannot know); send the same events again later.

    ``hold`` marks problems that waiting alone will not fix (a revoked credential, an unknown
    organization): they are reported so that a person can act.
    """

    reason: str
    retry_after: float | None = None
    hold: bool = False
    # The connection was never established: nothing was sent, nobody is listening.
    refused: bool = False


@dataclass(frozen=True)
class Rejected:
    """The service refused the batch for good; nothing of it was stored (batches are atomic).

    ``culprits`` maps the index of each event the problems name to its problems; it is None
    when the answer does not say which events are at fault.
    """

    status: int
    code: str
    message: str
    problems: list[Problem]
    culprits: dict[int, list[Problem]] | None


Outcome = Delivered | Retry | Rejected


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _error(response: httpx.Response) -> tuple[str, str, list[Problem]]:
    try:
        body = response.json()
        error = body["error"]
        problems = [Problem(str(p["field"]), str(p["message"])) for p in error.get("problems", [])]
        return str(error.get("code", "error")), str(error.get("message", "")), problems
    except (ValueError, KeyError, TypeError, AttributeError):
        return "http_" + str(response.status_code), response.text[:300], []


def _culprits(message: str, problems: list[Problem], size: int) -> dict[int, list[Problem]] | None:
    if size == 1:
        return {0: problems or [Problem("event", message)]}
    culprits: dict[int, list[Problem]] = {}
    for problem in problems:
        match = _INDEX.match(problem.field)
        if match is None or int(match.group(1)) >= size:
            return None  # a problem of the whole request: cannot tell which event
        field = match.group(2) or "event"
        culprits.setdefault(int(match.group(1)), []).append(Problem(field, problem.message))
    if not culprits:
        match = _INDEX.match(message)  # 413: "events[3] is 70000 bytes; ..."
        if match is None or int(match.group(1)) >= size:
            return None
        culprits[int(match.group(1))] = [Problem("event", message)]
    return culprits


def _receipts(response: httpx.Response, org: str, size: int) -> list[Receipt] | None:
    try:
        items: Any = response.json()["receipts"]
        receipts = [
            Receipt(
                id=uuid.UUID(item["id"]),
                organization=str(item.get("organization", org)),
                status="duplicate" if item.get("status") == "duplicate" else "created",
                seq=int(item["seq"]),
                hash=str(item["hash"]),
            )
            for item in items
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return receipts if len(receipts) == size else None


class Deliverer:
    """Posts batches to ``POST /api/v1/orgs/{org}/events/batch`` with one HTTP client."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=server.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "User-Agent": f"auditledger-client/{VERSION}",
            },
        )

    def send(self, org: str, bodies: Sequence[str]) -> Outcome:
        """Send the JSON texts ``bodies`` (events of ``org``) as one atomic batch."""
        content = ('{"events":[' + ",".join(bodies) + "]}").encode("utf-8")
        path = f"/api/v1/orgs/{quote(org, safe='')}/events/batch"
        try:
            response = self._http.post(path, content=content)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return Retry(f"cannot reach the service: {type(exc).__name__}: {exc}", refused=True)
        except httpx.TransportError as exc:
            return Retry(f"cannot reach the service: {type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            receipts = _receipts(response, org, len(bodies))
            if receipts is None:
                return Retry(f"unreadable {status} answer (not from auditledger?)")
            return Delivered(receipts)
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        code, message, problems = _error(response)
        if status in (408, 429) or status >= 500:
            return Retry(f"{status} {code}: {message}", retry_after)
        if status in PERMANENT:
            return Rejected(
                status, code, message, problems, _culprits(message, problems, len(bodies))
            )
        return Retry(f"{status} {code}: {message}", retry_after, hold=True)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()
