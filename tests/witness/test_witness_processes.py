"""An ``auditledger serve`` and ``auditledger witness serve`` processes on 127.0.0.1: the log
collects cosignatures and serves them, ``verify`` requires N of M witnesses, a witness refuses
a forked copy of the log and a rollback, and keeps what it cosigned across a restart."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.core.add_checkpoint import SIZE_MEDIA_TYPE, request_body
from auditledger.core.checkpoint import open_checkpoint
from auditledger.core.cosignature import WitnessKey, check_cosignatures, parse_witness_vkey
from auditledger.core.note import parse_note
from auditledger.services import Services, build_services
from auditledger.store.engine import sqlite_path
from tests.support.helpers import OrgAccess, make_org, sample_event
from tests.support.integrity import ingest_many
from tests.support.servers import ServerProcess, free_port
from tests.support.waiting import wait_until
from tests.support.witnesses import WitnessProcess, witness_config

pytestmark = pytest.mark.slow
ORIGIN = "auditledger.local/acme"
REQUIRED = "--witnesses-required"


def start_witness(directory: Path, name: str, log_vkey: str) -> WitnessProcess:
    port = free_port()
    return WitnessProcess(witness_config(directory, name, [(ORIGIN, log_vkey)], port), port)


def cosigners(note: str, witnesses: list[WitnessKey]) -> set[str]:
    parsed = parse_note(note)
    check = check_cosignatures(parsed.text, parsed.signatures, witnesses)
    assert check.invalid == ()
    return {w.name for w in check.witnesses()}


def served(server: ServerProcess, acme: OrgAccess) -> str:
    response = httpx.get(
        f"{server.url}/api/v1/orgs/acme/checkpoint", headers=acme.headers(acme.member), timeout=30
    )
    return response.text if response.status_code == 200 else ""


def served_size(note: str) -> int:
    return int(note.split("\n")[1]) if note else 0


def verify_cli(database_url: str, key_file: Path, *args: str) -> tuple[int, str]:
    env = {"AUDITLEDGER_SIGNING_KEY_FILE": str(key_file), "COLUMNS": "400"}
    result = CliRunner().invoke(
        app, ["verify", "--org", "acme", "-d", database_url, *args], env=env
    )
    return result.exit_code, result.output


def test_cosignatures_are_collected_served_and_required(
    database_url: str, services: Services, tmp_path: Path
) -> None:
    services.checkpoints.ensure_key()
    log_vkey = services.checkpoints.signing_key().verifier.vkey()
    acme = make_org(services)
    ingest_many(services, acme.org, 5)
    w1 = start_witness(tmp_path / "w1", "w1.example/witness", log_vkey).start()
    w2 = start_witness(tmp_path / "w2", "w2.example/witness", log_vkey).start()
    keys = [parse_witness_vkey(w1.vkey), parse_witness_vkey(w2.vkey)]
    env = {
        "AUDITLEDGER_WITNESSES": f"{w1.url} {w1.vkey},{w2.url}/ {w2.vkey}",
        "AUDITLEDGER_WITNESSES_REQUIRED": "2",
        "AUDITLEDGER_CHECKPOINT_INTERVAL": "1",
    }
    server = ServerProcess(database_url, tmp_path, env=env).start()
    try:
        both = {"w1.example/witness", "w2.example/witness"}

        def cosigned(size: int, names: set[str]) -> bool:
            note = served(server, acme)
            return served_size(note) == size and cosigners(note, keys) == names

        wait_until(lambda: cosigned(5, both), "both witnesses' cosignatures of checkpoint 5")
        note = served(server, acme)
        # The log's key alone still opens the cosigned note: witness lines are ignored.
        assert open_checkpoint(note, [services.checkpoints.signing_key().verifier]).tree_size == 5
        listed = httpx.get(
            f"{server.url}/api/v1/orgs/acme/checkpoints",
            headers=acme.headers(acme.member),
            timeout=30,
        ).json()["checkpoints"][0]["note"]
        assert listed == note

        # Growth goes to the witnesses with a consistency proof from what each holds.
        ingest_many(services, acme.org, 4)
        wait_until(lambda: cosigned(9, both), "both cosignatures of checkpoint 9")

        # A witness down holds up nothing: events are accepted, checkpoints signed.
        w2.stop()
        for _ in range(3):
            response = httpx.post(
                f"{server.url}/api/v1/orgs/acme/events",
                json=sample_event(),
                headers=acme.headers(acme.ingest),
                timeout=30,
            )
            assert response.status_code in (200, 201, 202), response.text
        wait_until(lambda: cosigned(12, {"w1.example/witness"}), "w1's cosignature of 12")

        def metric(line: str) -> bool:
            text = httpx.get(f"{server.url}/metrics", timeout=30).text
            return any(row.startswith(line) for row in text.splitlines())

        wait_until(
            lambda: metric('auditledger_witness_failures_total{witness="w2.example/witness"}'),
            "the failure metric",
        )
        wait_until(lambda: metric("auditledger_witness_quorum_missing 1.0"), "the quorum gauge")

        key_file = tmp_path / "signing.key"
        witness_args = ["--public-key", log_vkey, "--witness", w1.vkey, "--witness", w2.vkey]
        code, output = verify_cli(
            database_url, key_file, *witness_args, "--witnesses-required", "2"
        )
        assert code == 1, output
        assert "checkpoint 12 has 1 valid cosignatures of the 2 required" in output
        assert "w2.example/witness" in output
        code, output = verify_cli(
            database_url, key_file, *witness_args, "--witnesses-required", "1"
        )
        assert code == 0, output
        code, output = verify_cli(database_url, key_file, "--public-key", log_vkey)
        assert code == 0, output  # without a witness policy, cosignatures are not required

        # Restarted (first on a port the log does not know, so only we talk to it), the
        # witness remembers size 9: a submission from 0 is told so.
        port, w2.port = w2.port, free_port()
        w2.start()
        note12 = parse_note(served(server, acme))
        log_note = note12.text + "\n" + note12.signatures[0].line()
        answer = w2.add_checkpoint(request_body(0, [], log_note))
        assert answer.status_code == 409
        assert answer.headers["content-type"].startswith(SIZE_MEDIA_TYPE)
        assert answer.text == "9\n"
        w2.stop()
        w2.port = port
        w2.start()
        wait_until(lambda: cosigned(12, both), "the restarted witness's cosignature of 12")
        code, output = verify_cli(
            database_url, key_file, *witness_args, "--witnesses-required", "2"
        )
        assert code == 0, output
    finally:
        server.stop()
        w1.stop()
        w2.stop()


def _checkpoint_cli(database_url: str, tmp_path: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "auditledger", "checkpoint", "--org", "acme", "-d", database_url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AUDITLEDGER_SIGNING_KEY_FILE": str(tmp_path / "signing.key"), **env},
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_a_witness_refuses_a_forked_copy_and_a_rollback(
    database_url: str, services: Services, tmp_path: Path
) -> None:
    services.checkpoints.ensure_key()
    log_vkey = services.checkpoints.signing_key().verifier.vkey()
    acme = make_org(services)
    ingest_many(services, acme.org, 5)
    with start_witness(tmp_path / "w1", "w1.example/witness", log_vkey) as w1:
        keys = [parse_witness_vkey(w1.vkey)]
        env = {"AUDITLEDGER_WITNESSES": f"{w1.url} {w1.vkey}"}
        first = _checkpoint_cli(database_url, tmp_path, env)
        assert served_size(first) == 5
        assert cosigners(first, keys) == {"w1.example/witness"}

        # Someone takes a copy of the database (and the key) now ...
        copy = tmp_path / "copy.db"
        with sqlite3.connect(sqlite_path(database_url)) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        # ... while the genuine log grows and is cosigned at 15.
        ingest_many(services, acme.org, 10)
        genuine = _checkpoint_cli(database_url, tmp_path, env)
        assert cosigners(genuine, keys) == {"w1.example/witness"}

        # The copy gets other events after seq 5 and signs 25 with the same key; the witness
        # holds 15 of the genuine log, and no proof from it leads to the copy's tree.
        copy_url = f"sqlite:///{copy}"
        copy_settings = services.settings.replace(
            database_url=copy_url, checkpoint_witness_dir=tmp_path / "copy-witness-copy"
        )
        forger = build_services(copy_settings)
        forger.start()
        try:
            ingest_many(forger, forger.tenancy.org("acme"), 20)
        finally:
            forger.stop()
        copy_env = {**env, "AUDITLEDGER_CHECKPOINT_WITNESS_DIR": str(tmp_path / "copy-wc")}
        forked = _checkpoint_cli(copy_url, tmp_path, copy_env)
        assert served_size(forked) == 25
        assert cosigners(forked, keys) == set()
        assert "rewrote its history" in w1.log_path.read_text()

        # A rollback to the first checkpoint is refused both ways the protocol allows.
        answer = w1.add_checkpoint(request_body(15, [], first))
        assert answer.status_code == 400
        answer = w1.add_checkpoint(request_body(0, [], first))
        assert (answer.status_code, answer.text) == (409, "15\n")
        # What it holds is still the genuine 15: the same checkpoint is cosigned again.
        parsed = parse_note(genuine)
        log_note = parsed.text + "\n" + parsed.signatures[0].line()
        assert w1.add_checkpoint(request_body(15, [], log_note)).status_code == 200
