"""Signing checkpoints: on demand, and every few seconds for logs that grew.

Before signing the tree of N leaves, the checkpointer proves from the stored Merkle nodes that
it extends both the latest stored checkpoint and the witness copy (the newest checkpoint this
deployment signed, kept outside the database). If either proof fails, or the log is smaller
than either, it logs an error and signs nothing: a log never signs two views of its history.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from auditledger.core.canonical import format_timestamp
from auditledger.core.checkpoint import (
    Checkpoint,
    SignedCheckpoint,
    StoredCheckpoint,
    log_origin_for,
    open_checkpoint,
    sign_checkpoint,
)
from auditledger.core.errors import AuditLedgerError, Inconsistent, InvalidInput, Unavailable
from auditledger.core.keys import SigningKey, VerifierKey
from auditledger.core.merkle import (
    EMPTY_ROOT,
    NodeFetcher,
    consistency_proof,
    root_hash,
    verify_consistency,
)
from auditledger.integrity.anchors import Anchored, key_file_anchors, resolve, rotation_statement
from auditledger.integrity.keyfile import KeyFile
from auditledger.integrity.repository import IntegrityRepository
from auditledger.integrity.witness import WitnessStore
from auditledger.settings import SETTING_INDEX
from auditledger.store.database import Database
from auditledger.store.log import fetch_nodes, read_head
from auditledger_client.core.clock import Clock

log = logging.getLogger(__name__)


class KeyChanged(Unavailable):
    """The signing key file holds a key that was never rotated to."""

    def __init__(self, path: Path, found: VerifierKey, active: VerifierKey) -> None:
        super().__init__(
            f"the signing key file {path} holds key {found.key_id_hex}, but this deployment "
            f"signs with key {active.key_id_hex} ({active.vkey()}) and no `auditledger keys "
            "rotate` retired it. Put the original key file back (from your backup) and restart; "
            "to change keys, run `auditledger keys rotate` with the original file in place.",
            retry_after=60,
        )


class CheckpointService:
    """Signs, stores and witnesses checkpoints of organizations' logs."""

    def __init__(
        self,
        db: Database,
        repo: IntegrityRepository,
        keys: KeyFile,
        witness: WitnessStore,
        clock: Clock,
        log_origin: str,
    ) -> None:
        self.db = db
        self.repo = repo
        self.keys = keys
        self.witness = witness
        self.clock = clock
        self.log_origin = log_origin
        # Called once per newly signed checkpoint (the service's metric counter); integrity
        # knows nothing of metrics, so the counter is handed in.
        self.on_signed: Callable[[], None] = lambda: None
        self._registered: set[str] = set()

    def origin(self, org_slug: str) -> str:
        """The origin line of an organization's checkpoints."""
        return log_origin_for(self.log_origin, org_slug)

    # -- keys --------------------------------------------------------------------------------

    def signing_key(self) -> SigningKey:
        """The current key, registered (so verifiers find it) before it signs anything.

        Raises :class:`KeyChanged` if the key file holds a key the registry does not know
        while another key is active: a replaced file is not a rotation.
        """
        key = self.keys.current()
        key_id = key.verifier.key_id_hex
        if key_id not in self._registered:
            registered = self.repo.registered_keys()
            known = {r.key.key_id_hex for r in registered}
            active = [r.key for r in registered if r.retired_at is None]
            if key_id not in known and active:
                raise KeyChanged(self.keys.path, key.verifier, active[0])
            self.repo.register_key(key.verifier, self.clock.now())
            self._registered.add(key_id)
        return key

    def ensure_key(self) -> tuple[SigningKey, bool]:
        """The current key, creating the key file if it is missing: (key, created).

        OSError if it is missing and cannot be created.
        """
        _, created = self.keys.ensure()
        return self.signing_key(), created

    def rotate_key(self) -> tuple[SigningKey, SigningKey]:
        """Switch to a new key: the old one is retired in the registry and its file kept."""
        old, new = self.keys.rotate()
        now = self.clock.now()
        self.repo.register_key(old.verifier, now)
        self.repo.retire_key(old.verifier, now)
        statement = rotation_statement(old, new, format_timestamp(now))
        self.repo.record_rotation(old.verifier, new.verifier, statement, now)
        return old, self.signing_key()

    def verifiers(self) -> list[VerifierKey]:
        """Every key that may have signed our checkpoints, as this machine can vouch for it:
        the key file and its retired predecessors, and keys rotation statements link to them
        (never a key the database alone names; see ``integrity.anchors``)."""
        return self.anchored().trusted

    def anchored(
        self, pinned: Sequence[VerifierKey] = (), saved_notes: Sequence[str] = ()
    ) -> Anchored:
        """The keys to trust: ``pinned`` ones if any (an auditor's "only these"), else the key
        file on this machine and the keys that signed ``saved_notes``; with rotations."""
        return resolve(
            pinned=pinned,
            key_file=[] if pinned else key_file_anchors(self.keys.path, self.keys.name),
            registered=[r.key for r in self.repo.registered_keys()],
            rotations=self.repo.rotations(),
            saved_notes=[] if pinned else saved_notes,
        )

    def prepare_for_server(self) -> None:
        """At server start: make sure there is a key, creating it if the directory allows.

        Without a key the server still serves reads and proofs, and says in the log how to get
        checkpoints signed. It fails (:class:`KeyChanged`) only when the key file was replaced
        without ``keys rotate``: signing on with an unannounced key would look like a forgery.
        """
        env = SETTING_INDEX["signing_key_file"].env
        if not self.keys.exists() and not self.keys.can_create():
            log.error(
                "no signing key at %s and its directory is not writable: checkpoints will not be "
                "signed. Run `auditledger init` where the file should live, or set %s to the "
                "deployment's key file, then restart.",
                self.keys.path,
                env,
            )
            return
        try:
            key, created = self.ensure_key()
        except KeyChanged as exc:
            log.critical("refusing to start: %s", exc.message)
            raise
        except (OSError, AuditLedgerError) as exc:
            why = exc.message if isinstance(exc, AuditLedgerError) else str(exc)
            if isinstance(exc, AuditLedgerError) and exc.problems:
                why += ": " + "; ".join(p.message for p in exc.problems)
            log.error("the signing key cannot be used (%s); checkpoints will not be signed", why)
            return
        if created:
            log.warning(
                "generated a new signing key at %s (verifier key %s). Back it up: checkpoints "
                "it signs can only be verified with its public key, which `auditledger keys "
                "public` prints.",
                self.keys.path,
                key.verifier.vkey(),
            )

    # -- signing -----------------------------------------------------------------------------

    def checkpoint(self, org_id: int, org_slug: str) -> tuple[StoredCheckpoint, bool]:
        """A checkpoint of the organization's whole log: (checkpoint, whether newly signed).

        Returns the latest stored one when the log has not grown since. Raises
        :class:`Inconsistent` (after logging it) rather than sign a tree that contradicts the
        latest stored checkpoint or the witness copy, and :class:`Unavailable` without a key.
        """
        key = self.signing_key()
        origin = self.origin(org_slug)
        verifiers = self.verifiers()
        try:
            with self.witness.locked(org_slug) as slot:
                witnessed = self._open(slot.read(), verifiers, origin, "the witness copy")
                stored, created = self._sign_if_grown(org_id, origin, key, verifiers, witnessed)
                if witnessed is None or stored.tree_size > witnessed.tree_size:
                    slot.write(stored.note)
            if created:
                self.on_signed()
            return stored, created
        except Inconsistent as exc:
            log.error("refusing to sign a checkpoint of %s: %s", origin, exc.message)
            raise
        except OSError as exc:
            env = SETTING_INDEX["checkpoint_witness_dir"].env
            raise Unavailable(
                f"cannot keep the witness copy in {self.witness.directory} ({exc}); make it "
                f"writable or set {env}",
                retry_after=30,
            ) from None

    def _sign_if_grown(
        self,
        org_id: int,
        origin: str,
        key: SigningKey,
        verifiers: list[VerifierKey],
        witnessed: SignedCheckpoint | None,
    ) -> tuple[StoredCheckpoint, bool]:
        # One snapshot for the head, the latest checkpoint and every node the proofs need.
        with self.db.read() as connection:
            head = read_head(connection, org_id)
            size = head.tree_size
            latest = self.repo.latest_checkpoint(org_id, connection)
            fetch: NodeFetcher = partial(fetch_nodes, connection, org_id)
            try:
                root = root_hash(size, fetch)
            except LookupError as exc:
                raise Inconsistent(f"the stored tree is incomplete: {exc}") from None
            if root != head.root_hash:
                raise Inconsistent(
                    f"the log head's root differs from the root of its stored nodes at size {size}"
                )
            references: list[tuple[str, SignedCheckpoint]] = []
            if witnessed is not None:
                references.append(("the witness copy", witnessed))
            if latest is not None:
                label = f"stored checkpoint {latest.tree_size}"
                opened = self._open(latest.note, verifiers, origin, label)
                assert opened is not None
                references.append((label, opened))
            for label, reference in references:
                require_consistent(label, reference, size, root, fetch)
        if latest is not None and latest.tree_size == size:
            return latest, False
        now = self.clock.now()
        note = sign_checkpoint(Checkpoint(origin, size, root), key, signed_at=now)
        stored = StoredCheckpoint(org_id, size, root, note, key.name, now)
        if self.repo.insert_checkpoint(stored):
            return stored, True
        # Another process signed this size first; a size has one root, so it must agree.
        existing = self.repo.checkpoint_at(org_id, size)
        if existing is None or existing.root_hash != root:
            raise Inconsistent(f"another checkpoint of size {size} has a different root")
        return existing, False

    @staticmethod
    def _open(
        note: str | None, verifiers: list[VerifierKey], origin: str, label: str
    ) -> SignedCheckpoint | None:
        if note is None:
            return None
        try:
            return open_checkpoint(note, verifiers, origin=origin, field=label)
        except InvalidInput as exc:
            why = "; ".join(p.message for p in exc.problems) or exc.message
            raise Inconsistent(f"{label} does not verify: {why}") from None

    def run_once(self) -> list[StoredCheckpoint]:
        """Sign a checkpoint for every organization whose log grew; return the new ones.

        Problems are logged per organization and do not stop the others.
        """
        signed: list[StoredCheckpoint] = []
        for pending in self.repo.pending_logs():
            try:
                stored, created = self.checkpoint(pending.org_id, pending.slug)
            except Inconsistent:
                continue  # logged by checkpoint()
            except Unavailable as exc:
                log.warning("checkpoints not signed: %s", exc.message)
                break
            except Exception:
                log.exception("checkpoint of %s failed", pending.slug)
                continue
            if created:
                signed.append(stored)
        return signed


