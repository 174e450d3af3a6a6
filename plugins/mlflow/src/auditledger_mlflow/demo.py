"""``make demo-mlflow``: an auditledger server, an MLflow server with the plugin and basic-auth
(SQLite), and a short session with the real MLflow client; then the audit log's URL."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from .testing import ADMIN_PASSWORD, Audit, Mlflow


def session(tracking_uri: str) -> None:
    """What a data scientist does in a few minutes, with the real MLflow client."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput

    client = MlflowClient(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    exp_id = client.create_experiment("churn-demo")
    run_ids = []
    for n, alpha in enumerate((0.1, 0.5, 1.0)):
        run = client.create_run(
            exp_id, run_name=f"train-{n}", tags={"mlflow.source.git.commit": "3f9c2ab"}
        )
        client.log_param(run.info.run_id, "alpha", str(alpha))
        client.log_metric(run.info.run_id, "auc", 0.7 + alpha / 10)
        dataset = Dataset(name="customers", digest="9b1d", source_type="local", source="c.csv")
        client.log_inputs(run.info.run_id, datasets=[DatasetInput(dataset=dataset)])
        client.set_terminated(run.info.run_id)
        run_ids.append(run.info.run_id)
    client.create_registered_model("churn-model", description="Predicts churn")
    versions = [
        client.create_model_version("churn-model", f"runs:/{r}/model", r) for r in run_ids[:2]
    ]
    client.rename_registered_model("churn-model", "churn-model-eu")
    client.set_model_version_tag("churn-model-eu", versions[1].version, "validated", "yes")
    client.transition_model_version_stage("churn-model-eu", versions[1].version, "Production")
    client.set_registered_model_alias("churn-model-eu", "champion", versions[1].version)
    client.get_model_version_download_uri("churn-model-eu", versions[1].version)


def main() -> None:
    """Start both servers, run the session, print where to look, wait for Ctrl-C."""
    work = Path(os.environ.get("DEMO_DIR") or tempfile.mkdtemp(prefix="auditledger-mlflow-"))
    work.mkdir(parents=True, exist_ok=True)
    audit = Audit(work / "audit")
    audit.workdir.mkdir(exist_ok=True)
    audit.prepare()
    audit.start()
    server = Mlflow(work / "mlflow", audit)
    server.workdir.mkdir(exist_ok=True)
    try:
        server.start()
        os.environ["MLFLOW_TRACKING_USERNAME"] = "admin"
        os.environ["MLFLOW_TRACKING_PASSWORD"] = ADMIN_PASSWORD
        session(server.url)
        time.sleep(2)
        print(f"MLflow:     {server.url}/  (admin / {ADMIN_PASSWORD})")
        print(f"Audit log:  {audit.url}/api/v1/orgs/mlflow/events  (Bearer {audit.read})")
        print(f"            {len(audit.events())} events recorded; data in {work}")
        print("Ctrl-C stops both servers.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        audit.stop()


if __name__ == "__main__":
    main()
