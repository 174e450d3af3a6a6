"""The body of a C2SP tlog-witness ``add-checkpoint`` request, and of its 409 answer.

    old <size the witness last cosigned, decimal, 0 if none>
    <0 to 63 lines: the RFC 6962 consistency proof from that size, one base64 hash each>
    <empty line>
    <the signed checkpoint note>

A witness answering 409 says which size it holds: ``<size>\\n`` as ``text/x.tlog.size``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from auditledger.core.errors import InvalidInput, Problem
from auditledger.core.merkle import HASH_SIZE

MAX_PROOF_LINES = 63
SIZE_MEDIA_TYPE = "text/x.tlog.size"
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed request: the size the client believes the witness holds, the proof from it,
    and the checkpoint note (signatures not yet checked)."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


def _bad(why: str) -> InvalidInput:
    return InvalidInput("malformed add-checkpoint request", [Problem("body", why)])


def request_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The request body submitting ``note`` with the consistency proof from ``old_size``."""
    if len(proof) > MAX_PROOF_LINES:
        raise ValueError(f"a consistency proof has at most {MAX_PROOF_LINES} hashes")
    lines = [f"old {old_size}\n"]
    lines += [base64.b64encode(node).decode("ascii") + "\n" for node in proof]
    return ("".join(lines) + "\n" + note).encode("utf-8")


def parse_request(body: bytes) -> AddCheckpoint:
    """The request in ``body``; :class:`InvalidInput` (answered with 400) if malformed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("the body is not UTF-8") from None
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise _bad("no empty line separates the old size and proof from the checkpoint")
    lines = head.split("\n")
    first = lines[0]
    if not first.startswith("old ") or not _SIZE.fullmatch(first[4:]):
        raise _bad(f"the first line {first[:40]!r} is not 'old <decimal size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise _bad(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            node = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            node = b""
        if len(node) != HASH_SIZE:
            raise _bad(f"proof line {line[:60]!r} is not the base64 of a 32-byte hash")
        proof.append(node)
    return AddCheckpoint(int(first[4:]), tuple(proof), note)


def size_body(size: int) -> str:
    """The 409 answer's body: the size the witness holds."""
    return f"{size}\n"


def parse_size_body(text: str) -> int | None:
    """The size in a 409 answer's body, or None if it is not one."""
    value = text.strip("\n")
    return int(value) if _SIZE.fullmatch(value) and text.endswith("\n") else None
