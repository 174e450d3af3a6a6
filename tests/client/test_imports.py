"""A platform can import the client without any server code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SERVER_PACKAGES = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg")


def loaded_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(out.stdout))


@pytest.mark.slow
def test_importing_the_client_loads_no_server_code() -> None:
    modules = loaded_after("import auditledger_client")
    assert {m for m in modules if m.split(".")[0] in SERVER_PACKAGES} == set()
    ours = {m for m in modules if m.startswith("auditledger.")}
    assert not any(m.startswith(("auditledger.web", "auditledger.store")) for m in ours)


@pytest.mark.slow
def test_the_outbox_brings_sqlalchemy_only_when_used() -> None:
    modules = loaded_after("from auditledger_client import Outbox")
    assert "sqlalchemy" in modules
    assert not any(m.split(".")[0] in ("fastapi", "uvicorn") for m in modules)
