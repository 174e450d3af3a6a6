"""When a checkpoint was signed, inside the signed note itself.

A checkpoint's ``created_at`` is shown as "signed at" by the pages and the API; stored beside
the note it could be changed without a trace. Checkpoints therefore carry the time as a
tlog-checkpoint extension line after the root hash, ``time <UTC timestamp>`` (the canonical
timestamp form, ``2026-05-01T12:00:00.000000Z``), covered by the signature. Verifiers that do
not know the line ignore it, as c2sp.org/tlog-checkpoint requires. Checkpoints signed before
the line existed have none; their stored time cannot be checked.
"""

from __future__ import annotations

from datetime import datetime

from auditledger.core.canonical import format_timestamp

PREFIX = "time "


def time_line(at: datetime) -> str:
    """The extension line (with its newline) stating that a checkpoint was signed at ``at``."""
    return f"{PREFIX}{format_timestamp(at)}\n"


def signed_time_text(note: str) -> str | None:
    """The ``time`` extension of a signed checkpoint note's text, or None if it has none.

    Only the signed text is read (before the blank line that starts the signatures), and only
    its extension lines (after origin, tree size and root hash).
    """
    split = note.rfind("\n\n")
    if split < 0:
        return None
    for line in note[: split + 1].split("\n")[3:]:
        if line.startswith(PREFIX):
            return line[len(PREFIX) :]
    return None


def created_at_problem(note: str, created_at: datetime) -> str | None:
    """Why a stored ``created_at`` contradicts the time its signed note states, or None."""
    signed = signed_time_text(note)
    if signed is None:
        return None
    stored = format_timestamp(created_at)
    if stored == signed:
        return None
    return f"its created_at {stored} differs from the time its note signed ({signed[:40]})"
