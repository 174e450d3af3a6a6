"""Check an evidence bundle offline: no database, no server, only the log's public key.

The checks, each reported with the record (index, sequence number, event id) it concerns:

1. ``manifest.sig`` is a note signed by a trusted key over the SHA-256 of ``manifest.json``
   for the manifest's log origin: otherwise the manifest may have been rewritten;
2. the zip holds one entry per name, each a plain file name (no directories, absolute paths or
   ``..``: see :mod:`auditledger.integrity.bundle_entries`); every file has the SHA-256 the
   manifest lists, none is missing, and nothing the manifest does not list is there;
3. ``checkpoint.txt`` is signed by a trusted key, is a checkpoint of the manifest's log, and
   has the size and root the manifest names; with witness keys, it carries enough valid
   cosignatures (C2SP tlog-cosignature) by them;
4. every record is canonical JSON of the manifest's organization, its leaf hash is the one its
   proof proves, and the proof leads to the checkpoint's root (RFC 9162);
5. records are in the documented order, with no sequence number twice, as many as the
   manifest says; every CSV row is the rendering of its record, and every record has a row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from auditledger.core.canonical import encode, leaf_hash
from auditledger.core.cells import header, row_cells
from auditledger.core.checkpoint import open_checkpoint
from auditledger.core.cosignature import WitnessKey, policy_problems
from auditledger.core.errors import InvalidInput
from auditledger.core.keys import VerifierKey
from auditledger.core.merkle import verify_inclusion
from auditledger.core.note import open_note, parse_note
from auditledger.integrity.bundle import FILES, FORMAT, README, SIGNATURE_TITLE
from auditledger.integrity.bundle_entries import STRUCTURAL, read_entries, unlisted

# Bundles made before the manifest listed README.txt carried it unlisted, with this text.
_UNLISTED_README = {"README.txt": README.encode("utf-8")}


@dataclass
class BundleReport:
    """What the check found."""

    organization: str = ""
    records: int = 0
    tree_size: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the bundle is intact and proven."""
        return not self.problems


def _record_row(record: dict[str, Any], leaf: bytes) -> dict[str, Any]:
    """The ``events`` row a record was made from, for rendering its CSV cells."""
    subject = record["subject"]
    parent = subject.get("parent") or {}
    project = record.get("project") or {}
    source = record.get("source") or {}
    location = source.get("location")
    return {
        "occurred_at": datetime.fromisoformat(record["timestamp"]),
        "received_at": datetime.fromisoformat(record["received"]),
        "category": record["category"],
        "type": record["type"],
        "subject_type": subject["type"],
        "subject_id": subject["id"],
        "subject_name": subject["name"],
        "parent_type": parent.get("type"),
        "parent_id": parent.get("id"),
        "parent_name": parent.get("name"),
        "properties": encode(record["properties"]).decode("utf-8"),
        "project_id": project.get("id"),
        "project_name": project.get("name"),
        "actor_type": record["actor"]["type"],
        "actor_id": record["actor"]["id"],
        "actor_name": record["actor"]["name"],
        "source_ip": source.get("ip"),
        "source_location": encode(location).decode("utf-8") if location else None,
        "event_id": record["id"],
        "seq": record["seq"],
        "leaf_hash": leaf,
    }


def _label(index: int, record: dict[str, Any] | None) -> str:
    if not record:
        return f"record {index + 1}"
    return f"record {index + 1} (seq {record.get('seq')}, event {record.get('id')})"


