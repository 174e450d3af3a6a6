"""Two deployments witness each other (issue 15): each runs ``auditledger serve`` and an
``auditledger witness`` that follows the other's log, all four as real processes on
127.0.0.1. Each log's served checkpoint carries the other operator's cosignature, ``verify``
requiring that witness passes against the served checkpoint, and a witness refuses a
checkpoint that is not consistent with the one it cosigned."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx2 as httpx
import pytest
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.core.add_checkpoint import request_body
from auditledger.core.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from auditledger.core.cosignature import check_cosignatures, parse_witness_vkey
from auditledger.core.keys import read_key_file
from auditledger.core.note import parse_note
from auditledger.services import Services, build_services
from auditledger.settings import Settings
from tests.support.helpers import OrgAccess, make_org
from tests.support.integrity import ingest_many
from tests.support.servers import ServerProcess, free_port
from tests.support.waiting import wait_until
from tests.support.witnesses import WitnessProcess, witness_config

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)]


@dataclass
class Deployment:
    """One operator's log: its services (for setting up), origin, org and key file."""

    name: str
    services: Services
    access: OrgAccess
    workdir: Path

    @property
    def origin(self) -> str:
        return self.services.checkpoints.origin(self.access.org.slug)

    @property
    def vkey(self) -> str:
        return self.services.checkpoints.signing_key().verifier.vkey()

    @property
    def env(self) -> dict[str, str]:
        return {
            "AUDITLEDGER_LOG_ORIGIN": self.services.settings.log_origin,
            "AUDITLEDGER_SIGNING_KEY_FILE": str(self.services.settings.signing_key_file),
        }


def deployment(name: str, settings: Settings, services: Services | None = None) -> Deployment:
    """A deployment with a signing key and an organization holding five events."""
    if services is None:
        services = build_services(settings)
        services.db.migrate()
        services.start()
    services.checkpoints.ensure_key()
    access = make_org(services, name)
    ingest_many(services, access.org, 5)
    return Deployment(name, services, access, settings.signing_key_file.parent)


def witness_of(log: Deployment, directory: Path, name: str) -> WitnessProcess:
    """The other operator's witness, following ``log``."""
    port = free_port()
    return WitnessProcess(witness_config(directory, name, [(log.origin, log.vkey)], port), port)


def served(server: ServerProcess, log: Deployment) -> str:
    access = log.access
    response = httpx.get(
        f"{server.url}/api/v1/orgs/{log.name}/checkpoint",
        headers=access.headers(access.member),
        timeout=30,
    )
    return response.text if response.status_code == 200 else ""


def cosigned_by(note: str, witness: WitnessProcess) -> bool:
    if not note:
        return False
    parsed = parse_note(note)
    check = check_cosignatures(parsed.text, parsed.signatures, [parse_witness_vkey(witness.vkey)])
    return not check.invalid and len(check.names()) == 1


def served_cosigned(server: ServerProcess, log: Deployment, witness: WitnessProcess) -> bool:
    return cosigned_by(served(server, log), witness)


def verify_against(log: Deployment, saved: Path, witness: WitnessProcess) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app,
        [
            "verify",
            "--org",
            log.name,
            "-d",
            log.services.settings.database_url,
            "--public-key",
            log.vkey,
            "--against",
            str(saved),
            "--witness",
            witness.vkey,
            "--witnesses-required",
            "1",
        ],
        env=log.env,
    )
    return result.exit_code, result.output


def test_two_deployments_witness_each_other(
    services: Services, settings: Settings, tmp_path: Path
) -> None:
    a = deployment("acme", settings, services)
    b_dir = tmp_path / "b"
    b_dir.mkdir()
    b = deployment(
        "globex",
        settings.replace(
            database_url=f"sqlite:///{b_dir / 'b.db'}",
            signing_key_file=b_dir / "signing.key",
            log_origin="b.example",
        ),
    )
    processes: list[WitnessProcess | ServerProcess] = []
    try:
        # A's operator witnesses B's log, and B's operator A's.
        witness_a = witness_of(b, tmp_path / "witness-a", "a.example/witness").start()
        processes.append(witness_a)
        witness_b = witness_of(a, tmp_path / "witness-b", "b.example/witness").start()
        processes.append(witness_b)
        servers = {}
        for log, witness in ((a, witness_b), (b, witness_a)):
            env = {
                **log.env,
                "AUDITLEDGER_WITNESSES": f"{witness.url} {witness.vkey}",
                "AUDITLEDGER_CHECKPOINT_INTERVAL": "1",
            }
            server = ServerProcess(log.services.settings.database_url, log.workdir, env=env)
            processes.append(server.start())
            servers[log.name] = server

        for log, witness in ((a, witness_b), (b, witness_a)):
            server = servers[log.name]
            wait_until(
                partial(served_cosigned, server, log, witness),
                f"{witness.vkey.split('+')[0]}'s cosignature of {log.name}'s checkpoint",
            )
            note = served(server, log)
            # The log's key alone still opens it; the other operator's line is a cosignature.
            verifier = log.services.checkpoints.signing_key().verifier
            assert open_checkpoint(note, [verifier], origin=log.origin).tree_size == 5
            saved = tmp_path / f"{log.name}-served.txt"
            saved.write_text(note, encoding="utf-8")
            code, output = verify_against(log, saved, witness)
            assert code == 0, output

        # A grows: B's witness cosigns the new size, from a consistency proof.
        ingest_many(a.services, a.access.org, 3)
        wait_until(
            lambda: (
                served(servers["acme"], a).split("\n")[1] == "8"
                and cosigned_by(served(servers["acme"], a), witness_b)
            ),
            "B's witness's cosignature of acme's checkpoint 8",
        )

        # A's key signs a checkpoint that rewrites A's history (another root at a larger
        # size, with no proof from the 8 the witness cosigned): B's witness refuses it.
        key = read_key_file(a.services.settings.signing_key_file, a.services.settings.log_origin)
        forged = sign_checkpoint(Checkpoint(a.origin, 11, hashlib.sha256(b"fork").digest()), key)
        answer = witness_b.add_checkpoint(request_body(8, [hashlib.sha256(b"x").digest()], forged))
        assert answer.status_code == 422, answer.text
        assert "rewrote its history" in answer.text
        # And another root at the size it cosigned is a fork: refused too.
        fork = sign_checkpoint(Checkpoint(a.origin, 8, hashlib.sha256(b"fork").digest()), key)
        answer = witness_b.add_checkpoint(request_body(8, [], fork))
        assert (answer.status_code, answer.text) == (409, "8\n")  # the size it holds
        assert "the log forked" in witness_b.log_path.read_text()
        # B's witness does not follow B's own log.
        own = served(servers["globex"], b)
        assert witness_b.add_checkpoint(request_body(0, [], own)).status_code == 404
    finally:
        for process in reversed(processes):
            process.stop()
        b.services.stop()
