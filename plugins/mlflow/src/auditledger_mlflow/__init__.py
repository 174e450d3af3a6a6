"""auditledger-mlflow: MLflow's tracking server with an audit log.

``mlflow server --app-name auditledger`` runs MLflow with a Flask hook that records, after each
successful state-changing request, the matching auditledger event (docs/mlflow.md has the
mapping), through the client's durable spool: MLflow never waits for the audit service, and
nothing is lost while it is away.
"""

from pathlib import Path

CATALOG = Path(__file__).with_name("catalog.toml")

__all__ = ["CATALOG"]
