"""Canonical bytes straight from a stored ``events`` row: the verifier's fast path.

``canonical_bytes(row_to_event(row))`` builds two dataclasses, parses two JSON columns and
re-encodes everything; verifying a large log that way is slow. This module writes the same bytes
directly: the keys in their sorted order, each string through the JSON encoder's own escaping
function, and the ``properties`` and ``source_location`` columns spliced in verbatim, because
auditledger stores them as canonical JSON already (``store.rows.event_to_row``). A column whose
JSON text is not canonical therefore yields different bytes and its event is reported as
altered, which it is. ``tests/integrity/test_rowcanon.py`` pins the equality.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from auditledger.core.canonical import CANONICAL_VERSION, TimestampText
from auditledger.core.expiry import ExpiryProof, LeafHasher

# What re-encoding a row raises when a column holds something auditledger never writes.
UNREADABLE = (TypeError, ValueError, AttributeError, OverflowError, UnicodeError)

# The columns the fast path reads, in this order.
EVENT_COLUMNS = (
    "seq",
    "occurred_at",
    "received_at",
    "event_id",
    "category",
    "type",
    "subject_type",
    "subject_id",
    "subject_name",
    "parent_type",
    "parent_id",
    "parent_name",
    "properties",
    "project_id",
    "project_name",
    "actor_type",
    "actor_id",
    "actor_name",
    "source_ip",
    "source_location",
)

# json's own string escaper (the C one when available): identical to json.dumps(ensure_ascii=
# False) for one string, without the per-call setup.
_quote = json.encoder.encode_basestring
_V = str(CANONICAL_VERSION)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def uuid_text(stored: Any) -> str:
    """The canonical text of an event id as a driver returns it: SQLite's 32 lowercase hex
    digits (how SQLAlchemy stores a ``Uuid``; the verifier reads PostgreSQL's in that form
    too) or a :class:`uuid.UUID` (PostgreSQL's driver, or a row built in memory). Any other
    form (a dashed string, say) raises ``ValueError``: a query comparing ids in the storage
    form would not find it, so it must not verify either."""
    if type(stored) is str and len(stored) == 32:
        # Sliced, not parsed: this runs once per event in verification. Anything but lowercase
        # hex digits yields text that differs from the hashed id, so the event reads as altered.
        return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}"
    if type(stored) is uuid.UUID:
        return str(stored)
    raise ValueError(f"event id {stored!r} is not in the stored form")


def _opt(value: str | None) -> str:
    return "null" if value is None else str(_quote(value))


class RowCanonicalizer:
    """Canonical bytes and leaf hashes of raw ``events`` rows of one organization."""

    def __init__(self, org_slug: str) -> None:
        self._org = _quote(org_slug)
        self._timestamp = TimestampText()
        # Events of one commit share their received time: a formatter of its own keeps it
        # cached (TimestampText remembers the last value) between the occurrence times.
        self._received = TimestampText()
        self._leaves: LeafHasher | None = None

    def canonical_bytes(self, row: Sequence[Any]) -> bytes:
        """The canonical bytes (version 1) of an event row given in :data:`EVENT_COLUMNS`
        order (one encoder: :meth:`with_digest_parts`, whose digest parts cost a microsecond
        more than the bytes alone)."""
        return self.with_digest_parts(row)[0]

    def with_digest_parts(self, row: Sequence[Any]) -> tuple[bytes, bytes, bytes, bytes]:
        """:meth:`canonical_bytes` of the row, and the content of its idempotency digest in
        three parts (``core.columns.digest_parts``: before the timestamp, the timestamp,
        after), from one quoting of each value: verify needs both for every event.

        It raises wherever either of them would (and may where only one would: callers then
        ask each alone, to say which)."""
        (
            seq,
            occurred_at,
            received_at,
            event_id,
            category,
            type_,
            subject_type,
            subject_id,
            subject_name,
            parent_type,
            parent_id,
            parent_name,
            properties,
            project_id,
            project_name,
            actor_type,
            actor_id,
            actor_name,
            source_ip,
            source_location,
            *_derived,
        ) = row
        quote = _quote
        identifier = uuid_text(event_id)
        a_id, a_name, a_type = quote(actor_id), quote(actor_name), quote(actor_type)
        s_id, s_name, s_type = quote(subject_id), _opt(subject_name), quote(subject_type)
        p_type, p_id, p_name = _opt(parent_type), _opt(parent_id), _opt(parent_name)
        category_, type_text = quote(category), quote(type_)
        occurred = self._timestamp(occurred_at)
        received = self._received(received_at)
        if project_id is None:
            project = digest_project = "null"
        else:
            j_id, j_name = quote(project_id), _opt(project_name)
            project = f'{{"id":{j_id},"name":{j_name}}}'
            digest_project = f"[{j_id},{j_name}]"
        if source_ip is None:
            source = ip = "null"
        else:
            ip = quote(source_ip)
            location = "null" if source_location is None else source_location
            source = f'{{"ip":{ip},"location":{location}}}'
        parent = "null" if parent_id is None else f'{{"id":{p_id},"name":{p_name},"type":{p_type}}}'
        canonical = (
            f'{{"actor":{{"id":{a_id},"name":{a_name},"type":{a_type}}},'
            f'"category":{category_},"id":"{identifier}","org":{self._org},'
            f'"project":{project},"properties":{properties},"received":"{received}",'
            f'"seq":{seq},"source":{source},"subject":{{"id":{s_id},"name":{s_name},'
            f'"parent":{parent},"type":{s_type}}},"timestamp":"{occurred}","type":{type_text},'
            f'"v":{_V}}}'
        )
        head = (
            f'{{"actor":[{a_type},{a_id},{a_name}],"category":{category_},"id":"{identifier}",'
            f'"project":{digest_project},"properties":{properties},"source":{ip},'
            f'"subject":[{s_type},{s_id},{s_name},{p_type},{p_id},{p_name}],"timestamp":'
        )
        return (
            canonical.encode("utf-8"),
            head.encode("utf-8"),
            f'"{occurred}"'.encode("ascii"),
            f',"type":{type_text}}}'.encode(),
        )

    def leaf_hash(self, row: Sequence[Any]) -> bytes:
        """The RFC 6962 leaf hash of an event row."""
        return hashlib.sha256(b"\x00" + self.canonical_bytes(row)).digest()

    def leaf_hasher(self) -> LeafHasher:
        """This canonicalizer's :class:`LeafHasher` (one per instance, as it is per thread)."""
        if self._leaves is None:
            self._leaves = LeafHasher()
        return self._leaves

    def leaf_and_proof(self, row: Sequence[Any]) -> tuple[bytes, ExpiryProof]:
        """The leaf hash of an event row and its expiry proof, in one SHA-256 pass."""
        return self.leaf_hasher().leaf_and_proof(row[0], self.canonical_bytes(row))
