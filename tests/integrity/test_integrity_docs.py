"""The worked examples in docs/integrity.md are true."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from auditledger.core.canonical import canonical_bytes, event_leaf_hash
from auditledger.core.checkpoint import open_checkpoint
from auditledger.core.cosignature import check_cosignatures, parse_witness_vkey
from auditledger.core.keys import parse_vkey
from auditledger.core.note import parse_note
from auditledger_client.core.event import Actor, Event, Location, Ref, Source, Subject

DOC = (Path(__file__).parents[2] / "docs" / "integrity.md").read_text(encoding="utf-8")


def test_the_canonical_example_and_its_leaf_hash() -> None:
    event = Event(
        org="acme",
        seq=14213,
        event_id=uuid.UUID("0b6c3c1e-5a4f-4a8e-9d8e-6f1f3c2b7a10"),
        occurred_at=datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        received_at=datetime(2026, 11, 25, 9, 30, 0, 412000, tzinfo=UTC),
        category="model",
        type="rename",
        subject=Subject("model", "mdl-churn", "churn-model"),
        properties={"old_name": "churn-model", "new_name": "churn-model-eu"},
        project=Ref("prj-churn", "churn-prediction"),
        actor=Actor("user", "u-ada", "Ada Okafor"),
        source=Source("193.166.3.7", Location("FI", "Finland", "Espoo")),
    )
    block = DOC.split('```\n{"actor"', 1)[1].split("```", 1)[0]
    example = '{"actor"' + block.replace("\n", "")
    assert canonical_bytes(event).decode("utf-8") == example
    assert f"Its leaf hash is `{event_leaf_hash(event).hex()}`" in DOC


def test_the_checkpoint_example_verifies_with_its_key() -> None:
    vkey = re.search(r"signed\nby the key `([^`]+)`", DOC)
    assert vkey is not None
    note = DOC.split("```\nauditledger.example.com/acme\n", 1)[1].split("```", 1)[0]
    opened = open_checkpoint(
        "auditledger.example.com/acme\n" + note,
        [parse_vkey(vkey.group(1))],
        origin="auditledger.example.com/acme",
    )
    leaf = bytes.fromhex("d3ba5dd7c2297a922c54957dfd6c81b53697e5fc97d74988dc5effe708b0b748")
    assert (opened.tree_size, opened.root_hash) == (1, leaf)


def test_the_cosignature_example_verifies_with_both_keys() -> None:
    section = DOC.split("## Witnesses and cosignatures", 1)[1]
    witness = re.search(r"by the witness key\n`([^`]+)`", section)
    log_key = re.search(r"signed\nby the key `([^`]+)`", DOC)
    assert witness is not None
    assert log_key is not None
    note = section.split("```\n", 1)[1].split("```", 1)[0]
    # The log's key alone opens it (the witness line is an unknown signature to it) ...
    assert open_checkpoint(note, [parse_vkey(log_key.group(1))]).tree_size == 1
    # ... and the witness's line is a valid cosignature of that checkpoint at the stated time.
    parsed = parse_note(note)
    check = check_cosignatures(
        parsed.text, parsed.signatures, [parse_witness_vkey(witness.group(1))]
    )
    assert [timestamp for _, timestamp in check.valid] == [1777636800]
    assert check.invalid == ()
