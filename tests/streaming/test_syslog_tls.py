"""Syslog over TLS against Debian's rsyslog with its GnuTLS driver (``rsyslog-gnutls``), with a
throwaway CA made by the test: the server is verified, a client certificate is sent when set,
and a server the destination does not trust receives nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from auditledger.core.errors import InvalidInput
from auditledger.services import Services
from auditledger.streaming import transports
from auditledger.streaming.model import State
from auditledger.streaming.verify import StreamVerifier
from auditledger_client.core.event import Actor
from tests.support.helpers import OrgAccess
from tests.support.receivers import RSYSLOG, Rsyslog
from tests.support.streams import drain, record
from tests.support.tls import make_pki
from tests.support.waiting import wait_until

ADMIN = Actor("user", "auditledger-user:root", "Root")
GTLS = Path("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so")


@pytest.fixture(autouse=True)
def _rsyslog_with_tls() -> None:
    found = Path(RSYSLOG).exists() and (
        GTLS.exists() or any(Path("/usr/lib").rglob("lmnsd_gtls.so"))
    )
    if not found:
        message = "rsyslogd with its GnuTLS driver (Debian: rsyslog-gnutls)"
        if os.environ.get("AUDITLEDGER_REQUIRE_RSYSLOG") == "1":
            pytest.fail(f"{message} not installed (AUDITLEDGER_REQUIRE_RSYSLOG=1)")
        pytest.skip(f"{message} not installed")


def _tls_destination(services: Services, acme: OrgAccess, port: int, **settings: object) -> None:
    secrets = settings.pop("secrets", {})
    services.destinations.create(
        acme.org,
        name="rsyslog-tls",
        transport="syslog",
        settings={"host": "127.0.0.1", "port": port, "tls": True, **settings},
        secrets=secrets,  # type: ignore[arg-type]
        start_seq=0,
        actor=ADMIN,
    )


def _payloads(lines: list[str]) -> list[dict[str, object]]:
    return [json.loads(line[line.index("] ") + 2 :]) for line in lines]


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_batches_arrive_over_tls_and_verify(
    stream_services: Services, acme: OrgAccess, tmp_path: Path, engine_kind: str
) -> None:
    pki = make_pki(tmp_path / "pki")
    with Rsyslog(tmp_path, tls=pki) as rsyslog:
        _tls_destination(stream_services, acme, rsyslog.port, tls_ca=pki.ca.cert_pem)
        record(stream_services, acme.org, 30)
        drain(stream_services.make_deliverer())
        wait_until(lambda: len(rsyslog.lines()) >= 32, "rsyslog to write every message")
        lines = rsyslog.lines()
    # 31 events (30 and the destination's creation) in one batch: a header and 31 events.
    assert len(lines) == 32
    assert all(line.startswith("<110>1 ") for line in lines)
    payloads = _payloads(lines)
    header, records = payloads[0], payloads[1:]
    assert [r["seq"] for r in records] == list(range(31))
    batch = {**header, "events": records}
    batch.pop("event_count")
    verifier = StreamVerifier([stream_services.checkpoints.signing_key().verifier])
    assert verifier.feed(batch) == []
    destination = stream_services.destinations.get(acme.org, "rsyslog-tls")
    assert destination.delivered == 31


@pytest.mark.slow
@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_a_server_that_requires_a_client_certificate_gets_one(
    stream_services: Services,
    acme: OrgAccess,
    tmp_path: Path,
    engine_kind: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Under TLS 1.3 rsyslog checks the client certificate after the handshake and refuses by
    # closing; the sender waits TLS_SETTLE_SECONDS for that close. On a machine at full load
    # rsyslog can take longer than the product's half second to close, so the test gives it
    # ample time: what is tested is that a refusal, once seen, fails the delivery.
    monkeypatch.setattr(transports, "TLS_SETTLE_SECONDS", 5.0)
    pki = make_pki(tmp_path / "pki")
    with Rsyslog(tmp_path, tls=pki, require_client_cert=True) as rsyslog:
        _tls_destination(stream_services, acme, rsyslog.port, tls_ca=pki.ca.cert_pem)
        record(stream_services, acme.org, 5)
        deliverer = stream_services.make_deliverer()
        drain(deliverer)
        svc = stream_services.destinations
        refused = svc.get(acme.org, "rsyslog-tls")
        assert (refused.delivered, refused.failed) == (0, 1)  # no certificate: refused
        svc.change(
            acme.org,
            refused,
            settings={**refused.settings, "tls_client_cert": pki.client.cert_pem},
            secrets={"tls_client_key": pki.client.key_pem},
            actor=ADMIN,
        )
        svc.repo.change(refused.id, next_attempt_at=None)  # skip the backoff wait
        drain(deliverer)
        wait_until(lambda: len(rsyslog.lines()) >= 8, "rsyslog to write every message")
        lines = rsyslog.lines()
    # The 5 events, the creation and the change: 7 events after one header.
    assert [r["seq"] for r in _payloads(lines)[1:]] == list(range(7))
    destination = svc.get(acme.org, "rsyslog-tls")
    assert destination.delivered == 7
    assert pki.client.key_pem not in json.dumps(destination.settings)


@pytest.mark.slow
@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_an_untrusted_server_receives_nothing(
    stream_services: Services, acme: OrgAccess, tmp_path: Path, engine_kind: str
) -> None:
    pki = make_pki(tmp_path / "pki")
    stranger = make_pki(tmp_path / "other", name="other")
    with Rsyslog(tmp_path, tls=pki) as rsyslog:
        # The destination trusts another CA than the one that signed rsyslog's certificate.
        _tls_destination(stream_services, acme, rsyslog.port, tls_ca=stranger.ca.cert_pem)
        record(stream_services, acme.org, 5)
        drain(stream_services.make_deliverer())
        lines = rsyslog.lines()
    assert lines == []
    destination = stream_services.destinations.get(acme.org, "rsyslog-tls")
    assert destination.delivered == 0
    assert destination.failed == 1
    assert destination.state is State.ACTIVE  # retried later, with backoff
    assert destination.last_error is not None
    assert "certificate verify failed" in destination.last_error or "certificate" in (
        destination.last_error
    )


@pytest.mark.parametrize(
    ("given", "secrets", "field"),
    [
        ({"tls": True, "tls_ca": "junk"}, {}, "settings.tls_ca"),
        ({"tls_ca": "junk"}, {}, "settings.tls_ca"),  # TLS settings without tls
        ({"tls": True, "tls_client_cert": "PEM"}, {}, "settings.tls_client_cert"),
        ({"tls": "yes"}, {}, "settings.tls"),
    ],
)
def test_bad_tls_settings_are_refused_naming_the_field(
    stream_services: Services,
    acme: OrgAccess,
    given: dict[str, object],
    secrets: dict[str, str],
    field: str,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        stream_services.destinations.create(
            acme.org,
            name="bad",
            transport="syslog",
            settings={"host": "127.0.0.1", "port": 6514, **given},
            secrets=secrets,
            actor=ADMIN,
        )
    assert field in [p.field for p in refused.value.problems]


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_the_cli_reads_pem_files_and_never_shows_a_secret(
    database_url: str, stream_services: Services, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from auditledger.cli.main import app

    pki = make_pki(tmp_path / "pki")
    stream_services.tenancy.create_org("acme", "Acme")
    runner = CliRunner(env={"COLUMNS": "250", "AUDITLEDGER_STREAM_ALLOWED_NETWORKS": "127.0.0.0/8"})
    db = ["--database-url", database_url]
    added = runner.invoke(
        app,
        [
            "destinations", "add", "acme", "siem", "--transport", "syslog",
            "--setting", "host=127.0.0.1", "--setting", "port=6514", "--setting", "tls=true",
            "--setting", f"tls_ca=@{pki.ca.cert_file}",
            "--setting", f"tls_client_cert=@{pki.client.cert_file}",
            "--secret", f"tls_client_key=@{pki.client.key_file}", *db,
        ],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    org = stream_services.tenancy.org("acme")
    stored = stream_services.destinations.get(org, "siem")
    assert stored.settings["tls"] is True
    assert stored.settings["tls_ca"] == pki.ca.cert_pem
    assert stored.secrets == {"tls_client_key": pki.client.key_pem}
    listed = runner.invoke(app, ["destinations", "list", "acme", *db])
    assert listed.exit_code == 0, listed.output
    assert "tls_client_key=(set)" in listed.output
    key_body = pki.client.key_pem.splitlines()[1]
    assert key_body not in listed.output
    missing = runner.invoke(
        app,
        ["destinations", "add", "acme", "x", "--transport", "syslog", "--setting", "host=127.0.0.1",
         "--setting", "port=1", "--setting", "tls=true", "--setting", "tls_ca=@/no/such/file", *db],
    )  # fmt: skip
    assert missing.exit_code == 1
    assert "--setting" in missing.output


@pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)
def test_turning_tls_off_drops_the_stored_client_key(
    stream_services: Services, acme: OrgAccess, tmp_path: Path
) -> None:
    """The client key is a write-only secret kept across changes; a change that turns TLS off
    no longer uses it, so it is dropped (and the change recorded) instead of refused."""
    pki = make_pki(tmp_path / "pki")
    svc = stream_services.destinations
    tls = {
        "host": "127.0.0.1",
        "port": 6514,
        "tls": True,
        "tls_ca": pki.ca.cert_pem,
        "tls_client_cert": pki.client.cert_pem,
    }
    created = svc.create(
        acme.org,
        name="tls-then-plain",
        transport="syslog",
        settings=tls,
        secrets={"tls_client_key": pki.client.key_pem},
        actor=ADMIN,
    )
    assert "tls_client_key" in created.secrets
    plain = svc.change(acme.org, created, settings={"host": "127.0.0.1", "port": 6514}, actor=ADMIN)
    assert not plain.settings.get("tls")
    assert "tls_client_key" not in plain.secrets
    size = stream_services.log.head(acme.org.id).tree_size
    own = stream_services.log.events(acme.org.id, "acme", 0, size)
    changes = [e for e in own if e.type == "destination_change"]
    assert changes[-1].properties["changed"] == ["secrets.tls_client_key", "settings"]
