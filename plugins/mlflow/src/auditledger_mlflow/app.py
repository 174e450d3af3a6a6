"""The ``mlflow.app`` entry points: ``mlflow server --app-name auditledger`` (or
``auditledger-basic-auth``, MLflow's basic-auth with the audit log)."""

from __future__ import annotations

import atexit
import logging
import os
import sys
from typing import Any

from .hooks import AuditHook
from .settings import PluginSettings
from .spools import open_client
from .stores import MlflowStores

log = logging.getLogger("auditledger_mlflow")


def create_app() -> Any:
    """MLflow's server with the audit log (basic-auth when AUDITLEDGER_MLFLOW_AUTH=basic-auth)."""
    return build(PluginSettings.from_env())


def create_app_with_basic_auth() -> Any:
    """MLflow's server behind its basic-auth, with the audit log; the MLflow user is the actor."""
    return build(PluginSettings.from_env(basic_auth=True))


def startup_warnings(
    environ: dict[str, str] | None = None, argv: list[str] | None = None
) -> list[str]:
    """What keeps the audit log from being complete or trustworthy with these server options."""
    env = dict(os.environ if environ is None else environ)
    args = " ".join(sys.argv if argv is None else argv)
    warnings = []
    root = env.get("_MLFLOW_SERVER_ARTIFACT_ROOT", "")
    serving = env.get("_MLFLOW_SERVER_SERVE_ARTIFACTS", "").lower() == "true"
    if not serving or (root and not root.startswith("mlflow-artifacts:")):
        warnings.append(
            "artifacts do not pass through this server, so their uploads and downloads are not "
            "audited: start mlflow server with --artifacts-destination (and no local "
            "--default-artifact-root)"
        )
    if "--forwarded-allow-ips" not in args and "FORWARDED_ALLOW_IPS" not in env:
        warnings.append(
            "uvicorn believes X-Forwarded-For from 127.0.0.1 by default, so a caller on this "
            "host chooses the source address of its events: pass --uvicorn-opts "
            '"--forwarded-allow-ips=<your proxies>" (or "--no-proxy-headers")'
        )
    return warnings


def build(settings: PluginSettings) -> Any:
    """MLflow's app (FastAPI over Flask under uvicorn, Flask otherwise) with the audit hooks."""
    from mlflow.server import app as flask_app

    for warning in startup_warnings():
        log.warning("auditledger: %s", warning)
    client = open_client(settings)
    atexit.register(client.close, 2.0)
    hook = AuditHook(client, settings, MlflowStores())
    uvicorn = os.environ.get("_MLFLOW_SGI_NAME") == "uvicorn" or "uvicorn" in sys.modules
    if settings.basic_auth:
        from mlflow.server.auth import create_app as basic_auth

        inner = basic_auth(flask_app)  # registers its hooks first: ours then know the user
        hook.install(flask_app)
    else:
        hook.install(flask_app)
        inner = flask_app
        if uvicorn:
            from mlflow.server.fastapi_app import create_fastapi_app

            inner = create_fastapi_app(flask_app)
    if inner is flask_app:
        return flask_app  # gunicorn/waitress: everything is Flask, the hook sees it all
    return hook.artifact_layer(inner)