def require_consistent(
    label: str, reference: SignedCheckpoint, size: int, root: bytes, fetch: NodeFetcher
) -> None:
    """Raise :class:`Inconsistent` unless the tree (size, root) extends ``reference``."""
    old = reference.tree_size
    if old > size:
        raise Inconsistent(
            f"the log has {size} events but {label} covers {old}: the database was rolled back "
            "or truncated"
        )
    if old == 0:
        consistent = reference.root_hash == EMPTY_ROOT
    elif old == size:
        consistent = reference.root_hash == root
    else:
        proof = consistency_proof(old, size, fetch)
        consistent = verify_consistency(old, size, reference.root_hash, root, proof)
    if not consistent:
        raise Inconsistent(
            f"the log is not consistent with {label}: its first {old} events are not the ones "
            "that were signed"
        )


class Checkpointer:
    """A thread that calls :meth:`CheckpointService.run_once` every ``interval`` seconds."""

    def __init__(
        self,
        service: CheckpointService,
        interval: float,
        before_round: Callable[[], object] | None = None,
        after_round: Callable[[], object] | None = None,
    ) -> None:
        self.service = service
        self.before_round = before_round  # the rollback check, so it runs as often
        self.after_round = after_round  # waking the cosigner: it never blocks the round
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start checkpointing in the background."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="auditledger-checkpointer", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the round in progress, if any."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if self.before_round is not None:
                    self.before_round()
                self.service.run_once()
            except Exception:  # the database may be down; the next round tries again
                log.exception("checkpoint round failed")
            try:
                if self.after_round is not None:
                    self.after_round()
            except Exception:  # witnesses never stop the checkpointer
                log.exception("asking witnesses to cosign failed")
