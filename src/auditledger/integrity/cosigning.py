"""Asking witnesses to cosign our checkpoints (the log side of C2SP tlog-witness).

After each checkpoint round, every organization's newest checkpoint goes to every configured
witness that has not cosigned it yet, with a consistency proof from the size that witness
last cosigned (known from the cosignatures we stored). A witness that holds another size
answers 409 with it; we retry once with a proof from that size. A cosignature is verified
against the witness's configured key before it is stored, and served from then on as one
more signature line of the checkpoint (``StoredCheckpoint.served_note``).

Witnesses never hold up ingestion: this runs in the checkpointer's thread, a failure is logged
and counted (``auditledger_witness_failures``), and a witness that failed is left alone for
the rest of the round so one dead witness costs one timeout per round, not one per log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import httpx2 as httpx

from auditledger.core.add_checkpoint import parse_size_body, request_body
from auditledger.core.checkpoint import StoredCheckpoint
from auditledger.core.cosignature import WitnessKey, as_cosignature, check_cosignatures
from auditledger.core.errors import InvalidInput
from auditledger.core.merkle import consistency_proof
from auditledger.core.note import parse_note
from auditledger.integrity.repository import IntegrityRepository
from auditledger.settings import WitnessEndpoint
from auditledger.store.database import Database
from auditledger.store.log import fetch_nodes
from auditledger_client.core.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """A witness's HTTP answer: status and body."""

    status: int
    body: str


# (url, body, timeout) -> the answer; httpx.HTTPError when the witness cannot be reached.
Post = Callable[[str, bytes, float], Answer]


