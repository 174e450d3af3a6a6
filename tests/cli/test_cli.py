"""The command line: every command has help; tenancy management works end to end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditledger.cli.main import app
from auditledger.services import build_services
from auditledger.settings import load_settings

runner = CliRunner()


def commands() -> list[tuple[str, ...]]:
    """Every command path, e.g. ("credentials", "create")."""
    import typer.main

    group = typer.main.get_command(app)
    found: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(group, ())
    return found


@pytest.mark.parametrize("path", commands(), ids=lambda p: " ".join(p) or "auditledger")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.slow
def test_tenancy_end_to_end(database_url: str, tmp_path: Path) -> None:
    db = ["--database-url", database_url]
    assert runner.invoke(app, ["init", *db]).exit_code == 0
    result = runner.invoke(app, ["orgs", "create", "acme", "--name", "Acme Corp", *db])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["orgs", "create", "acme", *db])
    assert again.exit_code == 1
    assert "already exists" in again.output
    bad = runner.invoke(app, ["orgs", "create", "Not A Slug", *db])
    assert bad.exit_code == 1
    assert "lowercase" in bad.output

    created = runner.invoke(
        app,
        [
            "users",
            "create",
            "ada@acme.example",
            "--generate",
            "--org",
            "acme",
            "--role",
            "admin",
            *db,
        ],
    )
    assert created.exit_code == 0, created.output
    password = re.search(r"password: (\S+)", created.output)
    assert password is not None

    issued = runner.invoke(
        app,
        [
            "credentials",
            "create",
            "--kind",
            "read",
            "--org",
            "acme",
            "--role",
            "member",
            "--name",
            "script",
            *db,
        ],
    )
    assert issued.exit_code == 0, issued.output
    token = re.search(r"(al_read_\S+)", issued.output)
    assert token is not None
    no_role = runner.invoke(
        app, ["credentials", "create", "--kind", "read", "--org", "acme", "--name", "x", *db]
    )
    assert no_role.exit_code == 1

    services = build_services(load_settings(environ={}, database_url=database_url))
    try:
        principal = services.tenancy.authenticate_token(token.group(1))
        assert principal.kind == "read"
        assert services.tenancy.sign_in("ada@acme.example", password.group(1)).user.username == (
            "ada@acme.example"
        )
        public_id = token.group(1).split("_")[2]
        listing = runner.invoke(app, ["credentials", "list", *db])
        assert public_id in listing.output
        assert token.group(1) not in listing.output  # secrets are never shown again
        assert runner.invoke(app, ["credentials", "revoke", public_id, *db]).exit_code == 0
        assert "revoked" in runner.invoke(app, ["credentials", "list", *db]).output
    finally:
        services.stop()

    users = runner.invoke(app, ["users", "list", "--org", "acme", *db])
    assert "ada@acme.example" in users.output
    assert "admin" in users.output
    orgs = runner.invoke(app, ["orgs", "list", *db])
    assert "acme" in orgs.output


def test_bad_configuration_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITLEDGER_PORT", "eighty")
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 1
    assert "AUDITLEDGER_PORT" in result.output
