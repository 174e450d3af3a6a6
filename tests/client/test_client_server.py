"""The client, the relay CLI and a real ``auditledger serve`` subprocess: the service stops
mid-stream, is down at start, or the client process is killed; every event arrives exactly
once and in the order it was recorded."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine

from auditledger.services import Services, build_services
from auditledger.settings import load_settings
from auditledger_client import AuditClient, FlushTimeout, Outbox, Ref
from auditledger_client.backoff import Backoff
from auditledger_client.events import ModelArchive
from tests.support.client import ADA, stored_ids
from tests.support.helpers import OrgAccess, make_org
from tests.support.servers import ServerProcess, free_port
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def audit_db(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[str, Services, OrgAccess]]:
    """A migrated SQLite database with an organization, for a server subprocess to serve."""
    path = tmp_path / "auditledger.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    settings = load_settings(environ={}, database_url=url, signing_key_file=tmp_path / "k.key")
    services = build_services(settings)
    access = make_org(services, "acme")
    yield url, services, access
    services.stop()


def client_for(url: str, access: OrgAccess, spool: Path, **options: object) -> AuditClient:
    return AuditClient(
        url,
        access.ingest,
        org="acme",
        spool_path=spool,
        backoff=Backoff(base=0.05, cap=0.5),
        timeout=5,
        **options,  # type: ignore[arg-type]
    )


def archive(client: AuditClient, n: int) -> uuid.UUID:
    return client.record(ModelArchive(), subject=Ref(f"mdl-{n}", f"model {n}"), actor=ADA).id


@pytest.mark.parametrize("outage", ["stop", "kill"])
def test_service_stopped_mid_stream_then_restarted(
    outage: str, audit_db: tuple[str, Services, OrgAccess], tmp_path: Path
) -> None:
    url, services, access = audit_db
    server = ServerProcess(url, tmp_path).start()
    recorded: list[uuid.UUID] = []
    client = client_for(server.url, access, tmp_path / "spool.db", batch_size=25, linger=0.02)
    try:
        stop = threading.Event()

        def produce() -> None:
            n = 0
            while not stop.is_set() and n < 5000:
                recorded.append(archive(client, n))
                n += 1

        producer = threading.Thread(target=produce)
        producer.start()
        wait_until(lambda: len(recorded) >= 300, "300 events recorded")
        server.stop() if outage == "stop" else server.kill()
        during = len(recorded)
        # Recording goes on while the service is away.
        wait_until(lambda: len(recorded) >= during + 300, "recording during the outage")
        server.start()
        wait_until(lambda: len(recorded) >= during + 600, "recording after the restart")
        stop.set()
        producer.join(30)
        client.flush(60)
    finally:
        client.close(5)
        server.stop()
    stored = stored_ids(services, access)
    assert len(set(stored)) == len(stored)
    assert stored == recorded


def test_service_down_at_start_then_up(
    audit_db: tuple[str, Services, OrgAccess], tmp_path: Path
) -> None:
    url, services, access = audit_db
    server = ServerProcess(url, tmp_path)  # not started: nothing listens on its port yet
    with client_for(server.url, access, tmp_path / "spool.db") as client:
        recorded = [archive(client, n) for n in range(200)]
        with pytest.raises(FlushTimeout):
            client.flush(0.5)
        assert client.pending == 200
        assert client.last_error is not None
        with server:
            client.flush(60)
    assert stored_ids(services, access) == recorded


CHILD = textwrap.dedent(
    """
    import sys, uuid
    from auditledger_client import Actor, AuditClient, Ref
    from auditledger_client.events import ModelArchive

    server, token, spool = sys.argv[1:4]
    # Batches of 100 with a long linger: at any moment up to 99 events wait in the spool.
    client = AuditClient(server, token, org="acme", spool_path=spool, batch_size=100, linger=3600)
    for n in range(100_000):
        client.record(
            ModelArchive(),
            subject=Ref(f"mdl-{n}"),
            actor=Actor("u-1", "Ada"),
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"event-{n}"),
        )
        print(n, flush=True)
    """
)


def test_client_killed_with_unsent_events_ships_them_once_after_restart(
    audit_db: tuple[str, Services, OrgAccess], tmp_path: Path
) -> None:
    url, services, access = audit_db
    spool = tmp_path / "spool.db"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    with ServerProcess(url, tmp_path) as server:
        child = subprocess.Popen(
            [sys.executable, str(script), server.url, access.ingest, str(spool)],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert child.stdout is not None
        last = -1
        while last < 350:
            line = child.stdout.readline()
            assert line, "the child client stopped early"
            last = int(line)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        # The child kept recording while we read: what it printed before dying counts too.
        for line in child.stdout.read().splitlines():
            last = int(line)
        child.stdout.close()
        shipped_before = len(stored_ids(services, access))
        with client_for(server.url, access, spool) as client:
            assert client.pending > 0  # events the killed process never sent
            client.flush(60)
    stored = stored_ids(services, access)
    assert shipped_before < len(stored)
    # Everything acknowledged to the child as recorded arrived, once, in order; the event it
    # was recording when killed may or may not have been committed to the spool.
    expected = [uuid.uuid5(uuid.NAMESPACE_URL, f"event-{n}") for n in range(len(stored))]
    assert stored == expected
    assert len(stored) in (last + 1, last + 2)


def test_relay_command_ships_the_outbox_and_stops_on_sigterm(
    audit_db: tuple[str, Services, OrgAccess], tmp_path: Path
) -> None:
    url, services, access = audit_db
    platform_url = f"sqlite:///{tmp_path / 'platform.db'}"
    engine = create_engine(platform_url)
    outbox = Outbox.define(MetaData(), org="acme")
    outbox.create(engine)
    with engine.begin() as conn:
        ids = [
            outbox.writer(conn).record(ModelArchive(), subject=Ref(f"m{n}"), actor=ADA)
            for n in range(5)
        ]
    env = {**os.environ, "AUDITLEDGER_TOKEN": access.ingest}
    command = [sys.executable, "-m", "auditledger", "relay", "--source-database", platform_url]
    with ServerProcess(url, tmp_path) as server:
        once = subprocess.run(
            [*command, "--server", server.url, "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert once.returncode == 0, once.stderr
        assert "relayed 5 new" in once.stdout
        assert stored_ids(services, access) == ids
        relay = subprocess.Popen(
            [*command, "--server", server.url, "--poll-interval", "0.1"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            with engine.begin() as conn:
                ids.append(
                    outbox.writer(conn).record(ModelArchive(), subject=Ref("later"), actor=ADA)
                )

            def relayed() -> bool:
                with engine.connect() as conn:
                    return outbox.pending(conn) == 0

            wait_until(relayed, "the relay to deliver the outbox", poll=0.05)
        finally:
            relay.send_signal(signal.SIGTERM)
            out, _ = relay.communicate(timeout=30)
        assert relay.returncode == 0
        assert "relayed 1 new" in out
    assert stored_ids(services, access) == ids
    down = subprocess.run(
        [*command, "--server", f"http://127.0.0.1:{free_port()}", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 0  # nothing pending: nothing to fail on
    with engine.begin() as conn:
        outbox.writer(conn).record(ModelArchive(), subject=Ref("stuck"), actor=ADA)
    down = subprocess.run(
        [*command, "--server", f"http://127.0.0.1:{free_port()}", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 1
    assert "events remain in the outbox" in down.stderr
    engine.dispose()
