"""The client is a product of its own: installing it pulls in nothing of the server."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import venv
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"
SERVER_ONLY = {"fastapi", "uvicorn", "alembic", "psycopg", "psycopg-binary", "jinja2", "starlette"}


def _closure(requirements: list[str], extras: frozenset[str] = frozenset()) -> set[str]:
    """Every distribution ``requirements`` need, resolved through installed metadata."""
    seen: set[str] = set()
    todo = [(Requirement(r), extras) for r in requirements]
    while todo:
        req, wanted = todo.pop()
        # A requirement guarded by `extra == "x"` counts only when that extra was asked for.
        if req.marker is not None and not any(
            req.marker.evaluate({"extra": e}) for e in wanted | {""}
        ):
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        dist = metadata.distribution(name)
        for sub in dist.requires or []:
            todo.append((Requirement(sub), frozenset(req.extras)))
    return seen


def _declared() -> tuple[list[str], dict[str, list[str]]]:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["dependencies"], project["optional-dependencies"]


@pytest.mark.parametrize("extra", ["", "outbox"])
def test_the_client_dependency_tree_holds_no_server_package(extra: str) -> None:
    base, optional = _declared()
    needed = _closure(base + (optional[extra] if extra else []))
    assert needed & SERVER_ONLY == set()
    assert "auditledger" not in needed
    assert {"pydantic", "httpx2"} <= needed


def test_the_server_depends_on_the_client() -> None:
    requires = metadata.distribution("auditledger").requires or []
    assert any(canonicalize_name(Requirement(r).name) == "auditledger-client" for r in requires)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_fresh_venv_installs_the_client_without_the_server(tmp_path: Path) -> None:
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(CLIENT)],
        check=True,
        capture_output=True,
        timeout=280,
    )
    probe = (
        "import json, sys\n"
        "from importlib import metadata\n"
        "import auditledger_client\n"
        "from auditledger_client.events import ModelRename\n"
        "names = sorted(d.metadata['Name'].lower() for d in metadata.distributions())\n"
        "print(json.dumps({'names': names, 'modules': sorted(sys.modules)}))\n"
    )
    out = subprocess.run(
        [python, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    )
    found = json.loads(out.stdout)
    installed = {canonicalize_name(n) for n in found["names"]}
    assert installed & SERVER_ONLY == set()
    assert "auditledger" not in installed
    assert "auditledger-client" in installed
    assert not any(m.split(".")[0] == "auditledger" for m in found["modules"])
    assert sys.executable != str(python)
