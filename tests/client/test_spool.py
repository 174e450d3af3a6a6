"""The spool: FIFO, bounded, durable across reopening, one client at a time, dead letters."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from auditledger_client import SpoolFull, SpoolLocked
from auditledger_client.build import WireEvent
from auditledger_client.core.errors import Problem
from auditledger_client.spool import Spool


def event(org: str = "acme", size: int = 10) -> WireEvent:
    return WireEvent(uuid.uuid4(), org, "x" * size)


def test_fifo_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(path)
    events = [event() for _ in range(5)]
    spool.append(events[:3])
    spool.append(events[3:])
    spool.remove(spool.head(2, 10_000))
    spool.close()
    reopened = Spool(path)
    assert [e.id for e in reopened.head(100, 10_000)] == [e.id for e in events[2:]]
    assert reopened.pending == 3
    reopened.close()


def test_positions_are_never_reused(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.append([event()])
    spool.remove(spool.head(1, 100))
    assert spool.first_seq() is None
    spool.append([event()])
    assert spool.head(1, 100)[0].seq == 2 == spool.last_seq()
    spool.close()


def test_a_batch_is_one_organization_within_the_byte_limit() -> None:
    spool = Spool(None)
    spool.append([event("a", 40), event("a", 40), event("a", 40), event("b"), event("a")])
    assert [e.org for e in spool.head(10, 10_000)] == ["a", "a", "a"]
    assert len(spool.head(10, 100)) == 2
    assert len(spool.head(10, 1)) == 1  # an event larger than the limit still travels alone
    spool.close()


def test_bounds_push_back_and_keep_what_is_there() -> None:
    spool = Spool(None, max_events=3, max_bytes=1000)
    spool.append([event(), event()])
    with pytest.raises(SpoolFull, match="at most 3"):
        spool.append([event(), event()])  # all or nothing
    assert spool.pending == 2
    with pytest.raises(SpoolFull, match="bytes"):
        spool.append([event(size=990)])
    spool.append([event()])
    assert spool.pending == 3
    spool.close()


def test_one_client_per_spool_file(tmp_path: Path) -> None:
    first = Spool(tmp_path / "s.db")
    with pytest.raises(SpoolLocked):
        Spool(tmp_path / "s.db")
    first.close()
    Spool(tmp_path / "s.db").close()


def test_bury_moves_an_event_to_the_dead_letters_with_the_reason(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    kept, refused = event(), WireEvent(uuid.uuid4(), "acme", '{"type": "rename"}')
    spool.append([kept, refused])
    spool.bury(spool.head(2, 1000)[1], 422, "invalid_input", "nope", [Problem("timestamp", "old")])
    spool.close()
    spool = Spool(tmp_path / "s.db")
    (letter,) = spool.dead_letters()
    assert letter.event_id == refused.id
    assert letter.event == {"type": "rename"}
    assert letter.problems == [Problem("timestamp", "old")]
    assert [e.id for e in spool.head(10, 1000)] == [kept.id]
    spool.close()


def test_withdraw_takes_an_event_back() -> None:
    spool = Spool(None)
    first, second = event(), event()
    spool.append([first, second])
    assert spool.withdraw(first.id)
    assert not spool.withdraw(first.id)
    assert [e.id for e in spool.head(10, 1000)] == [second.id]
    assert spool.pending == 1
    spool.close()
