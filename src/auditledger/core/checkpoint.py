"""Checkpoints (C2SP tlog-checkpoint): a signed note whose text is a log's tree head.

    <origin>            e.g. auditledger.example.com/acme  (``<log_origin>/<org slug>``)
    <tree size>         decimal, no leading zeros
    <root hash>         base64 of the RFC 6962 root of the first <tree size> leaves

Each line ends with a newline; the signed-note signature lines follow a blank line.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from auditledger.core.errors import InvalidInput, Problem
from auditledger.core.keys import SigningKey, VerifierKey
from auditledger.core.merkle import HASH_SIZE
from auditledger.core.note import open_note, sign_note
from auditledger.core.signed_time import time_line

_SIZE = re.compile(r"0|[1-9][0-9]*")


def log_origin_for(log_origin: str, org_slug: str) -> str:
    """The origin line of an organization's log."""
    return f"{log_origin}/{org_slug}"


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: which log, how many leaves, and the root over them."""

    origin: str
    tree_size: int
    root_hash: bytes

    def body(self) -> str:
        """The note text: three lines, each ending in a newline."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        return f"{self.origin}\n{self.tree_size}\n{root}\n"


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose note verified, with the keys that signed it."""

    checkpoint: Checkpoint
    note: str
    signed_by: tuple[VerifierKey, ...]

    @property
    def tree_size(self) -> int:
        """The checkpoint's tree size."""
        return self.checkpoint.tree_size

    @property
    def root_hash(self) -> bytes:
        """The checkpoint's root hash."""
        return self.checkpoint.root_hash


@dataclass(frozen=True)
class StoredCheckpoint:
    """A row of the ``checkpoints`` table, with the witnesses' cosignatures stored for it."""

    org_id: int
    tree_size: int
    root_hash: bytes
    note: str  # the log's signed note, verbatim
    key_name: str
    created_at: datetime
    cosignatures: tuple[str, ...] = ()  # witnesses' signature lines (tlog-cosignature)

    @property
    def served_note(self) -> str:
        """The note as served and exported: the log's signature, then each cosignature as one
        more signature line (verifiers that do not know a witness ignore its line)."""
        return self.note + "".join(self.cosignatures)


def _bad(why: str, field: str) -> InvalidInput:
    return InvalidInput("malformed checkpoint", [Problem(field, why)])


def parse_body(text: str, field: str = "checkpoint") -> Checkpoint:
    """The checkpoint in a note's text; extension lines (after the third) are ignored."""
    lines = text.split("\n")
    if lines[-1] != "" or len(lines) < 4 or any(not line for line in lines[:-1]):
        raise _bad("expected origin, tree size and root hash lines, each non-empty", field)
    origin, size, root = lines[0], lines[1], lines[2]
    if not _SIZE.fullmatch(size):
        raise _bad(f"tree size {size[:40]!r} is not a decimal number without leading zeros", field)
    try:
        root_hash = base64.b64decode(root, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"root hash {root[:60]!r} is not base64", field) from None
    if len(root_hash) != HASH_SIZE or base64.b64encode(root_hash).decode("ascii") != root:
        raise _bad(f"root hash {root[:60]!r} is not the base64 of 32 bytes", field)
    return Checkpoint(origin, int(size), root_hash)


def sign_checkpoint(
    checkpoint: Checkpoint, key: SigningKey, *, signed_at: datetime | None = None
) -> str:
    """The signed note of ``checkpoint``; with ``signed_at``, the note also states when it was
    signed (an extension line, see :mod:`auditledger.core.signed_time`)."""
    body = checkpoint.body()
    if signed_at is not None:
        body += time_line(signed_at)
    return sign_note(body, [key])


def open_checkpoint(
    note: str,
    verifiers: Iterable[VerifierKey],
    *,
    origin: str | None = None,
    field: str = "checkpoint",
) -> SignedCheckpoint:
    """Verify ``note`` with ``verifiers`` and parse it; with ``origin``, it must be that log's.

    :class:`InvalidInput` if malformed, not signed by a trusted key, or for another log.
    """
    opened = open_note(note, verifiers, field)
    checkpoint = parse_body(opened.text, field)
    if origin is not None and checkpoint.origin != origin:
        raise _bad(f"it is a checkpoint of {checkpoint.origin!r}, not of {origin!r}", field)
    return SignedCheckpoint(checkpoint, note, opened.verified_by)


def split_notes(text: str) -> list[str]:
    """The signed notes in a file that holds one or more, one after another.

    A note ends after its last signature line; blank lines between notes are skipped.
    """
    notes: list[str] = []
    current: list[str] = []
    in_signatures = False
    parts = text.split("\n")  # not splitlines(): that would also split at U+2028 and friends
    lines = [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    for line in lines:
        is_signature = line.startswith("\u2014 ")
        if in_signatures and not is_signature:
            notes.append("".join(current))
            current, in_signatures = [], False
            if line.strip() == "":
                continue
        if is_signature and current and (in_signatures or current[-1] == "\n"):
            in_signatures = True
        if current or line.strip():
            current.append(line)
    if current:
        notes.append("".join(current))
    return notes
