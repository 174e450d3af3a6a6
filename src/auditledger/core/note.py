"""Signed notes (C2SP signed-note): text, a blank line, then one line per signature.

    <text, ending in a newline>
    <blank line>
    — <key name> <base64(4-byte key id || signature)>
    ...

The signature covers the text including its final newline. Verifiers ignore signatures from
keys they do not know, reject the note if a known key's signature fails, and reject it unless at
least one known key's signature verifies.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from auditledger.core.errors import InvalidInput, Problem
from auditledger.core.keys import KEY_ID_SIZE, SigningKey, VerifierKey, check_key_name

EM_DASH = "\u2014"
SIGNATURE_PREFIX = EM_DASH + " "
# The spec asks verifiers to accept at least 16 signatures and to bound the count.
MAX_SIGNATURES = 100


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name and id, and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line, with its newline."""
        encoded = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True)
class Note:
    """A parsed note: its text and every signature line (verified or not)."""

    text: str
    signatures: tuple[NoteSignature, ...]


@dataclass(frozen=True)
class OpenedNote:
    """A note with at least one signature verified by a known key."""

    text: str
    verified_by: tuple[VerifierKey, ...]
    unknown: tuple[NoteSignature, ...]


def _malformed(why: str, field: str) -> InvalidInput:
    return InvalidInput("malformed signed note", [Problem(field, why)])


def _check_text(text: str, field: str) -> None:
    if not text.endswith("\n") or text == "\n":
        raise _malformed("the note text must be non-empty and end with a newline", field)
    if any(c < " " and c != "\n" for c in text):
        raise _malformed("the note contains a control character other than newline", field)


def sign_note(text: str, keys: Sequence[SigningKey]) -> str:
    """``text`` signed by each of ``keys``."""
    _check_text(text, "text")
    if "\n\n" in text:
        # Allowed by the spec, but a checkpoint never has one and it would invite ambiguity.
        raise _malformed("the note text must not contain an empty line", "text")
    message = text.encode("utf-8")
    lines = [NoteSignature(key.name, key.verifier.key_id, key.sign(message)).line() for key in keys]
    if not lines:
        raise _malformed("a signed note needs at least one signature", "keys")
    return text + "\n" + "".join(lines)


def parse_note(note: str, field: str = "note") -> Note:
    """The text and signature lines of ``note`` (syntax only; nothing is verified)."""
    _check_text(note, field)
    split = note.rfind("\n\n")
    if split < 0:
        raise _malformed("no blank line separates the text from the signatures", field)
    text, block = note[: split + 1], note[split + 2 :]
    if not text.strip("\n"):
        raise _malformed("the note text is empty", field)
    lines = block.split("\n")[:-1]  # the block ends with a newline (checked above)
    if not lines:
        raise _malformed("the note has no signature lines", field)
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"more than {MAX_SIGNATURES} signatures", field)
    return Note(text, tuple(_parse_signature(line, field) for line in lines))


def parse_signature_line(line: str, field: str = "line") -> NoteSignature:
    """One signature line, with its newline and nothing else (as a stored cosignature line is
    kept); :class:`InvalidInput` naming ``field`` if it is not exactly that."""
    if not line.endswith("\n") or "\n" in line[:-1]:
        raise _malformed(f"{line[:80]!r} is not one line ending in a newline", field)
    return _parse_signature(line[:-1], field)


def _parse_signature(line: str, field: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise _malformed(f"{line[:80]!r} is not a signature line ('— <name> <base64>')", field)
    parts = line[len(SIGNATURE_PREFIX) :].split(" ")
    if len(parts) != 2:
        raise _malformed(f"{line[:80]!r} is not '— <name> <base64>'", field)
    name, encoded = parts
    try:
        check_key_name(name, field)
        raw = base64.b64decode(encoded, validate=True)
    except (InvalidInput, binascii.Error, ValueError):
        raise _malformed(f"{line[:80]!r} has a bad key name or base64", field) from None
    if len(raw) <= KEY_ID_SIZE:
        raise _malformed(f"{line[:80]!r} holds no signature after the key id", field)
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def open_note(note: str, verifiers: Iterable[VerifierKey], field: str = "note") -> OpenedNote:
    """Parse ``note`` and verify it against ``verifiers``; :class:`InvalidInput` unless a known
    key's signature verifies and no known key's signature fails."""
    parsed = parse_note(note, field)
    known: dict[tuple[str, bytes], VerifierKey] = {}
    for verifier in verifiers:
        known.setdefault((verifier.name, verifier.key_id), verifier)
    message = parsed.text.encode("utf-8")
    verified: list[VerifierKey] = []
    unknown: list[NoteSignature] = []
    for signature in parsed.signatures:
        key = known.get((signature.name, signature.key_id))
        if key is None:
            unknown.append(signature)
            continue
        if not key.verify(message, signature.signature):
            raise InvalidInput(
                "signature does not verify",
                [Problem(field, f"the signature by {key.name}+{key.key_id_hex} does not verify")],
            )
        if key not in verified:
            verified.append(key)
    if not verified:
        names = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in parsed.signatures)
        raise InvalidInput(
            "no trusted signature",
            [Problem(field, f"no signature from a trusted key (signed by: {names})")],
        )
    return OpenedNote(parsed.text, tuple(verified), tuple(unknown))
