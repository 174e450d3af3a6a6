"""One streamed batch: the next events of a destination, with the proofs that they are the log's.

A batch declares the range of sequence numbers it covers (``from_seq`` to ``to_seq``, end
exclusive); consecutive batches of a destination chain exactly (one's ``to_seq`` is the next
one's ``from_seq``), so a receiver sees at once when a batch is missing. Each event carries its
leaf hash and its RFC 9162 inclusion proof in the tree of a signed checkpoint that the batch
carries; a consistency proof links that checkpoint to the previous batch's, so the receiver knows
the log only grew between them. The format is specified in docs/streaming.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection, select

from auditledger.core.canonical import canonical_bytes
from auditledger.core.checkpoint import StoredCheckpoint
from auditledger.core.merkle import consistency_proof, inclusion_proofs
from auditledger.events.render import event_json
from auditledger.query.search import filter_conditions
from auditledger.store.log import fetch_nodes
from auditledger.store.rows import row_to_event
from auditledger.store.schema import events, leaves
from auditledger.streaming.model import Destination

FORMAT = "auditledger-stream"
VERSION = 1


@dataclass(frozen=True)
class Batch:
    """What to send, and where the cursor goes once it is acknowledged."""

    body: dict[str, Any]  # the batch as JSON (see docs/streaming.md)
    from_seq: int
    to_seq: int
    tree_size: int
    records: list[dict[str, Any]]

    @property
    def empty(self) -> bool:
        """No event matched: the cursor moves on without sending anything."""
        return not self.records


def build_batch(
    connection: Connection,
    destination: Destination,
    org_slug: str,
    origin: str,
    checkpoint: StoredCheckpoint,
    limit: int,
) -> Batch:
    """The destination's next batch, proven against ``checkpoint`` (read in one snapshot)."""
    size = checkpoint.tree_size
    flt = destination.event_filter
    rows = connection.execute(
        select(events, leaves.c.leaf_hash)
        .join(leaves, (leaves.c.org_id == events.c.org_id) & (leaves.c.seq == events.c.seq))
        .where(
            *filter_conditions(destination.org_id, flt),
            events.c.seq >= destination.next_seq,
            events.c.seq < size,
        )
        .order_by(events.c.seq)
        .limit(limit)
    ).all()
    to_seq = rows[-1].seq + 1 if len(rows) == limit else size
    fetch = partial(fetch_nodes, connection, destination.org_id)
    # Every proof's nodes in one query: one query per event would dominate delivery time.
    proofs = inclusion_proofs([row.seq for row in rows], size, fetch)
    records = []
    for row, proof in zip(rows, proofs, strict=True):
        event = row_to_event(org_slug, row)
        record: dict[str, Any] = {
            "id": str(event.event_id),
            "seq": event.seq,
            "leaf_hash": bytes(row.leaf_hash).hex(),
            "inclusion": [h.hex() for h in proof],
            "event": event_json(event, include_source=destination.include_source),
        }
        # The canonical bytes hold the source; without that permission they are sent only
        # when there is no source to reveal (see docs/streaming.md, "What a receiver can check").
        if destination.include_source or event.source is None:
            record["canonical"] = canonical_bytes(event).decode("utf-8")
        records.append(record)
    previous = destination.last_tree_size
    consistency: list[str] = []
    if previous is not None and 0 < previous < size:
        consistency = [h.hex() for h in consistency_proof(previous, size, fetch)]
    body = {
        "format": FORMAT,
        "version": VERSION,
        "organization": org_slug,
        "origin": origin,
        "destination": str(destination.id),
        "from_seq": destination.batch_from,
        "to_seq": to_seq,
        "filtered": not flt.is_empty(),
        "filters": [list(item) for item in destination.filters],
        "checkpoint": checkpoint.served_note,
        "previous_tree_size": previous,
        "consistency": consistency,
        "events": records,
    }
    return Batch(body, destination.batch_from, to_seq, size, records)
