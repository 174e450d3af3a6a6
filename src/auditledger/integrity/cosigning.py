"""Asking witnesses to cosign our checkpoints (the log side of C2SP tlog-witness).

One method does it, :meth:`CosigningService.checkpoint_cosigned`: a checkpoint goes to every
configured witness that has not cosigned it yet, with a consistency proof from the size that
witness last cosigned (known from the cosignatures we stored). A witness that holds another
size answers 409 with it; we retry once with a proof from that size. A cosignature is verified
against the witness's configured key, once, before it is stored, and served from then on as
one more signature line of the checkpoint (``StoredCheckpoint.served_note``). Exports,
``POST /checkpoints`` and ``auditledger checkpoint`` call it for the checkpoint they hand out;
:class:`Cosigner` calls it, through :meth:`CosigningService.run_once`, for every
organization's newest checkpoint after each checkpoint round, on a thread of its own.

Witnesses never hold up ingestion or signing: the checkpointer only wakes the cosigner, each
request is bounded as a whole by ``timeout`` (connection to last byte) and its answer in
size, the witnesses of one checkpoint are asked at once, and a failure is logged and counted
(``auditledger_witness_failures``). A witness that failed is left alone for the rest of the
pass, so one dead witness costs one timeout per pass, not one per log. What this process has
verified is remembered (per organization, its newest checkpoint's cosigners), so a pass with
nothing new reads one row per organization and verifies nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial

import httpx2 as httpx

from auditledger.core.add_checkpoint import parse_size_body, request_body
from auditledger.core.checkpoint import StoredCheckpoint
from auditledger.core.cosignature import WitnessKey, as_cosignature
from auditledger.core.errors import InvalidInput
from auditledger.core.merkle import consistency_proof
from auditledger.core.note import parse_note, parse_signature_line
from auditledger.integrity.repository import IntegrityRepository
from auditledger.settings import WitnessEndpoint
from auditledger.store.database import Database
from auditledger.store.log import fetch_nodes
from auditledger_client.core.clock import Clock

log = logging.getLogger(__name__)

# A witness answers with a few signature lines; anything much longer is not an answer.
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """A witness's HTTP answer: status and body."""

    status: int
    body: str


class WitnessFailed(Exception):
    """One submission to one witness did not yield a cosignature."""


# (url, body, timeout) -> the answer; WitnessFailed (or httpx.HTTPError) when the witness
# cannot be reached, is too slow, or answers with too much.
Post = Callable[[str, bytes, float], Answer]


def http_post(url: str, body: bytes, timeout: float) -> Answer:
    """POST ``body`` to ``url`` (no redirects: a witness answers where it was asked), within
    ``timeout`` seconds from connecting to the answer's last byte, and an answer of at most
    :data:`MAX_ANSWER_BYTES`."""
    deadline = time.monotonic() + timeout
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    with (
        httpx.Client(timeout=timeout, follow_redirects=False) as client,
        client.stream("POST", url, content=body, headers=headers) as response,
    ):
        received = bytearray()
        for chunk in response.iter_bytes():
            received += chunk
            if len(received) > MAX_ANSWER_BYTES:
                raise WitnessFailed(f"its answer exceeds {MAX_ANSWER_BYTES} bytes")
            if time.monotonic() > deadline:
                raise WitnessFailed(f"its answer took more than {timeout:g} s")
        return Answer(response.status_code, received.decode("utf-8", "replace"))