def http_post(url: str, body: bytes, timeout: float) -> Answer:
    """POST ``body`` to ``url`` (no redirects: a witness answers where it was asked)."""
    response = httpx.post(
        url, content=body, timeout=timeout, headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    return Answer(response.status_code, response.text)


class WitnessFailed(Exception):
    """One submission to one witness did not yield a cosignature."""


class CosigningService:
    """Collects cosignatures of the newest checkpoints from the configured witnesses."""

    def __init__(
        self,
        db: Database,
        repo: IntegrityRepository,
        witnesses: Sequence[WitnessEndpoint],
        required: int,
        clock: Clock,
        *,
        timeout: float = 5.0,
        post: Post = http_post,
    ) -> None:
        self.db = db
        self.repo = repo
        self.witnesses = tuple(witnesses)
        self.required = required
        self.clock = clock
        self.timeout = timeout
        self.post = post
        # Metric hooks (integrity knows nothing of metrics): per witness name, and the number
        # of logs whose newest checkpoint has fewer cosignatures than ``required``.
        self.on_cosigned: Callable[[str], None] = lambda _name: None
        self.on_failure: Callable[[str], None] = lambda _name: None
        self.on_quorum_missing: Callable[[int], None] = lambda _count: None

    def run_once(self) -> int:
        """Submit every newest checkpoint to every witness that lacks it; the number of
        cosignatures stored. Failures are logged and counted, never raised."""
        if not self.witnesses:
            return 0
        stored = 0
        failed: set[str] = set()
        missing_quorum = 0
        for org_id, slug, size in self.repo.newest_checkpoints():
            checkpoint = self.repo.checkpoint_at(org_id, size)
            if checkpoint is None:
                continue
            have, new = self._collect(slug, checkpoint, failed)
            stored += new
            if len(have) < self.required:
                missing_quorum += 1
        self.on_quorum_missing(missing_quorum)
        return stored

    def cosign_now(self, checkpoint: StoredCheckpoint, org_slug: str) -> StoredCheckpoint:
        """``checkpoint`` with the cosignatures the witnesses give it now (what an evidence
        bundle carries); failures are logged and counted, and the rest returned."""
        if not self.witnesses:
            return checkpoint
        current = self.repo.checkpoint_at(checkpoint.org_id, checkpoint.tree_size) or checkpoint
        _, new = self._collect(org_slug, current, set())
        if not new:
            return current
        return self.repo.checkpoint_at(checkpoint.org_id, checkpoint.tree_size) or current

    def _collect(
        self, slug: str, checkpoint: StoredCheckpoint, failed: set[str]
    ) -> tuple[set[WitnessKey], int]:
        """Ask each witness that lacks it; (witnesses that have cosigned, new cosignatures)."""
        have = self._cosigned_by(checkpoint)
        new = 0
        for witness in self.witnesses:
            if witness.key in have or witness.url in failed:
                continue
            try:
                self._submit(checkpoint.org_id, checkpoint, witness)
            except WitnessFailed as exc:
                failed.add(witness.url)
                self.on_failure(witness.key.name)
                log.warning(
                    "witness %s did not cosign checkpoint %d of %s: %s",
                    witness.url,
                    checkpoint.tree_size,
                    slug,
                    exc,
                )
                continue
            have.add(witness.key)
            new += 1
            self.on_cosigned(witness.key.name)
        return have, new

    def _cosigned_by(self, checkpoint: StoredCheckpoint) -> set[WitnessKey]:
        text = parse_note(checkpoint.note).text
        try:
            signatures = parse_note(checkpoint.served_note).signatures
        except InvalidInput:
            # A stored line that is not a signature line (written around the code: verify
            # reports it); ask the witnesses again rather than stop witnessing every log.
            log.error(
                "the stored cosignatures of checkpoint %d are malformed", checkpoint.tree_size
            )
            return set()
        check = check_cosignatures(text, signatures, [w.key for w in self.witnesses])
        return set(check.witnesses())

    def _submit(self, org_id: int, checkpoint: StoredCheckpoint, witness: WitnessEndpoint) -> None:
        size = checkpoint.tree_size
        old = self.repo.cosigned_size(org_id, witness.key) or 0
        for attempt in (1, 2):
            if old > size:
                raise WitnessFailed(
                    f"it holds a checkpoint of size {old}, larger than our newest ({size}): "
                    "this database is behind what the witness saw (restored from an old copy?)"
                )
            answer = self._post(witness, old, self._proof(org_id, old, size), checkpoint.note)
            if answer.status == 200:
                self._store(org_id, checkpoint, witness, answer.body)
                return
            if answer.status == 409 and attempt == 1:
                held = parse_size_body(answer.body)
                if held is not None and held != old:
                    old = held
                    continue
            raise WitnessFailed(f"HTTP {answer.status}: {answer.body.strip()[:300]}")

    def _post(self, witness: WitnessEndpoint, old: int, proof: list[bytes], note: str) -> Answer:
        url = f"{witness.url}/add-checkpoint"
        try:
            return self.post(url, request_body(old, proof, note), self.timeout)
        except httpx.HTTPError as exc:
            raise WitnessFailed(f"cannot reach {url}: {exc}") from None

    def _proof(self, org_id: int, old: int, size: int) -> list[bytes]:
        if old == 0 or old == size:
            return []
        with self.db.read() as connection:
            return consistency_proof(old, size, partial(fetch_nodes, connection, org_id))

    def _store(
        self, org_id: int, checkpoint: StoredCheckpoint, witness: WitnessEndpoint, body: str
    ) -> None:
        text = parse_note(checkpoint.note).text
        lines = [line + "\n" for line in body.split("\n") if line]
        try:
            signatures = parse_note(text + "\n" + "".join(lines), "witness answer").signatures
        except InvalidInput as exc:
            why = "; ".join(p.message for p in exc.problems)
            raise WitnessFailed(f"its answer is not signature lines: {why}") from None
        check = check_cosignatures(text, signatures, [witness.key])
        if not check.valid:
            raise WitnessFailed(
                f"its answer holds no valid cosignature by its configured key {witness.key.vkey()}"
            )
        for signature, line in zip(signatures, lines, strict=True):
            cosignature = as_cosignature(signature)
            if cosignature is None:
                continue
            if check_cosignatures(text, [signature], [witness.key]).valid:
                self.repo.insert_cosignature(
                    org_id,
                    checkpoint.tree_size,
                    witness.key,
                    cosignature.timestamp,
                    line,
                    self.clock.now(),
                )
                return
