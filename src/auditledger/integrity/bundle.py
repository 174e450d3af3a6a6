"""Evidence bundles: an export that proves itself, offline, to anyone holding the public key.

A bundle is a zip of:

* ``records.jsonl``: the canonical bytes (v1) of each matching event, one per line, in export
  order (timestamp, then sequence number); its leaf hash is ``SHA-256(0x00 || line)``;
* ``proofs.jsonl``: per record, in the same order, ``{"seq", "leaf_hash", "path"}``: the RFC
  9162 inclusion proof of that leaf in the checkpoint's tree;
* ``checkpoint.txt``: the signed checkpoint (C2SP) all proofs lead to;
* ``events.csv``: the same events as the CSV export shows them (administrators' columns);
* ``manifest.json``: the organization and its log origin, the filters, the number of records,
  the checkpoint's size and root, and the SHA-256 of every other file;
* ``manifest.sig``: a signed note, by the log's key, over the manifest's SHA-256 (so nobody
  can drop, add or reorder records and rewrite the manifest to match);
* ``README.txt``: how to check it.

Records hold the events' sources, so bundles are for administrators only. Each record carries
a proof of about twenty hashes, so a bundle is an evidence set (up to ``MAX_RECORDS`` events),
not a backup; the plain exports have no limit.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from auditledger.core.canonical import canonical_bytes, leaf_hash
from auditledger.core.cells import header, row_cells
from auditledger.core.checkpoint import StoredCheckpoint
from auditledger.core.errors import InvalidInput, Problem
from auditledger.core.keys import SigningKey
from auditledger.core.merkle import NodeId, inclusion_proof
from auditledger.core.note import sign_note
from auditledger.store.rows import row_to_event

FORMAT = "auditledger-evidence-bundle"
VERSION = 1
MAX_RECORDS = 100_000
SIGNATURE_TITLE = "auditledger evidence bundle v1"
FILES = ("records.jsonl", "proofs.jsonl", "checkpoint.txt", "events.csv")

README = """\
auditledger evidence bundle
===========================

records.jsonl   canonical bytes of each event (one per line); leaf hash = SHA-256(0x00 || line)
proofs.jsonl    RFC 9162 inclusion proof of each record in the checkpoint's Merkle tree
checkpoint.txt  the signed checkpoint (C2SP tlog-checkpoint, signed note)
events.csv      the same events as a spreadsheet shows them
manifest.json   organization, filters, record count, checkpoint, SHA-256 of each file
manifest.sig    signed note over the manifest's SHA-256, by the log's key

Check it offline, with the log's public key obtained separately:

    auditledger verify-bundle this-file.zip --public-key KEY

The format is specified in auditledger's docs/integrity.md.
"""


@dataclass(frozen=True)
class BundleSummary:
    """What a written bundle holds."""

    records: int
    tree_size: int
    left_out: int  # matching events appended after the checkpoint (not provable by it yet)


class _Hashing:
    """A write-only stream into a zip entry that also hashes what passes through it."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.sha256.update(data)
        self.target.write(data)


def manifest_signature_text(origin: str, manifest_sha256: str) -> str:
    """The signed note's text: a title no checkpoint can have, the origin, the digest."""
    return f"{SIGNATURE_TITLE}\n{origin}\n{manifest_sha256}\n"


def write_bundle(
    path: Path,
    *,
    org_slug: str,
    origin: str,
    checkpoint: StoredCheckpoint,
    rows: Iterable[Any],
    fetch: Any,
    key: SigningKey,
    filters: list[tuple[str, str]],
    description: str,
    created: str,
) -> BundleSummary:
    """Write the bundle of ``rows`` (``events`` rows with ``leaf_hash``, export order) proven
    by ``checkpoint``; ``fetch`` reads stored Merkle nodes of the same snapshot.

    A stored event whose canonical bytes do not hash to its stored leaf means the database was
    tampered with: the bundle is refused rather than made to look sound.
    """
    size = checkpoint.tree_size
    cache: dict[NodeId, bytes] = {}

    def cached_fetch(wanted: Iterable[NodeId]) -> dict[NodeId, bytes]:
        wanted = set(wanted)
        missing = wanted - cache.keys()
        if missing:
            cache.update(fetch(missing))
            if len(cache) > 2_000_000:  # a bundle's proofs share their upper nodes; bound it
                cache.clear()
                return fetch(wanted)  # type: ignore[no-any-return]
        return {node: cache[node] for node in wanted if node in cache}

    records = left_out = 0
    # Three files are written side by side and a zip takes one entry at a time: stage them.
    with (
        contextlib.ExitStack() as stack,
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        staged = {
            name: stack.enter_context(tempfile.TemporaryFile())
            for name in ("records.jsonl", "proofs.jsonl", "events.csv")
        }
        outs = {name: _Hashing(handle) for name, handle in staged.items()}
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(header(True))
        for row in rows:
            mapping = row._mapping
            if mapping["seq"] >= size:
                left_out += 1
                continue
            records += 1
            if records > MAX_RECORDS:
                raise InvalidInput(
                    "too many events for an evidence bundle",
                    [
                        Problem(
                            "filters",
                            f"at most {MAX_RECORDS:,} events per bundle; narrow "
                            "the date range or filters (plain exports have no limit)",
                        )
                    ],
                )
            data = canonical_bytes(row_to_event(org_slug, mapping))
            leaf = leaf_hash(data)
            if leaf != mapping["leaf_hash"]:
                raise InvalidInput(
                    "the stored log does not verify",
                    [
                        Problem(
                            "seq",
                            f"event {mapping['seq']} does not match its leaf hash; "
                            "run `auditledger verify`",
                        )
                    ],
                )
            outs["records.jsonl"].write(data + b"\n")
            path_ = inclusion_proof(mapping["seq"], size, cached_fetch)
            proof = {
                "seq": mapping["seq"],
                "leaf_hash": leaf.hex(),
                "path": [node.hex() for node in path_],
            }
            outs["proofs.jsonl"].write(json.dumps(proof, separators=(",", ":")).encode() + b"\n")
            writer.writerow(row_cells(mapping, True))
            if text.tell() > 1 << 16:
                outs["events.csv"].write(text.getvalue().encode("utf-8"))
                text.seek(0)
                text.truncate()
        outs["events.csv"].write(text.getvalue().encode("utf-8"))
        digests = {name: out.sha256.hexdigest() for name, out in outs.items()}
        for name, handle in staged.items():
            handle.seek(0)
            with archive.open(name, "w") as entry:
                shutil.copyfileobj(handle, entry)
        checkpoint_bytes = checkpoint.served_note.encode("utf-8")
        archive.writestr("checkpoint.txt", checkpoint_bytes)
        digests["checkpoint.txt"] = hashlib.sha256(checkpoint_bytes).hexdigest()
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "organization": org_slug,
            "origin": origin,
            "created": created,
            "filters": {"query": [list(item) for item in filters], "description": description},
            "order": "timestamp, then sequence number",
            "records": records,
            "left_out_after_checkpoint": left_out,
            "checkpoint": {"tree_size": size, "root_hash": checkpoint.root_hash.hex()},
            "files": {
                **{name: digests[name] for name in FILES},
                "README.txt": hashlib.sha256(README.encode("utf-8")).hexdigest(),
            },
        }
        manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        archive.writestr("manifest.json", manifest_bytes)
        signature = sign_note(
            manifest_signature_text(origin, hashlib.sha256(manifest_bytes).hexdigest()), [key]
        )
        archive.writestr("manifest.sig", signature)
        archive.writestr("README.txt", README)
    return BundleSummary(records, size, left_out)
