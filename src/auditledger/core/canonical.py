"""The canonical bytes of an event: what its Merkle leaf hash covers.

Version 1 is the RFC 8785 (JSON Canonicalization Scheme) encoding of one JSON object with the
fields below. Because the object holds only strings, integers within +/-(2**53 - 1), booleans,
null, lists and objects with ASCII keys, JCS and Python's ``json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` produce the same bytes; ``docs/integrity.md``
specifies the object field by field for third-party verifiers.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from auditledger_client.core.event import Event

CANONICAL_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_timestamp(value: datetime) -> str:
    """UTC with exactly six fractional digits and a ``Z``: ``2026-05-01T12:00:00.000000Z``."""
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("canonical timestamps must be timezone-aware")
    if offset:
        value = value.astimezone(UTC)
    # isoformat() is several times faster than strftime() and always writes four year digits.
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@functools.cache
def _clock_times() -> list[str]:
    """``HH:MM:SS`` for every second of a day, built once: cheaper than formatting each."""
    return [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]


class TimestampText:
    """:func:`format_timestamp` for stored values, fast: integer microseconds (how SQLite stores
    instants) or aware datetimes (PostgreSQL). Used where millions of rows are formatted
    (verification, exports); ``tests/integrity/test_rowcanon.py`` pins equality."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        # Rows of one batch often share an instant (the received time): remember the last.
        self._last: tuple[Any, str] = (None, "")

    def __call__(self, value: Any) -> str:
        last = self._last  # read once: an instance may be shared between threads
        if value == last[0]:
            return last[1]
        micros = value if type(value) is int else _to_micros(value)
        seconds, fraction = divmod(micros, 1_000_000)
        day, second_of_day = divmod(seconds, 86_400)
        date_text = self._days.get(day)
        if date_text is None:
            date_text = format_timestamp(_EPOCH + timedelta(days=day))[:11]
            self._days[day] = date_text
        text = f"{date_text}{_clock_times()[second_of_day]}.{fraction:06d}Z"
        self._last = (value, text)
        return text


def _to_micros(value: datetime) -> int:
    delta = value - _EPOCH  # aware datetimes subtract as instants, whatever their zones
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def canonical_object(event: Event) -> dict[str, Any]:
    """The JSON object (before encoding) that represents ``event`` canonically."""
    subject = event.subject
    return {
        "v": CANONICAL_VERSION,
        "id": str(event.event_id),
        "org": event.org,
        "seq": event.seq,
        "timestamp": format_timestamp(event.occurred_at),
        "received": format_timestamp(event.received_at),
        "category": event.category,
        "type": event.type,
        "subject": {
            "type": subject.type,
            "id": subject.id,
            "name": subject.name,
            "parent": (
                {
                    "type": subject.parent_type,
                    "id": subject.parent.id,
                    "name": subject.parent.name,
                }
                if subject.parent is not None
                else None
            ),
        },
        "properties": event.properties,
        "project": (
            {"id": event.project.id, "name": event.project.name} if event.project else None
        ),
        "actor": {"type": event.actor.type, "id": event.actor.id, "name": event.actor.name},
        "source": (
            {
                "ip": event.source.ip,
                "location": event.source.location.as_dict() if event.source.location else None,
            }
            if event.source
            else None
        ),
    }


def encode(obj: Any) -> bytes:
    """RFC 8785 bytes of a float-free JSON value."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_bytes(event: Event) -> bytes:
    """The bytes the event's leaf hash covers."""
    return encode(canonical_object(event))


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def event_leaf_hash(event: Event) -> bytes:
    """The Merkle leaf hash of a recorded event."""
    return leaf_hash(canonical_bytes(event))
