"""``make demo-mlflow``: an auditledger server, an MLflow server with the plugin and basic-auth
(SQLite, artifacts through the server), and a short session with the real MLflow client; then
where to look: the model's Audit Log tab, the API, and the credentials of each.

``python -m auditledger_mlflow.demo --exit`` stops both servers once it has printed that (what
the plugin's test of the demo runs).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .ids import MODEL_ID_TAG
from .testing import ADMIN_PASSWORD, Audit, Mlflow

MODEL = "churn-model-eu"  # the registered model's name at the end of the session
SCIENTIST = "ada"
SCIENTIST_PASSWORD = "ada-demo-passw0rd"  # noqa: S105 - a throwaway demo server
AUDITOR = "auditor"


@dataclass(frozen=True)
class Session:
    """What the session did, for the summary (and the demo's test)."""

    experiment_id: str
    run_ids: list[str]
    versions: list[str]
    model_id: str  # the registered model's id in the audit log (through its rename)


def session(tracking_uri: str) -> Session:
    """What a data scientist does in a few minutes, with the real MLflow client (as ``ada``)."""
    import mlflow
    import mlflow.pyfunc
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    exp_id = client.create_experiment("churn-demo")
    run_ids = []
    for n, alpha in enumerate((0.1, 0.5, 1.0)):
        run = client.create_run(
            exp_id,
            run_name=f"train-{n}",
            tags={"mlflow.source.git.commit": "3f9c2ab", "mlflow.source.name": "train.py"},
        )
        client.log_param(run.info.run_id, "alpha", str(alpha))
        client.log_metric(run.info.run_id, "auc", 0.7 + alpha / 10)
        dataset = Dataset(name="customers", digest="9b1d", source_type="local", source="c.csv")
        client.log_inputs(run.info.run_id, datasets=[DatasetInput(dataset=dataset)])
        run_ids.append(run.info.run_id)
    client.rename_experiment(exp_id, "churn-prediction")
    client.update_run(run_ids[2], name="train-2-best")

    class ChurnThreshold(mlflow.pyfunc.PythonModel):  # type: ignore[misc]  # untyped here
        """A pyfunc model with no ML framework behind it: churn above a fixed score."""

        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return [float(x) > 0.5 for x in model_input["score"]]

    # Logged to the best run: its files go through the server (--artifacts-destination).
    with mlflow.start_run(run_id=run_ids[2]):
        info = mlflow.pyfunc.log_model(name="model", python_model=ChurnThreshold())
    for run_id in run_ids:
        client.set_terminated(run_id)

    client.create_registered_model("churn-model", description="Predicts churn")
    versions = [
        client.create_model_version(
            "churn-model", info.model_uri, run_ids[2], model_id=info.model_id
        ).version,
        client.create_model_version("churn-model", f"runs:/{run_ids[1]}/model", run_ids[1]).version,
    ]
    client.rename_registered_model("churn-model", MODEL)
    client.update_registered_model(MODEL, description="Predicts churn in the EU")
    client.set_model_version_tag(MODEL, versions[0], "validated", "yes")
    client.transition_model_version_stage(MODEL, versions[0], "Staging")
    client.transition_model_version_stage(MODEL, versions[0], "Production")
    client.set_registered_model_alias(MODEL, "champion", versions[0])
    client.transition_model_version_stage(MODEL, versions[1], "Archived")
    mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{MODEL}/{versions[0]}", dst_path=tempfile.mkdtemp()
    )
    model_id = client.get_registered_model(MODEL).tags[MODEL_ID_TAG]
    return Session(exp_id, run_ids, versions, model_id)


def add_scientist(tracking_uri: str) -> None:
    """The admin creates ``ada`` (basic-auth), who then does the session."""
    from mlflow.server import get_app_client

    auth = get_app_client("basic-auth", tracking_uri=tracking_uri)
    auth.create_user(SCIENTIST, SCIENTIST_PASSWORD)


def add_auditor(audit: Audit) -> str:
    """A person who may sign in to auditledger's pages (an admin of ``mlflow``); the password."""
    password = secrets.token_urlsafe(12)
    audit.cli(
        "users", "create", AUDITOR, "--password", password, "--org", "mlflow", "--role", "admin"
    )
    return password


def run(work: Path, *, stay: bool) -> None:
    """Start both servers, run the session, print where to look; with ``stay``, wait for
    Ctrl-C before stopping them."""
    for part in ("audit", "mlflow"):  # a demo starts afresh each time
        shutil.rmtree(work / part, ignore_errors=True)
    audit = Audit(work / "audit")
    audit.workdir.mkdir(parents=True, exist_ok=True)
    audit.prepare()
    password = add_auditor(audit)
    audit.start()
    server = Mlflow(work / "mlflow", audit)
    server.workdir.mkdir(exist_ok=True)
    try:
        server.start()
        os.environ["MLFLOW_TRACKING_USERNAME"] = "admin"
        os.environ["MLFLOW_TRACKING_PASSWORD"] = ADMIN_PASSWORD
        add_scientist(server.url)
        os.environ["MLFLOW_TRACKING_USERNAME"] = SCIENTIST
        os.environ["MLFLOW_TRACKING_PASSWORD"] = SCIENTIST_PASSWORD
        done = session(server.url)
        time.sleep(2)  # the spool ships within a fraction of that
        print(f"MLflow:           {server.url}/  ({SCIENTIST} / {SCIENTIST_PASSWORD})")
        print(f"                  (its admin: admin / {ADMIN_PASSWORD})")
        print(f"Audit log:        {audit.url}/orgs/mlflow/audit-log  ({AUDITOR} / {password})")
        print(f"The model's tab:  {audit.url}/orgs/mlflow/models/{done.model_id}  ({MODEL})")
        print(f"API:              {audit.url}/api/v1/orgs/mlflow/models/{done.model_id}/events")
        print(f"                  (Authorization: Bearer {audit.read})")
        print(
            f"{len(audit.events())} events recorded (experiment {done.experiment_id}, "
            f"{len(done.run_ids)} runs, versions {', '.join(done.versions)}); data in {work}"
        )
        if stay:
            print("Ctrl-C stops both servers.", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        audit.stop()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """``python -m auditledger_mlflow.demo [--exit]``; DEMO_DIR is where the data goes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exit", action="store_true", help="stop both servers at the end")
    args = parser.parse_args(argv)
    # Stopped by a signal (a test's time bound, a supervisor), it still stops both servers.
    signal.signal(signal.SIGTERM, _interrupt)
    work = Path(os.environ.get("DEMO_DIR") or tempfile.mkdtemp(prefix="auditledger-mlflow-"))
    work.mkdir(parents=True, exist_ok=True)
    run(work, stay=not args.exit)


if __name__ == "__main__":
    main()
