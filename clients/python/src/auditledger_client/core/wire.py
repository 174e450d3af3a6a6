"""The event as the platform sends it over the wire (pydantic models).

These models check structure and types and give the OpenAPI document its schema; the catalog
rules (which categories, types and properties exist) are applied afterwards by
:mod:`auditledger_client.core.validate`, because they are data, not code.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

MAX_ID_CHARS = 256
MAX_NAME_CHARS = 1024
MAX_BATCH_EVENTS = 1000
# The window of timestamps an event may carry, in UTC. Earlier than 1970 is no machine-learning
# platform's clock; the upper bound keeps offset arithmetic inside Python's year 1..9999.
EARLIEST_YEAR = 1970
LATEST_YEAR = 9998
TIMESTAMP_WINDOW = f"{EARLIEST_YEAR}-01-01T00:00:00Z to {LATEST_YEAR}-12-31T23:59:59.999999Z"
# Fractional seconds beyond microseconds: Python would drop them without a word.
_SUB_MICROSECOND = re.compile(r"[.,]\d{7,}")


def check_text(value: str) -> str:
    """Refuse text that cannot be stored and shown faithfully: NUL and lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (it contains a lone surrogate)") from None
    return value


Identifier = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=MAX_ID_CHARS),
    AfterValidator(check_text),
]


def check_resource_id(value: str) -> str:
    """Refuse ``/`` in the id of a resource that has pages and routes of its own (a model, a
    project): ``/models/a/b`` could never address it."""
    if "/" in value:
        raise ValueError(
            "must not contain '/': resource ids appear in URL paths (/models/{id}); "
            "use another separator such as ':' or '.'"
        )
    return value


ResourceId = Annotated[Identifier, AfterValidator(check_resource_id)]
Name = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=MAX_NAME_CHARS),
    AfterValidator(check_text),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RefIn(_Strict):
    """A resource by id, with its name at the time of the event."""

    id: ResourceId
    name: Name | None = None


class ParentIn(RefIn):
    """The resource a subject belongs to (a model version's model)."""

    type: Identifier | None = Field(
        default=None, description="Defaults to the category's parent type (e.g. model)."
    )


class SubjectIn(_Strict):
    """The resource affected by the event."""

    type: Identifier | None = Field(
        default=None, description="Defaults to the category's subject type."
    )
    id: ResourceId
    name: Name | None = None
    parent: ParentIn | None = Field(
        default=None, description="Required for model_version and dataset_version subjects."
    )


class ActorIn(_Strict):
    """Who performed the action."""

    type: Literal["user", "system"] = "user"
    id: Identifier
    name: Name


class SourceIn(_Strict):
    """Where the action originated. The location is derived by auditledger, not sent."""

    ip: str = Field(description="IPv4 or IPv6 address of the actor.", examples=["203.0.113.7"])

    @field_validator("ip", mode="before")
    @classmethod
    def _valid_ip(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string holding an IPv4 or IPv6 address")
        return normalise_ip(value)


@functools.lru_cache(maxsize=4096)
def normalise_ip(value: str) -> str:
    """The stored text form of an address given as text (see :func:`address_text`), or
    ``ValueError``. Cached: a platform sends the same few addresses over and over."""
    try:
        return address_text(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(f"{value[:60]!r} is not an IPv4 or IPv6 address") from None


def address_text(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The text form an address is stored (and hashed) in: dotted IPv4, or RFC 5952 compressed
    lowercase IPv6, an IPv4-mapped address included (``::ffff:c1a6:307``). Written out here
    because Python 3.13 started printing mapped addresses as ``::ffff:193.166.3.7``; the
    canonical bytes must not depend on the interpreter's version."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        packed = int(addr.ipv4_mapped)
        return f"::ffff:{packed >> 16:x}:{packed & 0xFFFF:x}"
    return str(addr)


class EventIn(_Strict):
    """One audit event as sent by the platform."""

    id: uuid.UUID | None = Field(
        default=None,
        description="A UUID chosen by the platform. Re-sending the same id is safe: it is "
        "stored once. Without it the server assigns one and retries may duplicate.",
    )
    timestamp: datetime | None = Field(
        default=None,
        description="When the action happened, ISO 8601 with a timezone offset, at most "
        "microsecond precision, between 1970-01-01 and 9998-12-31 in UTC. "
        "Defaults to the time received.",
    )
    category: Annotated[str, StringConstraints(strict=True, max_length=64)]
    type: Annotated[str, StringConstraints(strict=True, max_length=64)]
    subject: SubjectIn
    properties: dict[str, Any] = Field(default_factory=dict)
    project: RefIn | None = None
    actor: ActorIn
    source: SourceIn | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _uuid_text(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError("must be a UUID string such as 0b6c3c1e-...")
        return value

    @field_validator("timestamp", mode="before")
    @classmethod
    def _aware_timestamp(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("must be an ISO 8601 string such as 2026-05-01T12:00:00Z")
        return parse_timestamp(value)


def parse_timestamp(value: str) -> datetime:
    """An event timestamp from its text, or ``ValueError`` saying what is wrong: ISO 8601 with
    an offset, at most microseconds, inside :data:`TIMESTAMP_WINDOW` once in UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value[:60]!r} is not an ISO 8601 timestamp such as 2026-05-01T12:00:00Z"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(
            "must include a timezone offset (naive times are ambiguous), e.g. 2026-05-01T12:00:00Z"
        )
    if _SUB_MICROSECOND.search(value):
        raise ValueError(
            "has more than 6 fractional digits; auditledger keeps timestamps to the "
            "microsecond, so round or truncate it before sending"
        )
    try:
        in_utc = parsed.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not EARLIEST_YEAR <= in_utc.year <= LATEST_YEAR:
        raise ValueError(f"must lie between {TIMESTAMP_WINDOW} (after applying its offset)")
    return parsed
