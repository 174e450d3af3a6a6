"""Expiry proofs: a removed event's occurrence time, provable from its leaf hash alone.

An event's leaf hash is ``SHA-256(0x00 || canonical bytes)``, and the canonical bytes (v1) end
with ``,"timestamp":"<occurred>","type":"<type>","v":1}`` (keys are sorted, and these three
come last). Before a purge removes an event it keeps an *expiry proof*: the SHA-256 state after
the whole 64-byte blocks that precede ``,"timestamp"`` (see :mod:`core.midstate`), and the
bytes from there to the end. Finishing the hash from that state over that tail must give the
event's leaf hash, which the Merkle tree and the signed checkpoints vouch for; a forged tail
would be a SHA-256 preimage. The tail can be read for the occurrence time because it sits at
the end of a JSON object that auditledger wrote: a quote inside a string is escaped, so
``,"timestamp":"`` followed by that fixed ending can only be the object's own last members.

The tail also carries the event's type and up to 63 bytes before ``,"timestamp"`` (the end of
the subject); nothing else of the event survives the purge.

Ingestion computes each event's proof in the same pass as its leaf hash (:class:`LeafHasher`)
and stores it in the event's ``leaves`` row, which no purge removes: a purge then keeps nothing
per event and never re-reads the rows it removes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from auditledger.core.midstate import BLOCK, PrefixHasher, midstate, resume

_MARK = b',"timestamp":"'
_TAIL = re.compile(
    rb',"timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})Z","type":"([a-z0-9_]+)","v":1\}\Z'
)


@dataclass(frozen=True)
class ExpiryProof:
    """What a purge keeps of one event: enough to prove when it occurred."""

    seq: int
    prefix_len: int
    midstate: bytes
    suffix: bytes


class ProofError(ValueError):
    """An expiry proof that does not prove anything (the message says why)."""


def _cut(seq: int, message: bytes) -> int:
    mark = message.rfind(_MARK)
    if mark < 0 or _TAIL.search(message, mark) is None:
        raise ProofError(f"seq {seq}: not canonical event bytes (version 1)")
    return mark - mark % BLOCK


def make_proof(seq: int, canonical: bytes) -> ExpiryProof:
    """The expiry proof of the event at ``seq`` with these canonical bytes."""
    message = b"\x00" + canonical
    cut = _cut(seq, message)
    return ExpiryProof(seq, cut, midstate(message[:cut]), message[cut:])


class LeafHasher:
    """Leaf hashes with their expiry proofs, one SHA-256 pass each (one instance per thread)."""

    def __init__(self) -> None:
        self._hasher = PrefixHasher()

    def leaf_and_proof(self, seq: int, canonical: bytes) -> tuple[bytes, ExpiryProof]:
        """(the leaf hash of these canonical bytes, the event's expiry proof)."""
        leaf, cut, state, suffix = self.leaf_and_parts(seq, canonical)
        return leaf, ExpiryProof(seq, cut, state, suffix)

    def leaf_and_parts(self, seq: int, canonical: bytes) -> tuple[bytes, int, bytes, bytes]:
        """(the leaf hash, and the expiry proof's prefix length, midstate and suffix): what
        :meth:`leaf_and_proof` gives, without building the proof (verify compares them)."""
        message = b"\x00" + canonical
        cut = _cut(seq, message)
        leaf, state = self._hasher.digest_and_midstate(message, cut)
        return leaf, cut, state, message[cut:]


def proven_occurrence(proof: ExpiryProof, leaf_hash: bytes) -> datetime:
    """The occurrence time the proof proves for the leaf ``leaf_hash``; :class:`ProofError`
    if it proves nothing."""
    try:
        digest = resume(proof.midstate, proof.prefix_len, proof.suffix)
    except ValueError as exc:
        raise ProofError(f"seq {proof.seq}: malformed expiry proof ({exc})") from None
    if digest != leaf_hash:
        raise ProofError(f"seq {proof.seq}: expiry proof does not lead to its leaf hash")
    found = _TAIL.search(proof.suffix)
    if found is None:
        raise ProofError(f"seq {proof.seq}: expiry proof does not end in an occurrence time")
    return datetime.fromisoformat(found.group(1).decode("ascii")).replace(tzinfo=UTC)
