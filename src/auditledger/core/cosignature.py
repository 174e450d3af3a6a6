"""Witness cosignatures of checkpoints (C2SP tlog-cosignature, Ed25519 ``cosignature/v1``).

A cosignature is one more signature line of a checkpoint's signed note, by a witness that
checked the checkpoint is consistent with every earlier one it saw of that log:

    — <witness name> base64(key id[4] || timestamp[8, big-endian] || Ed25519 signature[64])

The key id is ``SHA-256(name || 0x0A || 0x04 || public key)[:4]`` (0x04: the cosignature
type, so the same key can never pass for a note signer), and the signed message is

    cosignature/v1
    time <timestamp, decimal POSIX seconds>
    <the checkpoint's note text: origin, size, root hash and any extension lines>

A witness's public key is written as a vkey of type 0x04, ``<name>+<key id>+base64(0x04 ||
key)``. Verifiers that do not know a witness ignore its line, which is why a cosigned
checkpoint still verifies with the log's key alone (Go's ``sumdb/note`` does the same).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from auditledger.core.errors import InvalidInput
from auditledger.core.keys import NamedKey, SigningKey, parse_vkey_parts
from auditledger.core.note import NoteSignature, parse_signature_line

COSIGNATURE_V1 = 0x04  # the signed-note signature type of Ed25519 checkpoint cosignatures
HEADER = "cosignature/v1\n"
TIMESTAMP_SIZE = 8
SIGNATURE_SIZE = 64
MAX_TIMESTAMP = 2**63 - 1


@dataclass(frozen=True)
class WitnessKey(NamedKey):
    """A witness's public key under its name: what its cosignature lines refer to."""

    ALGORITHM: ClassVar[int] = COSIGNATURE_V1

    def verify_cosignature(self, cosignature: Cosignature, text: str) -> bool:
        """Whether ``cosignature`` is this witness's valid cosignature of note text ``text``."""
        if (cosignature.name, cosignature.key_id) != (self.name, self.key_id):
            return False
        return self.verify(cosigned_message(text, cosignature.timestamp), cosignature.signature)


def parse_witness_vkey(text: str, field: str = "witness") -> WitnessKey:
    """A witness key from its vkey (type 0x04); :class:`InvalidInput` naming ``field``."""
    name, public_key = parse_vkey_parts(text, field, COSIGNATURE_V1)
    return WitnessKey(name, public_key)


def witness_key_of(key: SigningKey) -> WitnessKey:
    """The public cosigning key of the private key ``key`` (a witness's own)."""
    return WitnessKey(key.name, key.public_bytes)


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What a ``cosignature/v1`` signs: the header, the time line and the note text."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"a cosignature timestamp lies in 0..2^63-1, not {timestamp}")
    return f"{HEADER}time {timestamp}\n{text}".encode()


@dataclass(frozen=True)
class Cosignature:
    """One cosignature: who (name and key id), when (POSIX seconds), and the signature."""

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    def line(self) -> str:
        """The note signature line, with its newline."""
        raw = self.timestamp.to_bytes(TIMESTAMP_SIZE, "big") + self.signature
        return NoteSignature(self.name, self.key_id, raw).line()


def cosign(key: SigningKey, text: str, timestamp: int) -> Cosignature:
    """The witness ``key``'s cosignature of checkpoint note text ``text`` at ``timestamp``."""
    witness = witness_key_of(key)
    signature = key.sign(cosigned_message(text, timestamp))
    return Cosignature(key.name, witness.key_id, timestamp, signature)


def as_cosignature(signature: NoteSignature) -> Cosignature | None:
    """``signature`` read as an Ed25519 cosignature, or None if it cannot be one (a log's
    own signature, another algorithm's, or a malformed line)."""
    raw = signature.signature
    if len(raw) != TIMESTAMP_SIZE + SIGNATURE_SIZE:
        return None
    timestamp = int.from_bytes(raw[:TIMESTAMP_SIZE], "big")
    if timestamp > MAX_TIMESTAMP:
        return None
    return Cosignature(signature.name, signature.key_id, timestamp, raw[TIMESTAMP_SIZE:])


@dataclass(frozen=True)
class CosignatureCheck:
    """Which trusted witnesses validly cosigned a note, and which lines claim to be from one
    of them but do not verify (forged or altered)."""

    valid: tuple[tuple[WitnessKey, int], ...]  # (witness key, timestamp), one per key
    invalid: tuple[str, ...]  # "<name>+<key id>" of each failing line

    def witnesses(self) -> set[WitnessKey]:
        """The witness keys with a valid cosignature."""
        return {witness for witness, _ in self.valid}

    def names(self) -> set[str]:
        """The distinct witnesses (by name) with a valid cosignature: what a policy of N
        witnesses counts, so a line repeated, or two keys of one witness, count once."""
        return {witness.name for witness, _ in self.valid}