def verify_bundle(
    path: Path,
    verifiers: list[VerifierKey],
    *,
    witnesses: Sequence[WitnessKey] = (),
    witnesses_required: int = 0,
) -> BundleReport:
    """Check the bundle at ``path`` against the trusted ``verifiers``; its checkpoint must
    carry ``witnesses_required`` valid cosignatures by ``witnesses`` (and none that fails)."""
    report = BundleReport()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problems.append(f"not a readable zip file: {exc}")
        return report
    with archive:
        files, problems = read_entries(archive)
    if problems:
        report.problems.extend(problems)
        return report
    names = set(files)
    for name in sorted({*FILES, *STRUCTURAL} - names):
        report.problems.append(f"{name} is missing")
    if not set(STRUCTURAL) <= names:
        return report
    manifest = _check_manifest(files, verifiers, report)
    if manifest is None:
        return report
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not all(isinstance(v, str) for v in listed.values()):
        report.problems.append("manifest.json lists no files (not a bundle manifest)")
        return report
    report.problems.extend(unlisted(names, set(listed), _UNLISTED_README, files))
    for name, digest in sorted(listed.items()):
        if name in files and hashlib.sha256(files[name]).hexdigest() != digest:
            report.problems.append(f"{name} differs from the signed manifest (altered)")
        elif name not in files and name not in FILES:
            report.problems.append(f"{name} is missing")
    for name in FILES:
        if name not in listed:
            report.problems.append(f"the signed manifest does not cover {name}")
            files.pop(name, None)  # unproven content is not checked further
    root = _check_checkpoint(files, manifest, verifiers, report)
    if root is not None and witnesses:
        _check_witnesses(files["checkpoint.txt"], witnesses, witnesses_required, report)
    if root is None or "records.jsonl" not in files or "proofs.jsonl" not in files:
        return report
    records = _check_records(files, manifest, root, report)
    if "events.csv" in files:
        _check_csv(files["events.csv"], records, report)
    return report


def _check_manifest(
    files: dict[str, bytes], verifiers: list[VerifierKey], report: BundleReport
) -> dict[str, Any] | None:
    try:
        manifest: dict[str, Any] = json.loads(files["manifest.json"])
    except ValueError:
        report.problems.append("manifest.json is not JSON (altered)")
        return None
    if manifest.get("format") != FORMAT:
        report.problems.append("manifest.json is not an auditledger evidence bundle manifest")
        return None
    report.organization = str(manifest.get("organization", ""))
    report.tree_size = int(manifest.get("checkpoint", {}).get("tree_size", 0))
    origin = str(manifest.get("origin", ""))
    try:
        opened = open_note(files["manifest.sig"].decode("utf-8"), verifiers, "manifest.sig")
    except (InvalidInput, UnicodeDecodeError) as exc:
        why = exc.message if isinstance(exc, InvalidInput) else "not text"
        report.problems.append(f"manifest.sig does not verify with the given key(s): {why}")
        return None
    lines = opened.text.split("\n")
    digest = hashlib.sha256(files["manifest.json"]).hexdigest()
    if lines[:1] != [SIGNATURE_TITLE] or lines[1:2] != [origin]:
        report.problems.append("manifest.sig is not this bundle's signature (another log's?)")
        return None
    if lines[2:3] != [digest]:
        report.problems.append("manifest.json differs from the one that was signed (altered)")
        return None
    return manifest


def _check_checkpoint(
    files: dict[str, bytes],
    manifest: dict[str, Any],
    verifiers: list[VerifierKey],
    report: BundleReport,
) -> bytes | None:
    if "checkpoint.txt" not in files:
        return None
    try:
        signed = open_checkpoint(
            files["checkpoint.txt"].decode("utf-8"),
            verifiers,
            origin=manifest["origin"],
            field="checkpoint.txt",
        )
    except (InvalidInput, UnicodeDecodeError) as exc:
        why = exc.message if isinstance(exc, InvalidInput) else "not text"
        problems = "; ".join(p.message for p in getattr(exc, "problems", []))
        report.problems.append(
            f"checkpoint.txt is not a valid checkpoint of this log: {why} {problems}".strip()
        )
        return None
    expected = manifest["checkpoint"]
    if signed.tree_size != expected["tree_size"] or signed.root_hash.hex() != expected["root_hash"]:
        report.problems.append("checkpoint.txt is not the checkpoint the manifest names")
        return None
    return signed.root_hash


