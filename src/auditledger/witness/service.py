"""The witness's one decision: cosign a submitted checkpoint, or say why not (C2SP tlog-witness).

In the order the spec gives: a malformed request is 400; a log the witness does not follow is
404; no signature by one of that log's trusted keys is 403; an old size above the checkpoint's
is 400; an old size other than the one the witness holds is 409 (the answer says which it
holds, so the log can retry with the right proof), as is the same size with another root; a
consistency proof that does not verify is 422. Only then is the checkpoint recorded (in the
same transaction as the check) and cosigned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from auditledger.core.add_checkpoint import AddCheckpoint, parse_request
from auditledger.core.checkpoint import Checkpoint, parse_body
from auditledger.core.cosignature import WitnessKey, cosign, witness_key_of
from auditledger.core.errors import InvalidInput
from auditledger.core.keys import SigningKey
from auditledger.core.merkle import EMPTY_ROOT, verify_consistency
from auditledger.core.note import open_note, parse_note
from auditledger.witness.config import WitnessConfig
from auditledger.witness.state import Latest, Transaction, WitnessState

log = logging.getLogger(__name__)


class Refused(Exception):
    """A submission the witness does not cosign; ``status`` is the HTTP answer the spec gives."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Malformed(Refused):
    """The body is not an add-checkpoint request, or the old size exceeds the new one."""

    status = 400


class UntrustedSignature(Refused):
    """No signature by a key the witness trusts for that log."""

    status = 403


class UnknownLog(Refused):
    """The witness does not follow this origin."""

    status = 404


class SizeMismatch(Refused):
    """The old size is not the witness's, or the same size has another root."""

    status = 409

    def __init__(self, message: str, held: int) -> None:
        super().__init__(message)
        self.held = held


class BadProof(Refused):
    """The consistency proof does not lead from the witness's checkpoint to this one."""

    status = 422


class WitnessService:
    """Checks, records and cosigns checkpoints of the configured logs."""

    def __init__(
        self,
        config: WitnessConfig,
        key: SigningKey,
        state: WitnessState,
        now: Callable[[], int],
    ) -> None:
        self.config = config
        self.key = key
        self.state = state
        self.now = now  # POSIX seconds

    @property
    def public_key(self) -> WitnessKey:
        """This witness's cosigning key."""
        return witness_key_of(self.key)

    def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line(s) for the request in ``body``; :class:`Refused` otherwise."""
        try:
            request = parse_request(body)
            note = parse_note(request.note, "checkpoint")
            checkpoint = parse_body(note.text)
        except InvalidInput as exc:
            raise Malformed(_why(exc)) from None
        trusted = self.config.logs.get(checkpoint.origin)
        if trusted is None:
            raise UnknownLog(f"this witness does not follow the log {checkpoint.origin!r}")
        try:
            open_note(request.note, trusted, "checkpoint")
        except InvalidInput as exc:
            raise UntrustedSignature(
                f"no valid signature of {checkpoint.origin!r} by a trusted key: {_why(exc)}"
            ) from None
        if request.old_size > checkpoint.tree_size:
            raise Malformed(
                f"old size {request.old_size} exceeds the checkpoint's size {checkpoint.tree_size}"
            )
        timestamp = self.now()
        cosignature = cosign(self.key, note.text, timestamp)

        def check_and_record(transaction: Transaction) -> None:
            latest = transaction.latest(checkpoint.origin)
            _check(request, checkpoint, latest)
            transaction.record(
                Latest(
                    checkpoint.origin,
                    checkpoint.tree_size,
                    checkpoint.root_hash,
                    request.note,
                    timestamp,
                )
            )

        try:
            self.state.atomically(check_and_record)
        except Refused as exc:
            log.warning("refused a checkpoint of %s: %s", checkpoint.origin, exc.message)
            raise
        return cosignature.line()


def _check(request: AddCheckpoint, checkpoint: Checkpoint, latest: Latest | None) -> None:
    held = latest.tree_size if latest is not None else 0
    held_root = latest.root_hash if latest is not None else EMPTY_ROOT
    if request.old_size != held:
        raise SizeMismatch(
            f"this witness holds a checkpoint of size {held} for {checkpoint.origin!r}, "
            f"not {request.old_size}",
            held,
        )
    if checkpoint.tree_size == held:
        if checkpoint.root_hash != held_root:
            raise SizeMismatch(
                f"this witness cosigned size {held} of {checkpoint.origin!r} with another root "
                "hash: the log forked",
                held,
            )
        return
    if held == 0:
        if request.proof:
            raise BadProof("the proof from size 0 must be empty")
        return
    if not verify_consistency(
        held, checkpoint.tree_size, held_root, checkpoint.root_hash, request.proof
    ):
        raise BadProof(
            f"the consistency proof does not lead from the checkpoint of size {held} this "
            f"witness cosigned to size {checkpoint.tree_size}: the log rewrote its history"
        )


def _why(exc: InvalidInput) -> str:
    return "; ".join(p.message for p in exc.problems) or exc.message