def check_cosignatures(
    text: str, signatures: Iterable[NoteSignature], witnesses: Sequence[WitnessKey]
) -> CosignatureCheck:
    """Check the note signatures that name one of ``witnesses``; others are ignored."""
    known = {(w.name, w.key_id): w for w in witnesses}
    valid: dict[WitnessKey, int] = {}
    invalid: list[str] = []
    for signature in signatures:
        witness = known.get((signature.name, signature.key_id))
        if witness is None:
            continue
        cosignature = as_cosignature(signature)
        if cosignature is None or not witness.verify_cosignature(cosignature, text):
            invalid.append(f"{witness.name}+{witness.key_id_hex}")
            continue
        valid.setdefault(witness, cosignature.timestamp)
    return CosignatureCheck(tuple(valid.items()), tuple(invalid))


@dataclass(frozen=True)
class WitnessProblem:
    """What a witness policy found wrong with a checkpoint's cosignatures: ``cosignature``
    (a line naming a given witness does not verify) or ``witnesses`` (too few of them)."""

    kind: str
    message: str


def policy_problems(
    label: str,
    text: str,
    signatures: Iterable[NoteSignature],
    witnesses: Sequence[WitnessKey],
    required: int,
) -> list[WitnessProblem]:
    """The N-of-M rule, for every verifier: each cosignature among ``signatures`` that names
    one of ``witnesses`` must verify over note text ``text``, and at least ``required``
    distinct witnesses (by name) must have a valid one. ``label`` names the checkpoint."""
    check = check_cosignatures(text, signatures, witnesses)
    problems = [
        WitnessProblem(
            "cosignature",
            f"{label}: the cosignature by witness {who} does not verify (forged, or made for "
            "another checkpoint)",
        )
        for who in check.invalid
    ]
    valid = check.names()
    if len(valid) < required:
        given = list(dict.fromkeys(w.name for w in witnesses))
        missing = ", ".join(name for name in given if name not in valid)
        problems.append(
            WitnessProblem(
                "witnesses",
                f"{label} has {len(valid)} valid cosignatures of the {required} required from "
                f"the {len(given)} given witnesses (none from: {missing})",
            )
        )
    return problems


@dataclass(frozen=True)
class CosignatureRow:
    """A row of the ``cosignatures`` table as stored (the values are not trusted: a row may
    have been written around the code, so any of them may be of another type)."""

    tree_size: object
    witness_name: object
    key_id: object
    cosigned_at: object
    line: object


def row_problems(
    row: CosignatureRow, texts: Mapping[int, str | None], witnesses: Sequence[WitnessKey]
) -> list[str]:
    """What is wrong with a stored cosignature row (empty if nothing is).

    Its ``line`` must be one cosignature line whose name, key id and timestamp are the row's
    ``witness_name``, ``key_id`` and ``cosigned_at`` (what queries and the next submission rely
    on); its ``tree_size`` must be one of the organization's stored checkpoints, whose note
    text ``texts`` holds by size (None where the note cannot be read: reported as the
    checkpoint's own problem); and where the line names one of ``witnesses`` its signature
    must verify over that text.
    """
    if not isinstance(row.line, str):
        return ["its line is not text"]
    try:
        signature = parse_signature_line(row.line)
    except InvalidInput as exc:
        return ["; ".join(p.message for p in exc.problems) or exc.message]
    cosignature = as_cosignature(signature)
    if cosignature is None:
        return [
            "its line is not an Ed25519 cosignature (key id, 8-byte timestamp, 64-byte signature)"
        ]
    problems = []
    for column, stored, said in (
        ("witness_name", row.witness_name, cosignature.name),
        ("key_id", row.key_id, cosignature.key_id.hex()),
        ("cosigned_at", row.cosigned_at, cosignature.timestamp),
    ):
        if stored != said:
            problems.append(f"its {column} column holds {stored!r} but its line says {said!r}")
    if not isinstance(row.tree_size, int) or row.tree_size not in texts:
        problems.append(f"no checkpoint of size {row.tree_size!r} of this log is stored")
        return problems
    text = texts[row.tree_size]
    if text is None:
        return problems
    known = {(w.name, w.key_id): w for w in witnesses}
    witness = known.get((cosignature.name, cosignature.key_id))
    if witness is not None and not witness.verify_cosignature(cosignature, text):
        problems.append(
            f"its signature does not verify with the witness key {witness.vkey()} (forged, or "
            "made for another checkpoint)"
        )
    return problems
