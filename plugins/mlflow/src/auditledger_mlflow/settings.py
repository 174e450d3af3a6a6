"""The plugin's settings, from environment variables (MLflow starts the app; there are no
arguments to pass)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from auditledger_client import ConfigurationError


@dataclass(frozen=True)
class PluginSettings:
    """Where events go and how the plugin behaves."""

    server: str
    token: str
    org: str
    spool_dir: Path
    # "category.type" events recorded before the change with wait=True; the MLflow request is
    # refused (503) when the audit log cannot commit them.
    fail_closed: frozenset[str]
    basic_auth: bool
    ack_timeout: float = 5.0

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, basic_auth: bool | None = None
    ) -> PluginSettings:
        """Settings from ``AUDITLEDGER_*`` variables; missing required ones are named."""
        env = os.environ if environ is None else environ
        missing = [
            name for name in ("AUDITLEDGER_SERVER", "AUDITLEDGER_TOKEN") if not env.get(name)
        ]
        if missing:
            raise ConfigurationError(
                "auditledger-mlflow needs " + " and ".join(missing) + " (see docs/mlflow.md)"
            )
        auth = env.get("AUDITLEDGER_MLFLOW_AUTH", "none")
        if auth not in ("none", "basic-auth"):
            raise ConfigurationError("AUDITLEDGER_MLFLOW_AUTH must be 'none' or 'basic-auth'")
        closed = env.get("AUDITLEDGER_MLFLOW_FAIL_CLOSED", "")
        return cls(
            server=env["AUDITLEDGER_SERVER"],
            token=env["AUDITLEDGER_TOKEN"],
            org=env.get("AUDITLEDGER_ORG", "mlflow"),
            spool_dir=Path(env.get("AUDITLEDGER_MLFLOW_SPOOL_DIR", "auditledger-spool")),
            fail_closed=frozenset(a.strip() for a in closed.split(",") if a.strip()),
            basic_auth=auth == "basic-auth" if basic_auth is None else basic_auth,
            ack_timeout=float(env.get("AUDITLEDGER_ACK_TIMEOUT", "5")),
        )
