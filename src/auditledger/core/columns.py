"""The stored values beside the hashed record, checked against it.

The leaf hash covers an event's canonical bytes, which :mod:`auditledger.core.rowcanon`
rebuilds from the ``events`` columns. Other stored values are trusted by queries, pages,
exports and ingestion without being part of those bytes; each is checked here against the
record it derives from, so that no such value escapes ``verify``:

- ``events.model_id`` (the model filter, the model's Audit Log tab, exports, bundles) must be
  what the subject says: the subject itself for a model, its parent for a model version;
- columns the canonical bytes leave out when another is null must be null with it
  (``parent_*`` without ``parent_id``, ``project_name`` without ``project_id``,
  ``source_location`` without ``source_ip``);
- ``leaves.event_id`` (``GET /events/{id}``, idempotency) and ``leaves.occurred_at``
  (proofs, purges) must equal the event's, and ``leaves.request_digest`` (idempotency) must be
  the digest of the event as sent: with its timestamp or, when the platform sent none, without
  (the stored event does not say which, so either is accepted);
- ``directory`` (the filter choices and names the pages offer, and what ``?project=`` and
  ``?model=`` accept) must be what the events say: one entry per project, actor, model and
  model version, with the time, name and parent of its latest event;
- ``checkpoints.key_name`` must name a key that signed the stored note, and
  ``checkpoints.created_at`` must be the time the note states (``core.signed_time``).

Everything runs on the raw column values of the verifier's pages, in bulk, with no per-row
objects. Findings name sequence numbers: the event's own, or for a directory entry the latest
event that names it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditledger.core.canonical import TimestampText
from auditledger.core.checkpoint import SignedCheckpoint, StoredCheckpoint
from auditledger.core.rowcanon import EVENT_COLUMNS, UNREADABLE, uuid_text
from auditledger.core.signed_time import created_at_problem

# Event columns derived from the hashed ones; read after :data:`EVENT_COLUMNS`.
DERIVED_EVENT_COLUMNS = ("model_id",)
VERIFIED_EVENT_COLUMNS = EVENT_COLUMNS + DERIVED_EVENT_COLUMNS

# The leaf columns checked against the event (the hash and nodes are verify's own).
LEAF_EVIDENCE_COLUMNS = ("seq", "event_id", "request_digest", "occurred_at")

# verify's common read: each event row (VERIFIED_EVENT_COLUMNS) followed by its leaf's columns,
# one joined row per seq, so a page is one query and one tuple per event, not three.
JOINED_LEAF_COLUMNS = (
    "leaf_hash",
    "nodes",
    "expiry_prefix_len",
    "expiry_midstate",
    "expiry_suffix",
    "event_id",
    "request_digest",
    "occurred_at",
)
# Where each leaf column sits in a joined row.
JOINED_AT = {
    name: len(VERIFIED_EVENT_COLUMNS) + index for index, name in enumerate(JOINED_LEAF_COLUMNS)
}

# What each finding means, as the report says it.
COLUMN_FINDINGS = {
    "derived_column": (
        "a stored column differs from what the event's hashed record says (model_id, or a "
        "value the record leaves out)"
    ),
    "leaf_event_id": "the leaf's event id differs from its event's (lookups by id, idempotency)",
    "leaf_occurred_at": "the leaf's occurrence time differs from its event's",
    "leaf_digest": "the leaf's idempotency digest is not that of its event as sent",
    "directory": (
        "the directory (filter choices and names) differs from what the events say, "
        "at the latest event naming the entry"
    ),
}

_quote = json.encoder.encode_basestring

# Event row positions (see VERIFIED_EVENT_COLUMNS).
_AT = {name: index for index, name in enumerate(VERIFIED_EVENT_COLUMNS)}
_SEQ, _OCCURRED, _EVENT_ID = _AT["seq"], _AT["occurred_at"], _AT["event_id"]


def expected_model_id(subject_type: Any, subject_id: Any, parent_type: Any, parent_id: Any) -> Any:
    """``events.model_id`` as ingestion derives it (``core.event.Subject.model_id``)."""
    if subject_type == "model":
        return subject_id
    if parent_type == "model" and parent_id is not None:
        return parent_id
    return None


def _opt(value: Any) -> str:
    return "null" if value is None else str(_quote(value))


# The content of an idempotency digest in three parts: before the timestamp, the timestamp,
# after it (the digest without a timestamp has ``null`` in the middle).
DigestParts = tuple[bytes, bytes, bytes]


def digest_parts(row: Sequence[Any], timestamp: TimestampText) -> DigestParts:
    """(text before the timestamp, the timestamp, text after) of ``ingest.digest`` content.

    The same bytes as ``encode(content)`` in :func:`auditledger.ingest.digest.request_digest`
    (sorted keys, compact separators), written directly from the row;
    ``tests/integrity/test_columns.py`` pins the equality.
    """
    (
        _seq,
        occurred_at,
        _received_at,
        event_id,
        category,
        type_,
        subject_type,
        subject_id,
        subject_name,
        parent_type,
        parent_id,
        parent_name,
        properties,
        project_id,
        project_name,
        actor_type,
        actor_id,
        actor_name,
        source_ip,
        _source_location,
        *_derived,
    ) = row
    project = "null" if project_id is None else f"[{_quote(project_id)},{_opt(project_name)}]"
    head = (
        f'{{"actor":[{_quote(actor_type)},{_quote(actor_id)},{_quote(actor_name)}],'
        f'"category":{_quote(category)},"id":"{uuid_text(event_id)}","project":{project},'
        f'"properties":{properties},"source":{_opt(source_ip)},'
        f'"subject":[{_quote(subject_type)},{_quote(subject_id)},{_opt(subject_name)},'
        f"{_opt(parent_type)},{_opt(parent_id)},{_opt(parent_name)}],"
        '"timestamp":'
    )
    tail = f',"type":{_quote(type_)}}}'
    return (
        head.encode("utf-8"),
        f'"{timestamp(occurred_at)}"'.encode("ascii"),
        tail.encode("utf-8"),
    )


def digests_of(row: Sequence[Any], timestamp: TimestampText) -> tuple[bytes, bytes]:
    """The two idempotency digests an event row may have: sent with its timestamp, or
    sent without one (the server's time was used)."""
    head, stamp, tail = digest_parts(row, timestamp)
    with_time = hashlib.sha256(head)
    without_time = with_time.copy()
    with_time.update(stamp + tail)
    without_time.update(b"null" + tail)
    return with_time.digest(), without_time.digest()


@dataclass
class _Entry:
    """What the events say of one directory entry so far."""

    last_seen: Any
    seq: int  # of the latest event (the one whose time and parent the entry holds)
    name: Any  # the latest name known: a later event without one keeps it
    parent_id: Any
    named: bool  # whether the latest event itself had a name
    names: set[Any] = field(default_factory=set)  # every name events gave it
    named_at: Any = None  # the time of the event that gave ``name`` (for merge_later)

    def merge_later(self, later: _Entry) -> None:
        """Become what replaying this entry's events and then ``later``'s (those of later
        seqs, replayed on their own) gives: the directory of a log checked in two ranges."""
        self.names |= later.names
        if later.last_seen < self.last_seen:
            return  # none of the later events was the latest when it was replayed
        # Replayed after these, the later events that count are those at or after this
        # entry's time; the last with a name of them, if there is one, names the entry.
        if later.named_at is not None and later.named_at >= self.last_seen:
            self.name, self.named_at = later.name, later.named_at
        self.last_seen, self.seq, self.parent_id = later.last_seen, later.seq, later.parent_id
        self.named = later.named


@dataclass(frozen=True)
class StoredEntry:
    """A row of the ``directory`` table, as the verifier reads it."""

    kind: str
    ref_id: str
    name: str | None
    parent_id: str | None
    last_seen: Any  # raw stored value, comparable with events.occurred_at as stored


class ColumnCheck:
    """Checks of the stored columns beside the hashed record, fed page by page."""

    def __init__(self) -> None:
        self.found: dict[str, list[int]] = {kind: [] for kind in COLUMN_FINDINGS}
        self._timestamp = TimestampText()
        self._directory: dict[tuple[str, str], _Entry] = {}
        self.orphans: list[str] = []  # directory entries no stored event names
        self.events = 0

    def page(self, leaves: Sequence[Sequence[Any]], rows: Sequence[Sequence[Any]]) -> None:
        """Check one page: ``leaves`` in :data:`LEAF_EVIDENCE_COLUMNS` order and event
        ``rows`` in :data:`VERIFIED_EVENT_COLUMNS` order, both for the same seq range."""
        self._rows(rows)
        if len(leaves) == len(rows) and all(
            leaf[0] == row[_SEQ] for leaf, row in zip(leaves, rows, strict=True)
        ):
            pairs: Iterable[tuple[Sequence[Any], Sequence[Any]]] = zip(leaves, rows, strict=True)
        else:
            # Gaps, duplicates, forgeries: verify reports those; here only an event alone at
            # its seq, with a leaf, is compared with that leaf.
            by_seq: dict[Any, list[Sequence[Any]]] = {}
            for row in rows:
                by_seq.setdefault(row[_SEQ], []).append(row)
            pairs = [
                (leaf, by_seq[leaf[0]][0]) for leaf in leaves if len(by_seq.get(leaf[0], ())) == 1
            ]
        self._compare_leaves((leaf, row, None) for leaf, row in pairs)

    def joined_page(
        self, rows: Sequence[Sequence[Any]], digests: Sequence[DigestParts | None]
    ) -> None:
        """Check one page of joined rows (:data:`JOINED_AT`, exactly one event and its leaf
        per seq) as :meth:`page` would, given each row's digest content as
        :func:`digest_parts` writes it (None: to be written here)."""
        self._rows(rows)
        leaf_id, leaf_digest, leaf_time = (
            JOINED_AT["event_id"],
            JOINED_AT["request_digest"],
            JOINED_AT["occurred_at"],
        )
        self._compare_leaves(
            ((row[_SEQ], row[leaf_id], row[leaf_digest], row[leaf_time]), row, parts)
            for row, parts in zip(rows, digests, strict=True)
        )

    def _rows(self, rows: Sequence[Sequence[Any]]) -> None:
        # Each event's derived columns, and its part in the directory's replay.
        self.events += len(rows)
        derived = self.found["derived_column"]
        for row in rows:
            try:
                if not _derived_ok(row):
                    derived.append(row[_SEQ])
            except UNREADABLE:
                derived.append(row[_SEQ])
            self._note_directory(row)

    def _compare_leaves(
        self,
        pairs: Iterable[tuple[Sequence[Any], Sequence[Any], DigestParts | None]],
    ) -> None:
        # Each leaf's evidence (seq, event id, digest, time) against its event row, with the
        # row's digest content when the caller wrote it already.
        event_ids, times, digests = (
            self.found["leaf_event_id"],
            self.found["leaf_occurred_at"],
            self.found["leaf_digest"],
        )
        timestamp, sha256 = self._timestamp, hashlib.sha256
        for (seq, event_id, stored_digest, occurred_at), row, parts in pairs:
            if event_id != row[_EVENT_ID]:
                event_ids.append(seq)
            if occurred_at != row[_OCCURRED]:
                times.append(seq)
            if parts is not None:
                head, stamp, tail = parts
                # As sent with its timestamp first: one SHA-256 where the platform sent one.
                if (
                    sha256(head + stamp + tail).digest() != stored_digest
                    and sha256(head + b"null" + tail).digest() != stored_digest
                ):
                    digests.append(seq)
                continue
            try:
                if stored_digest not in digests_of(row, timestamp):
                    digests.append(seq)
            except UNREADABLE:
                digests.append(seq)

    def _note_directory(self, row: Sequence[Any]) -> None:
        # What ``store.log._OrgAppend._update_directory`` writes, replayed in seq order: the
        # latest occurrence wins (a tie goes to the later seq); a missing name keeps the one
        # known before.
        (
            seq,
            at,
            _received,
            _id,
            category,
            type_,
            subject_type,
            subject_id,
            subject_name,
            _parent_type,
            parent_id,
            parent_name,
            properties,
            project_id,
            project_name,
            _actor_type,
            actor_id,
            actor_name,
            *_rest,
        ) = row
        note = self._note
        if project_id is not None:
            note("project", project_id, project_name, None, at, seq)
        note("actor", actor_id, actor_name, None, at, seq)
        renamed_to = _renamed_to(category, type_, properties)
        if subject_type == "model":
            note("model", subject_id, renamed_to or subject_name, None, at, seq)
        elif subject_type == "user" and renamed_to is not None:
            note("actor", subject_id, renamed_to, None, at, seq)
        elif subject_type == "model_version":
            note("model", parent_id, parent_name, None, at, seq)
            note("model_version", subject_id, subject_name, parent_id, at, seq)

    def _note(self, kind: str, ref_id: Any, name: Any, parent: Any, at: Any, seq: int) -> None:
        if ref_id is None:
            return
        entry = self._directory.get((kind, ref_id))
        if entry is None:
            self._directory[(kind, ref_id)] = _Entry(
                at, seq, name, parent, name is not None, {name}, None if name is None else at
            )
            return
        entry.names.add(name)
        if at >= entry.last_seen:
            entry.last_seen, entry.seq, entry.parent_id = at, seq, parent
            entry.named = name is not None
            if name is not None:
                entry.name, entry.named_at = name, at

    def extend(self, later: ColumnCheck) -> None:
        """Add what ``later`` found over the seqs after this check's (a log checked in two
        ranges, by two processes): its findings, its events, its replay of the directory."""
        for kind, seqs in later.found.items():
            self.found[kind].extend(seqs)
        self.events += later.events
        for key, entry in later._directory.items():
            mine = self._directory.get(key)
            if mine is None:
                self._directory[key] = entry
            else:
                mine.merge_later(entry)

    def __getstate__(self) -> dict[str, Any]:
        # What a second process sends back; its timestamp cache is its own.
        return {"found": self.found, "directory": self._directory, "events": self.events}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.found, self._directory, self.events = (
            state["found"],
            state["directory"],
            state["events"],
        )
        self._timestamp = TimestampText()
        self.orphans = []

    def expected_directory(self) -> list[StoredEntry]:
        """The directory the events fed so far imply (for repairs and tests)."""
        return [
            StoredEntry(kind, ref_id, entry.name, entry.parent_id, entry.last_seen)
            for (kind, ref_id), entry in self._directory.items()
        ]

    def finish_directory(self, stored: Iterable[StoredEntry], *, complete: bool) -> None:
        """Compare the stored directory with the one the events imply.

        With ``complete`` false (some events are absent: purged by retention, or reported
        missing), an entry may also stem from events no longer stored: entries no stored event
        names are then accepted, and a stored entry may be newer than the stored events say.
        """
        found = self.found["directory"]
        expected = dict(self._directory)
        for entry in stored:
            want = expected.pop((entry.kind, entry.ref_id), None)
            if want is None:
                if complete:
                    self.orphans.append(f"{entry.kind} {entry.ref_id[:80]!r}")
                continue
            if entry.last_seen != want.last_seen:
                if complete or not _later(entry.last_seen, want.last_seen):
                    found.append(want.seq)
                continue
            if entry.parent_id != want.parent_id or not _name_ok(entry.name, want):
                found.append(want.seq)
        found.extend(want.seq for want in expected.values())

    def seqs(self, kind: str) -> list[int]:
        """The sequence numbers of one kind of finding, sorted, without repeats."""
        return sorted(set(self.found[kind]))


# The event types that rename their subject: the directory names it by the new name from then
# on. One list for the writer (store.log) and the verifier's replay, so the two cannot differ.
RENAMES = frozenset({("model", "rename"), ("dataset", "rename"), ("user", "user_name_change")})


def _renamed_to(category: Any, type_: Any, properties: Any) -> str | None:
    if (category, type_) not in RENAMES:
        return None
    try:
        new_name = json.loads(properties).get("new_name")
    except (ValueError, AttributeError, TypeError):
        return None  # an unreadable record is reported as altered
    return new_name if isinstance(new_name, str) and new_name else None


def _later(stored: Any, derived: Any) -> bool:
    try:
        return bool(stored > derived)
    except TypeError:
        return False


def _name_ok(stored: Any, want: _Entry) -> bool:
    if want.named:
        return bool(stored == want.name)
    # The latest event gave no name: the entry keeps an earlier one, which one depends on how
    # the events were grouped into commits; any name the events gave it is accepted.
    return stored in want.names


def _derived_ok(row: Sequence[Any]) -> bool:
    (
        _seq,
        _occurred,
        _received,
        _id,
        _category,
        _type,
        subject_type,
        subject_id,
        _subject_name,
        parent_type,
        parent_id,
        parent_name,
        _properties,
        project_id,
        project_name,
        _actor_type,
        _actor_id,
        _actor_name,
        source_ip,
        source_location,
        model_id,
        *_leaf,  # a joined row's leaf columns (JOINED_AT)
    ) = row
    if model_id != expected_model_id(subject_type, subject_id, parent_type, parent_id):
        return False
    if parent_id is None and (parent_type is not None or parent_name is not None):
        return False
    if project_id is None and project_name is not None:
        return False
    return not (source_ip is None and source_location is not None)


def checkpoint_metadata_problems(stored: StoredCheckpoint, opened: SignedCheckpoint) -> list[str]:
    """What is wrong with a checkpoint row's metadata, given its note verified: ``key_name``
    must name a key that signed the note, and ``created_at`` must be the time the note states
    (pages and the API show both as who signed it, and when)."""
    problems = []
    names = sorted({key.name for key in opened.signed_by})
    if stored.key_name not in names:
        problems.append(
            f"its key_name {stored.key_name[:80]!r} is not a key that signed it "
            f"({', '.join(names)})"
        )
    try:
        timing = created_at_problem(stored.note, stored.created_at)
    except UNREADABLE:
        timing = "its created_at is not a time"
    if timing is not None:
        problems.append(timing)
    return problems
