"""The client configured from environment variables, each documented."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from auditledger_client import AsyncAuditClient, AuditClient, ConfigurationError
from auditledger_client.config import CLIENT_SETTINGS, options_from_env
from tests.support.client import Stub, unreachable

DOCS = Path(__file__).resolve().parents[2] / "docs" / "integration.md"
BASE = {
    "AUDITLEDGER_SERVER": "http://audit.test",
    "AUDITLEDGER_TOKEN": "al_ingest_x",
    "AUDITLEDGER_SPOOL_PATH": "memory",
}


def test_a_client_from_the_environment(tmp_path: Path) -> None:
    environ = {
        **BASE,
        "AUDITLEDGER_SPOOL_PATH": str(tmp_path / "spool.db"),
        "AUDITLEDGER_ORG": "acme",
        "AUDITLEDGER_ACK_TIMEOUT": "2.5",
        "AUDITLEDGER_BATCH_SIZE": "50",
    }
    with AuditClient.from_env(environ, transport=Stub(unreachable)) as client:
        core = client._core
        assert (core.org, core.ack_timeout, core.sender.batch_size) == ("acme", 2.5, 50)
        assert core.spool.path == tmp_path / "spool.db"


def test_the_async_client_from_the_environment_is_one_alike() -> None:
    environ = {**BASE, "AUDITLEDGER_ORG": "acme", "AUDITLEDGER_BATCH_SIZE": "50"}
    client = AsyncAuditClient.from_env(environ, transport=Stub(unreachable))
    try:
        assert type(client) is AsyncAuditClient
        assert (client._core.org, client._core.sender.batch_size) == ("acme", 50)
        assert (client.pending, client.last_error, client.dead_letters()) == (0, None, [])
    finally:
        asyncio.run(client.aclose(0.1))


def test_arguments_win_over_the_environment() -> None:
    options = options_from_env({**BASE, "AUDITLEDGER_ORG": "acme"}, org="other")
    assert options["org"] == "other"
    assert options["spool_path"] is None  # "memory"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({k: v for k, v in BASE.items() if k != "AUDITLEDGER_TOKEN"}, "AUDITLEDGER_TOKEN"),
        ({**BASE, "AUDITLEDGER_ACK_TIMEOUT": "soon"}, "AUDITLEDGER_ACK_TIMEOUT"),
        ({**BASE, "AUDITLEDGER_BATCH_SIZE": "-1"}, "AUDITLEDGER_BATCH_SIZE"),
        ({**BASE, "AUDITLEDGER_SPOOL_DURABILITY": "maybe"}, "AUDITLEDGER_SPOOL_DURABILITY"),
        ({**BASE, "AUDITLEDGER_CATALOG_EXTENSIONS": "/nonexistent.toml"}, "AUDITLEDGER_CATALOG"),
    ],
)
def test_a_missing_or_unusable_variable_is_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        options_from_env(environ)


def test_the_docs_list_every_setting() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for setting in CLIENT_SETTINGS:
        assert f"| `{setting.name}` | `{setting.env}` |" in text, setting.env


def test_a_client_given_the_extended_catalog_accepts_its_types() -> None:
    from auditledger_client import Actor, CustomEvent, InvalidEvent, Ref

    mlflow = DOCS.parents[1] / "plugins" / "mlflow" / "src" / "auditledger_mlflow" / "catalog.toml"
    rename = CustomEvent("experiment", "rename", {"old_name": "a", "new_name": "b"})
    context = {"subject": Ref("exp-1", "b"), "actor": Actor("u-1", "Ada"), "org": "acme"}
    seed_only = AuditClient.from_env(BASE, transport=Stub(unreachable))
    with pytest.raises(InvalidEvent, match="not valid"):
        seed_only.record(rename, **context)  # type: ignore[arg-type]
    seed_only.close(0.1)
    environ = {**BASE, "AUDITLEDGER_CATALOG_EXTENSIONS": str(mlflow)}
    client = AuditClient.from_env(environ, transport=Stub(unreachable))
    assert client.record(rename, **context).status == "queued"  # type: ignore[arg-type]
    with pytest.raises(InvalidEvent) as wrong:
        client.record(CustomEvent("experiment", "rename", {"old_name": "a"}), **context)  # type: ignore[arg-type]
    assert wrong.value.problems[0].field == "properties.new_name"
    client._core.spool.withdraw(client._core.spool.head(1, 100_000)[0].id)
    client.close(0.1)


def test_the_clients_options_are_declared_once_and_cover_every_setting() -> None:
    import dataclasses
    import inspect

    from auditledger_client import AsyncAuditClient
    from auditledger_client.options import ClientOptions, ResolvedOptions

    declared = set(ClientOptions.__annotations__)
    assert declared == {f.name for f in dataclasses.fields(ResolvedOptions)}
    positional = {"server", "token", "spool_path"}
    assert {s.name for s in CLIENT_SETTINGS} - positional <= declared
    for cls in (AuditClient, AsyncAuditClient):
        params = inspect.signature(cls.__init__).parameters
        assert set(params) == {"self", *positional, "options"}, cls.__name__


def test_an_unknown_option_is_named() -> None:
    with pytest.raises(TypeError, match="linger_s"):
        AuditClient("http://127.0.0.1:9", "t", spool_path=None, linger_s=1.0)  # type: ignore[call-arg]
