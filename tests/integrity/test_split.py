"""``verify`` over two processes says exactly what it says in one (integrity.split)."""

from __future__ import annotations

import multiprocessing
import socket
import struct
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text, update

from auditledger.core.columns import VERIFIED_EVENT_COLUMNS, ColumnCheck, StoredEntry
from auditledger.integrity import split
from auditledger.integrity.source import SqlLogSource, open_source
from auditledger.integrity.verify import VerifyReport, verify_log
from auditledger.services import Services
from auditledger.store.schema import directory, events, leaves
from auditledger.tenancy.model import Organization
from tests.support.helpers import make_org, sample_event
from tests.support.integrity import ingest, rewrite_event, tampering

EVENTS = 60
PAGE = 8  # the split point is then seq 24, and the second process reads 5 pages


@pytest.fixture
def resumed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Split logs of any size; the seqs from which this process went on after the other."""
    monkeypatch.setattr(split, "SPLIT_MIN_SEQS", 0)
    seen: list[int] = []
    join = split.SecondProcess.join

    def spy(self: split.SecondProcess, checker: Any, columns: ColumnCheck) -> int:
        seen.append(join(self, checker, columns))
        return seen[-1]

    monkeypatch.setattr(split.SecondProcess, "join", spy)
    return seen


@pytest.fixture
def org(services: Services, resumed: list[int]) -> Organization:
    access = make_org(services)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    batch = []
    for i in range(EVENTS):
        # Times out of seq order now and then, and names that change: the directory's replay
        # must pick the same latest event whichever process saw it.
        at = start + timedelta(minutes=i if i % 7 else i - 20)
        event = sample_event("model", "rename" if i % 5 == 0 else "description_change")
        event["subject"] = {"id": f"mdl-{i % 6}", "name": f"model {i % 6} v{i}"}
        if i % 5 == 0:
            event["properties"] = {"old_name": f"model {i % 6}", "new_name": f"renamed {i}"}
        event["actor"] = {"type": "user", "id": f"u-{i % 4}", "name": f"user {i % 4} {i // 20}"}
        event["timestamp"] = at.isoformat().replace("+00:00", "Z")
        batch.append(event)
    ingest(services, access.org, batch)
    services.checkpoints.ensure_key()
    services.checkpoints.checkpoint(access.org.id, access.org.slug)
    return access.org


def _verify(services: Services, org: Organization, processes: int) -> VerifyReport:
    with open_source(services.db, org.id) as source:
        return verify_log(
            source,
            org_slug=org.slug,
            origin=services.checkpoints.origin(org.slug),
            verifiers=services.checkpoints.verifiers(),
            page_size=PAGE,
            processes=processes,
        )


def _said(report: VerifyReport) -> tuple[Any, ...]:
    return (
        report.events_checked,
        report.leaves_checked,
        report.checkpoints_checked,
        [(f.kind, f.describe(), f.checkpoint) for f in report.findings],
    )


def test_a_clean_log_verifies_in_two_processes(
    services: Services, org: Organization, resumed: list[int]
) -> None:
    one, two = _verify(services, org, 1), _verify(services, org, 2)
    assert two.ok
    assert one.ok
    assert _said(two) == _said(one)
    assert two.events_checked == EVENTS
    assert resumed == [EVENTS]  # the second process checked seqs 24-59


def _alter_upper_event(services: Services, org: Organization) -> None:
    with tampering(services) as connection:
        connection.execute(
            update(events)
            .where(events.c.org_id == org.id, events.c.seq == 41)
            .values(subject_name="forged")
        )


def _remove_upper_event(services: Services, org: Organization) -> None:
    with tampering(services) as connection:
        connection.execute(delete(events).where(events.c.org_id == org.id, events.c.seq == 45))


def _forge_edge_node(services: Services, org: Organization) -> None:
    # Leaf 23 stores the node over leaves 16-23, one of the two the second process starts from.
    with tampering(services) as connection:
        connection.execute(
            update(leaves)
            .where(leaves.c.org_id == org.id, leaves.c.seq == 23)
            .values(nodes=b"\x07" * 96)
        )


def _rename_in_directory(services: Services, org: Organization) -> None:
    with tampering(services) as connection:
        connection.execute(
            update(directory)
            .where(directory.c.org_id == org.id, directory.c.ref_id == "mdl-5")
            .values(name="forged")
        )


def _rewrite_upper_event(services: Services, org: Organization) -> None:
    rewrite_event(services, org, 50, subject_name="rewritten all the way up")


def _change_upper_leaf_digest(services: Services, org: Organization) -> None:
    with tampering(services) as connection:
        connection.execute(
            update(leaves)
            .where(leaves.c.org_id == org.id, leaves.c.seq == 33)
            .values(request_digest=b"\x00" * 32)
        )


@pytest.mark.parametrize(
    ("tamper", "goes_on_from"),
    [
        (_alter_upper_event, EVENTS),
        (_remove_upper_event, 40),  # the page it is missing from is left to this process
        (_forge_edge_node, 24),  # the other process started from a forged edge
        (_rename_in_directory, EVENTS),
        (_rewrite_upper_event, EVENTS),
        (_change_upper_leaf_digest, EVENTS),
    ],
)
def test_two_processes_find_what_one_finds(
    services: Services, org: Organization, resumed: list[int], tamper: Any, goes_on_from: int
) -> None:
    tamper(services, org)
    one, two = _verify(services, org, 1), _verify(services, org, 2)
    assert not one.ok
    assert _said(two) == _said(one)
    assert resumed == [goes_on_from]


# Directory replays of generated events: a handful of ids, names and times, so that entries
# are renamed, named by events out of time order, and tied.
_row = st.tuples(
    st.integers(0, 5),  # occurrence time
    st.sampled_from(["mdl-a", "mdl-b", "mdl-c"]),
    st.one_of(st.none(), st.sampled_from(["one", "two", "three"])),
    st.sampled_from(["u-1", "u-2"]),
    st.sampled_from(["Ada", "Ben"]),
    st.booleans(),  # a rename, with a new name
)


def _event_row(seq: int, generated: tuple[Any, ...]) -> tuple[Any, ...]:
    at, model, name, actor, actor_name, rename = generated
    values: dict[str, Any] = dict.fromkeys(VERIFIED_EVENT_COLUMNS)
    values.update(
        seq=seq,
        occurred_at=at,
        category="model",
        type="rename" if rename else "update",
        subject_type="model",
        subject_id=model,
        subject_name=name,
        properties='{"new_name":"renamed"}' if rename else "{}",
        actor_type="user",
        actor_id=actor,
        actor_name=actor_name,
        model_id=model,
    )
    return tuple(values[c] for c in VERIFIED_EVENT_COLUMNS)


@settings(max_examples=300, deadline=None)
@given(generated=st.lists(_row, max_size=30), cut=st.integers(0, 30), names=st.data())
def test_a_directory_replayed_in_two_ranges_is_the_one_replay(
    generated: list[tuple[Any, ...]], cut: int, names: st.DataObject
) -> None:
    rows = [_event_row(seq, g) for seq, g in enumerate(generated)]
    whole, lower, upper = ColumnCheck(), ColumnCheck(), ColumnCheck()
    whole.page([], rows)
    lower.page([], rows[:cut])
    upper.page([], rows[cut:])
    lower.extend(upper)
    assert sorted(lower.expected_directory(), key=repr) == sorted(
        whole.expected_directory(), key=repr
    )
    # The same stored directory (with names some event gave, or not) is judged the same.
    stored = [
        StoredEntry(
            e.kind,
            e.ref_id,
            names.draw(st.sampled_from([e.name, None, "one", "renamed"])),
            e.parent_id,
            e.last_seen,
        )
        for e in whole.expected_directory()
    ]
    whole.finish_directory(stored, complete=True)
    lower.finish_directory(stored, complete=True)
    assert lower.seqs("directory") == whole.seqs("directory")
    assert lower.events == whole.events


def test_an_edge_node_of_another_type_is_no_edge_to_start_from(
    services: Services, org: Organization, resumed: list[int]
) -> None:
    # Leaf 23's nodes hold the edge's second hash; SQLite keeps text there if told to.
    if services.db.is_postgres:
        pytest.skip("PostgreSQL's bytea column holds bytes only")
    with tampering(services) as connection:
        connection.execute(
            text("UPDATE leaves SET nodes = :n WHERE org_id = :o AND seq = 23"),
            {"n": "ab" * 48, "o": org.id},
        )
    one, two = _verify(services, org, 1), _verify(services, org, 2)
    assert not one.ok
    assert _said(two) == _said(one)
    assert resumed == []  # no split: this process checked it all


def test_a_second_process_that_fails_leaves_its_range_to_this_one(
    services: Services,
    org: Organization,
    resumed: list[int],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _alter_upper_event(services, org)
    one = _verify(services, org, 1)
    # The second process cannot open its database (its directory is a file): this one
    # checks the upper half itself.
    (tmp_path / "a-file").write_text("")
    unopenable = f"sqlite:///{tmp_path / 'a-file' / 'log.db'}"
    monkeypatch.setattr(SqlLogSource, "reopenable", lambda self: (unopenable, org.id))
    two = _verify(services, org, 2)
    assert _said(two) == _said(one)
    assert resumed == [24]


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def _silent_server(
    listener: socket.socket, connected: threading.Event, peer_closed: list[bool]
) -> None:
    # A PostgreSQL server that lets one client in and never answers its first query;
    # records whether the client went away (it was stopped) before this server gave up.
    listener.settimeout(30)
    connection, _ = listener.accept()
    connection.settimeout(30)
    try:
        (length,) = struct.unpack("!I", connection.recv(4))
        connection.recv(length - 4)  # the startup message
        parameters = {"server_version": "16.0", "client_encoding": "UTF8"}
        parameters |= {"standard_conforming_strings": "on", "integer_datetimes": "on"}
        connection.sendall(
            _message(b"R", struct.pack("!I", 0))
            + b"".join(_message(b"S", f"{k}\0{v}\0".encode()) for k, v in parameters.items())
            + _message(b"K", struct.pack("!II", 1, 2))
            + _message(b"Z", b"I")
        )
        connected.set()
        while connection.recv(4096):
            pass
        peer_closed.append(True)
    except ConnectionResetError:
        peer_closed.append(True)  # a killed process's socket may be reset rather than closed
    except TimeoutError:
        peer_closed.append(False)
    finally:
        connection.close()


def test_a_second_process_still_checking_is_stopped_when_this_one_is_done_with_it() -> None:
    # This process failed (or was interrupted) while the other still checks its range: the
    # other must be stopped, not waited for to the end of its range.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connected, peer_closed = threading.Event(), []
    server = threading.Thread(target=_silent_server, args=(listener, connected, peer_closed))
    server.start()
    job = split.RangeJob(
        f"postgresql+psycopg://postgres@127.0.0.1:{port}/silent?sslmode=disable&gssencmode=disable",
        1,
        "o",
        10,
        frozenset(),
        0,
        10,
        5,
        (),
    )
    second = split.SecondProcess(
        ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")), job
    )
    try:
        assert connected.wait(60)  # the other process is in, and will wait for ever
        second.close()
    finally:
        server.join()
        listener.close()
    assert peer_closed == [True]


def test_no_second_process_to_be_had_leaves_the_whole_log_to_this_one(
    services: Services, org: Organization, resumed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _alter_upper_event(services, org)
    one = _verify(services, org, 1)

    def no_process(self: ProcessPoolExecutor, *args: Any, **kwargs: Any) -> Any:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(ProcessPoolExecutor, "submit", no_process)
    two = _verify(services, org, 2)
    assert _said(two) == _said(one)
    assert resumed == []


def test_a_second_process_whose_parent_is_gone_stops_at_the_next_page(
    services: Services, org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Killed outright, the process that asked cannot stop the other: the other sees that it
    # was adopted (its parent process id changed) and stops instead of keeping its snapshot.
    with open_source(services.db, org.id) as source:
        edge = split.stored_edge(source, 24)
    assert edge is not None
    job = split.RangeJob(
        services.settings.database_url,
        org.id,
        org.slug,
        EVENTS,
        frozenset(),
        24,
        EVENTS,
        PAGE,
        edge,
    )
    assert split.check_range(job).reached == EVENTS  # the parent is here: the whole range
    parents = iter([4242])  # the parent at the start; then (adopted) another
    monkeypatch.setattr(split.os, "getppid", lambda: next(parents, 1))
    assert split.check_range(job).reached == 24