def _check_witnesses(
    checkpoint: bytes, witnesses: Sequence[WitnessKey], required: int, report: BundleReport
) -> None:
    note = parse_note(checkpoint.decode("utf-8"), "checkpoint.txt")  # it opened: it parses
    label = f"checkpoint.txt (checkpoint {report.tree_size})"
    problems = policy_problems(label, note.text, note.signatures, witnesses, required)
    report.problems.extend(problem.message for problem in problems)


def _check_records(
    files: dict[str, bytes], manifest: dict[str, Any], root: bytes, report: BundleReport
) -> list[tuple[dict[str, Any], bytes] | None]:
    size = manifest["checkpoint"]["tree_size"]
    lines = files["records.jsonl"].split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    proofs = files["proofs.jsonl"].split(b"\n")
    if proofs and proofs[-1] == b"":
        proofs.pop()
    report.records = len(lines)
    if len(lines) != manifest["records"]:
        report.problems.append(
            f"{len(lines)} records, but the manifest lists {manifest['records']} "
            f"({'dropped' if len(lines) < manifest['records'] else 'added'} records)"
        )
    if len(proofs) != len(lines):
        report.problems.append(f"{len(proofs)} proofs for {len(lines)} records")
    records: list[tuple[dict[str, Any], bytes] | None] = []
    seen: dict[int, int] = {}
    previous: tuple[str, int] | None = None
    for index, line in enumerate(lines):
        label = _label(index, None)
        try:
            record = json.loads(line)
            canonical = encode(record) == line
        except ValueError:
            report.problems.append(f"{label}: not JSON (edited)")
            records.append(None)
            continue
        label = _label(index, record)
        leaf = leaf_hash(line)
        records.append((record, leaf))
        if not canonical:
            report.problems.append(f"{label}: not in canonical form (edited)")
        if record.get("org") != manifest["organization"]:
            report.problems.append(f"{label}: belongs to another organization (added)")
        seq = record.get("seq")
        if not isinstance(seq, int):
            report.problems.append(f"{label}: has no sequence number (edited)")
            continue
        if seq in seen:
            report.problems.append(f"{label}: sequence number {seq} also in record {seen[seq] + 1}")
        seen[seq] = index
        key = (str(record.get("timestamp")), seq)
        if previous is not None and key <= previous:
            report.problems.append(f"{label}: out of order (reordered)")
        previous = key
        try:
            proof = json.loads(proofs[index])
            path = [bytes.fromhex(node) for node in proof["path"]]
            proven = proof["seq"] == seq and bytes.fromhex(proof["leaf_hash"]) == leaf
        except (ValueError, KeyError, IndexError, TypeError):
            report.problems.append(f"{label}: its proof is unreadable")
            continue
        if not proven or not verify_inclusion(seq, size, leaf, path, root):
            report.problems.append(f"{label}: not proven by the checkpoint (edited or added)")
    return records


def _check_csv(
    data: bytes, records: list[tuple[dict[str, Any], bytes] | None], report: BundleReport
) -> None:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline="")))
    if not rows or rows[0] != header(True):
        report.problems.append("events.csv has the wrong header")
        return
    by_id = {r[0]["id"]: (i, r) for i, r in enumerate(records) if r is not None}
    listed: set[str] = set()
    id_column = rows[0].index("Event ID")
    for number, row in enumerate(rows[1:], start=2):
        event_id = row[id_column] if len(row) > id_column else ""
        listed.add(event_id)
        found = by_id.get(event_id)
        if found is None:
            report.problems.append(
                f"events.csv line {number}: event {event_id} has no record "
                "(a dropped record, or an added row)"
            )
            continue
        index, (record, leaf) = found
        if row != row_cells(_record_row(record, leaf), True):
            report.problems.append(
                f"events.csv line {number}: differs from {_label(index, record)} (edited cell)"
            )
    for index, item in enumerate(records):
        if item is not None and item[0]["id"] not in listed:
            report.problems.append(f"{_label(index, item[0])}: not in events.csv (row dropped)")
