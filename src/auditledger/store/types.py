"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Dialect, func, type_coerce
from sqlalchemy.types import TIMESTAMP, TypeDecorator, TypeEngine

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch, exactly (no float rounding)."""
    delta = value.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """The inverse of :func:`to_micros`."""
    return _EPOCH + timedelta(microseconds=value)


def sqlite_value(value: Any) -> Any:
    """A Python value in the form SQLAlchemy's column types store it on SQLite: instants as
    integer microseconds (:class:`UTCDateTime`), UUIDs as 32 hex digits (``Uuid``)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        return to_micros(value)
    if isinstance(value, uuid.UUID):
        return value.hex
    return value


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant with microsecond precision.

    PostgreSQL stores it as ``timestamptz``. SQLite has no time type, so it is stored as integer
    microseconds since the epoch: exact, compact and ordered, which the time indexes rely on.
    Naive datetimes are refused rather than guessed at.
    """

    impl = TIMESTAMP(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(TIMESTAMP(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        if dialect.name == "sqlite":
            return to_micros(value)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            return from_micros(value)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)


def epoch_seconds(column: Any, dialect_name: str) -> Any:
    """A SQL expression: seconds since the epoch of a :class:`UTCDateTime` column (an integer
    division on SQLite's microseconds, ``extract(epoch ...)`` on PostgreSQL), so a query can
    group instants into fixed buckets on either engine."""
    if dialect_name == "sqlite":
        return func.cast(type_coerce(column, BigInteger) / 1_000_000, BigInteger)
    return func.floor(func.extract("epoch", column))
