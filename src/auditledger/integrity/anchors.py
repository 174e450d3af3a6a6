"""Trust anchors: the keys a verifier believes because the operator pinned them, not because
the database it checks says so.

Whoever can write to the database can register a key of their own and re-sign a rewritten
history with it, so ``verify`` never trusts the ``signing_keys`` table by itself. It trusts:

* keys given with ``--public-key`` (a verifier key, or a file of them, one per line);
* the public half of the deployment's signing key file, and of the ``<file>.retired-<id>``
  files ``keys rotate`` leaves beside it (read on the machine that holds them);
* a key in the database whose signature verifies a checkpoint the auditor saved (``--against``);
* a key that a rotation statement links to an anchored key: ``keys rotate`` signs the note
  ``auditledger key rotation / <old vkey> / <new vkey>`` with both keys, so trusting either one
  vouches for the other, offline.

A database key that none of these vouches for is reported (it may sign nothing trusted).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from auditledger.core.errors import InvalidInput
from auditledger.core.keys import SigningKey, VerifierKey, parse_vkey, read_key_file
from auditledger.core.note import open_note, parse_note, sign_note

ROTATION_TITLE = "auditledger key rotation"


def rotation_statement(old: SigningKey, new: SigningKey, when: str) -> str:
    """The signed note that links ``old`` to ``new`` (signed by both)."""
    text = f"{ROTATION_TITLE}\n{old.verifier.vkey()}\n{new.verifier.vkey()}\n{when}\n"
    return sign_note(text, [old, new])


def read_rotation(statement: str) -> tuple[VerifierKey, VerifierKey] | None:
    """(old key, new key) of a rotation statement signed by both, or None if it is not one."""
    try:
        lines = parse_note(statement, "rotation").text.split("\n")
        if len(lines) < 3 or lines[0] != ROTATION_TITLE:
            return None
        old, new = parse_vkey(lines[1], "rotation"), parse_vkey(lines[2], "rotation")
        opened = open_note(statement, [old, new], "rotation")
    except InvalidInput:
        return None
    if set(opened.verified_by) != {old, new}:
        return None
    return old, new


def key_file_anchors(path: Path, name: str) -> list[VerifierKey]:
    """The public halves of the signing key file and its retired predecessors, if readable."""
    found: list[VerifierKey] = []
    candidates = [path, *sorted(path.parent.glob(f"{path.name}.retired-*"))]
    for candidate in candidates:
        try:
            found.append(read_key_file(candidate, name).verifier)
        except (OSError, ValueError, InvalidInput):
            continue
    return found


@dataclass
class Anchored:
    """The keys a verifier may use, where each came from, and the database keys none vouches
    for."""

    trusted: list[VerifierKey] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    unanchored: list[VerifierKey] = field(default_factory=list)

    @property
    def any(self) -> bool:
        """Whether the operator pinned anything at all."""
        return bool(self.trusted)


def resolve(
    *,
    pinned: Sequence[VerifierKey],
    key_file: Sequence[VerifierKey],
    registered: Sequence[VerifierKey],
    rotations: Iterable[str],
    saved_notes: Sequence[str] = (),
) -> Anchored:
    """Which keys to trust: the pinned ones, the key file's, database keys that verify a saved
    checkpoint, and every key linked to those by rotation statements."""
    result = Anchored()

    def add(key: VerifierKey, source: str) -> bool:
        if key in result.trusted:
            return False
        result.trusted.append(key)
        result.sources.append(f"{key.vkey()} ({source})")
        return True

    for key in pinned:
        add(key, "--public-key")
    for key in key_file:
        add(key, "signing key file")
    for note in saved_notes:
        for key in registered:
            try:
                open_note(note, [key], "saved checkpoint")
            except InvalidInput:
                continue
            add(key, "signed a saved checkpoint")
    links = [link for link in (read_rotation(s) for s in rotations) if link is not None]
    grew = bool(result.trusted)
    while grew:
        grew = False
        for old, new in links:
            if old in result.trusted and add(new, f"rotated to from {old.key_id_hex}"):
                grew = True
            if new in result.trusted and add(old, f"rotated from, to {new.key_id_hex}"):
                grew = True
    result.unanchored = [key for key in registered if key not in result.trusted]
    return result