class CosigningService:
    """Collects cosignatures of checkpoints from the configured witnesses."""

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
        self._lock = threading.Lock()
        # org id -> (tree size, {witness: its verified line}) of the newest checkpoint this
        # process has seen cosigned, and the lines already read for it (verified or not).
        self._known: dict[int, tuple[int, dict[WitnessKey, str], set[str]]] = {}
        # (org id, witness) -> the size that witness last cosigned for us.
        self._held: dict[tuple[int, WitnessKey], int] = {}

    def checkpoint_cosigned(
        self, checkpoint: StoredCheckpoint, org_slug: str, failed: set[str] | None = None
    ) -> StoredCheckpoint:
        """``checkpoint`` with every cosignature known of it: those it was read with, and
        those the witnesses lacking it give now (asked at once, each request bounded by the
        timeout). Failures are logged and counted, never raised; witnesses whose URL is in
        ``failed`` are not asked, and those that fail are added to it."""
        if not self.witnesses:
            return checkpoint
        failed = set() if failed is None else failed
        have = self._cosigners(checkpoint)
        lacking = [w for w in self.witnesses if w.key not in have and w.url not in failed]
        if not lacking:
            return checkpoint
        with ThreadPoolExecutor(len(lacking), thread_name_prefix="auditledger-witness") as pool:
            answers = list(
                pool.map(lambda witness: self._ask(org_slug, checkpoint, witness), lacking)
            )
        new: list[str] = []
        for witness, line in zip(lacking, answers, strict=True):
            if line is None:
                failed.add(witness.url)
                continue
            self._remember(checkpoint, witness.key, line)
            new.append(line)
        stored = set(checkpoint.cosignatures)
        added = tuple(line for line in new if line not in stored)
        return replace(checkpoint, cosignatures=checkpoint.cosignatures + added)

    def run_once(self) -> int:
        """Every organization's newest checkpoint to every witness that lacks it; the number
        of cosignatures collected. Failures are logged and counted, never raised."""
        if not self.witnesses:
            return 0
        collected = 0
        failed: set[str] = set()
        missing_quorum = 0
        for org_id, slug, size in self.repo.newest_checkpoints():
            have = self._remembered(org_id, size)
            if have is None or len(have) < len(self.witnesses):
                checkpoint = self.repo.checkpoint_at(org_id, size)
                if checkpoint is None:
                    continue
                before = len(self._cosigners(checkpoint))
                self.checkpoint_cosigned(checkpoint, slug, failed)
                have = self._remembered(org_id, size) or set()
                collected += len(have) - before
            if len({w.name for w in have}) < self.required:
                missing_quorum += 1
        self.on_quorum_missing(missing_quorum)
        return collected

    # -- what this process knows -----------------------------------------------------------

    def _remembered(self, org_id: int, size: int) -> set[WitnessKey] | None:
        with self._lock:
            known = self._known.get(org_id)
            return set(known[1]) if known is not None and known[0] == size else None

    def _cosigners(self, checkpoint: StoredCheckpoint) -> set[WitnessKey]:
        """The configured witnesses with a valid cosignature of ``checkpoint``: what this
        process verified before, and those of its lines not yet read, verified now (once)."""
        org_id, size = checkpoint.org_id, checkpoint.tree_size
        with self._lock:
            known = self._known.get(org_id)
            if known is None or known[0] < size:
                known = (size, {}, set())
                self._known[org_id] = known
            elif known[0] > size:  # an older checkpoint (an export's, while the log grew)
                known = (size, {}, set())
            lines, seen = known[1], known[2]
            unread = [line for line in checkpoint.cosignatures if line not in seen]
            seen.update(unread)
        verified = self._verify_lines(checkpoint, unread) if unread else {}
        with self._lock:
            for witness, line in verified.items():
                lines.setdefault(witness, line)
            return set(lines)

    def _verify_lines(
        self, checkpoint: StoredCheckpoint, lines: Iterable[str]
    ) -> dict[WitnessKey, str]:
        keys = {(w.key.name, w.key.key_id): w.key for w in self.witnesses}
        text = parse_note(checkpoint.note).text
        valid: dict[WitnessKey, str] = {}
        for line in lines:
            try:
                signature = parse_signature_line(line)
            except InvalidInput:
                # Written around the code (verify reports it); ask the witnesses again
                # rather than stop witnessing this log.
                log.error(
                    "a stored cosignature of checkpoint %d is malformed", checkpoint.tree_size
                )
                continue
            witness = keys.get((signature.name, signature.key_id))
            cosignature = as_cosignature(signature)
            if witness and cosignature and witness.verify_cosignature(cosignature, text):
                valid.setdefault(witness, line)
        return valid

    def _remember(self, checkpoint: StoredCheckpoint, witness: WitnessKey, line: str) -> None:
        with self._lock:
            self._held[(checkpoint.org_id, witness)] = checkpoint.tree_size
            known = self._known.get(checkpoint.org_id)
            if known is not None and known[0] == checkpoint.tree_size:
                known[1].setdefault(witness, line)
                known[2].add(line)

    # -- one witness -----------------------------------------------------------------------

    def _ask(self, slug: str, checkpoint: StoredCheckpoint, witness: WitnessEndpoint) -> str | None:
        """The witness's cosignature line of ``checkpoint``, stored; None if it gave none."""
        try:
            line = self._submit(checkpoint, witness)
        except WitnessFailed as exc:
            self.on_failure(witness.key.name)
            log.warning(
                "witness %s did not cosign checkpoint %d of %s: %s",
                witness.url,
                checkpoint.tree_size,
                slug,
                exc,
            )
            return None
        except Exception:  # the database, say: witnessing never fails what asked for it
            self.on_failure(witness.key.name)
            log.exception(
                "asking witness %s to cosign checkpoint %d of %s failed",
                witness.url,
                checkpoint.tree_size,
                slug,
            )
            return None
        self.on_cosigned(witness.key.name)
        return line

    def _submit(self, checkpoint: StoredCheckpoint, witness: WitnessEndpoint) -> str:
        org_id, size = checkpoint.org_id, checkpoint.tree_size
        with self._lock:
            old = self._held.get((org_id, witness.key))
        if old is None:
            old = self.repo.cosigned_size(org_id, witness.key) or 0
        for attempt in (1, 2):
            if old > size:
                raise WitnessFailed(
                    f"it holds a checkpoint of size {old}, larger than this one ({size}): "
                    "this database is behind what the witness saw (restored from an old copy?)"
                )
            answer = self._post(witness, old, self._proof(org_id, old, size), checkpoint.note)
            if answer.status == 200:
                return self._store(checkpoint, witness.key, answer.body)
            if answer.status == 409 and attempt == 1:
                held = parse_size_body(answer.body)
                if held is not None and held != old:
                    old = held
                    continue
            raise WitnessFailed(f"HTTP {answer.status}: {answer.body.strip()[:300]}")
        raise AssertionError("unreachable")  # the loop returns or raises

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

    def _store(self, checkpoint: StoredCheckpoint, witness: WitnessKey, body: str) -> str:
        """Store the first line of the answer that is ``witness``'s valid cosignature of
        ``checkpoint`` (each line verified once); its line."""
        text = parse_note(checkpoint.note).text
        lines = [line + "\n" for line in body.split("\n") if line]
        for line in lines:
            try:
                signature = parse_signature_line(line)
            except InvalidInput as exc:
                why = "; ".join(p.message for p in exc.problems)
                raise WitnessFailed(f"its answer is not signature lines: {why}") from None
            cosignature = as_cosignature(signature)
            if cosignature is not None and witness.verify_cosignature(cosignature, text):
                self.repo.insert_cosignature(
                    checkpoint.org_id,
                    checkpoint.tree_size,
                    witness,
                    cosignature.timestamp,
                    line,
                    self.clock.now(),
                )
                return line
        raise WitnessFailed(
            f"its answer holds no valid cosignature by its configured key {witness.vkey()}"
        )


class Cosigner:
    """A thread that runs :meth:`CosigningService.run_once` each time it is woken (after
    each checkpoint round), so witnesses' answers never delay signing."""

    def __init__(self, service: CosigningService) -> None:
        self.service = service
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Ask for a pass (returns at once; wakes during a pass make one more pass)."""
        self._wake.set()

    def start(self) -> None:
        """Start the thread (no-op without witnesses)."""
        if self._thread is None and self.service.witnesses:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="auditledger-cosigner", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the pass in progress, if any."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stop.is_set():
                return
            self._wake.clear()
            try:
                self.service.run_once()
            except Exception:  # the database may be down; the next wake tries again
                log.exception("asking witnesses to cosign failed")
