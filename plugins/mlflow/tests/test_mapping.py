"""docs/mlflow.md's mapping, row by row, against a real ``mlflow server`` driven only by the
real MLflow client: each action is exactly one event with the right category, type, subject,
properties, project, actor and source; a failed request is none; a password is never seen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client

from .conftest import ADMIN_PASSWORD, Audit, Mlflow, Recorded

pytestmark = pytest.mark.timeout(600)
ADA_PASSWORD = "ada-secret-passw0rd-2026"


@pytest.fixture(scope="module")
def ada(mlflow_server: Mlflow, audit: Audit) -> Iterator[MlflowClient]:
    """The MLflow client of user ``ada``, created by the admin."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        env.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        get_app_client("basic-auth", tracking_uri=mlflow_server.url).create_user(
            "ada", ADA_PASSWORD
        )
        env.setenv("MLFLOW_TRACKING_USERNAME", "ada")
        env.setenv("MLFLOW_TRACKING_PASSWORD", ADA_PASSWORD)
        yield MlflowClient(mlflow_server.url)


@pytest.fixture
def recorded(audit: Audit, ada: MlflowClient) -> Recorded:
    return Recorded(audit)


def kind(event: dict[str, Any]) -> str:
    return f"{event['category']}.{event['type']}"


def by_ada(event: dict[str, Any]) -> None:
    assert event["actor"] == {"type": "user", "id": "ada", "name": "ada"}
    assert event["source"]["ip"] == "127.0.0.1"


def test_experiment_create_rename_delete(ada: MlflowClient, recorded: Recorded) -> None:
    exp_id = ada.create_experiment("churn")
    (created,) = recorded.new(1)
    assert kind(created) == "experiment.create"
    assert created["subject"]["id"] == exp_id
    assert created["properties"]["experiment_name"] == "churn"
    assert created["project"] == {"id": exp_id, "name": "churn"}
    by_ada(created)
    ada.rename_experiment(exp_id, "churn-eu")
    (renamed,) = recorded.new(1)
    assert kind(renamed) == "experiment.rename"
    assert renamed["properties"] == {"old_name": "churn", "new_name": "churn-eu"}
    ada.delete_experiment(exp_id)
    (deleted,) = recorded.new(1)
    assert (kind(deleted), deleted["subject"]["name"]) == ("experiment.delete", "churn-eu")


def test_runs_start_rename_tag_stop_delete(ada: MlflowClient, recorded: Recorded) -> None:
    exp_id = ada.create_experiment("runs")
    recorded.new(1)
    run = ada.create_run(
        exp_id,
        run_name="first",
        tags={"mlflow.source.git.commit": "a1b2c3", "mlflow.source.name": "train.py"},
    )
    (started,) = recorded.new(1)
    assert kind(started) == "execution.run"
    assert started["subject"] == {"type": "execution", "id": run.info.run_id, "name": "first"}
    assert started["properties"]["commit_id"] == "a1b2c3"
    assert started["properties"]["step_name"] == "train.py"
    assert started["project"] == {"id": exp_id, "name": "runs"}
    ada.update_run(run.info.run_id, name="second")
    (renamed,) = recorded.new(1)
    assert kind(renamed) == "execution.rename"
    assert renamed["properties"] == {"old_name": "first", "new_name": "second"}
    ada.log_param(run.info.run_id, "alpha", "0.1")  # run data, not a state change: no event
    ada.set_tag(run.info.run_id, "team", "growth")
    (tagged,) = recorded.new(1)
    assert kind(tagged) == "execution.tag_change"
    assert "team=growth" in tagged["properties"]["new_tags"]
    assert "team=growth" not in tagged["properties"]["old_tags"]
    ada.set_terminated(run.info.run_id, "KILLED")
    (stopped,) = recorded.new(1)
    assert kind(stopped) == "execution.stop"
    ada.delete_run(run.info.run_id)
    (deleted,) = recorded.new(1)
    assert (kind(deleted), deleted["subject"]["name"]) == ("execution.delete", "second")


def test_registered_model_lifecycle(ada: MlflowClient, recorded: Recorded) -> None:
    ada.create_registered_model("churn-model")
    (created,) = recorded.new(1)
    assert kind(created) == "model.create"
    assert created["properties"] == {"model_name": "churn-model"}
    ada.update_registered_model("churn-model", description="EU only")
    (described,) = recorded.new(1)
    assert kind(described) == "model.description_change"
    assert described["properties"] == {"old_description": "", "new_description": "EU only"}
    ada.rename_registered_model("churn-model", "churn-model-eu")
    (renamed,) = recorded.new(1)
    assert renamed["properties"] == {"old_name": "churn-model", "new_name": "churn-model-eu"}
    assert renamed["subject"]["id"] == "churn-model-eu"
    ada.delete_registered_model("churn-model-eu")
    (archived,) = recorded.new(1)
    assert kind(archived) == "model.archive"


def test_model_versions_tags_stages_aliases_download(ada: MlflowClient, recorded: Recorded) -> None:
    exp_id = ada.create_experiment("registry")
    run = ada.create_run(exp_id, run_name="fit")
    ada.create_registered_model("fraud")
    recorded.new(3)
    version = ada.create_model_version("fraud", f"runs:/{run.info.run_id}/model", run.info.run_id)
    (created,) = recorded.new(1)
    assert kind(created) == "model_version.create"
    assert created["subject"]["id"] == f"fraud:{version.version}"
    assert created["subject"]["parent"]["id"] == "fraud"
    assert created["project"] == {"id": exp_id, "name": "registry"}
    ada.set_model_version_tag("fraud", version.version, "validated", "yes")
    (tagged,) = recorded.new(1)
    assert tagged["properties"] == {"old_tags": [], "new_tags": ["validated=yes"]}
    ada.delete_model_version_tag("fraud", version.version, "validated")
    (untagged,) = recorded.new(1)
    assert untagged["properties"] == {"old_tags": ["validated=yes"], "new_tags": []}
    ada.transition_model_version_stage("fraud", version.version, "Staging")
    (staged,) = recorded.new(1)
    assert kind(staged) == "model_version.stage_change"
    assert staged["properties"] == {"old_stage": "None", "new_stage": "Staging"}
    ada.transition_model_version_stage("fraud", version.version, "Production")
    (approved,) = recorded.new(1)
    assert kind(approved) == "model_version.approve"
    ada.transition_model_version_stage("fraud", version.version, "Archived")
    (rejected,) = recorded.new(1)
    assert kind(rejected) == "model_version.reject"
    ada.set_registered_model_alias("fraud", "champion", version.version)
    (aliased,) = recorded.new(1)
    assert kind(aliased) == "model_version.alias_change"
    assert aliased["properties"] == {"alias": "champion", "new_version": version.version}
    ada.delete_registered_model_alias("fraud", "champion")
    (unaliased,) = recorded.new(1)
    assert unaliased["properties"] == {"alias": "champion", "old_version": version.version}
    ada.get_model_version_download_uri("fraud", version.version)
    (downloaded,) = recorded.new(1)
    assert kind(downloaded) == "model_version.download"
    by_ada(downloaded)


def test_a_dataset_logged_as_a_run_input(ada: MlflowClient, recorded: Recorded) -> None:
    from mlflow.entities import Dataset, DatasetInput

    exp_id = ada.create_experiment("data")
    run = ada.create_run(exp_id)
    recorded.new(2)
    dataset = Dataset(name="customers", digest="d1g3st", source_type="local", source="x.csv")
    ada.log_inputs(run.info.run_id, datasets=[DatasetInput(dataset=dataset)])
    (logged,) = recorded.new(1)
    assert kind(logged) == "dataset_version.create"
    assert logged["subject"]["parent"] == {
        "type": "dataset",
        "id": "customers",
        "name": "customers",
    }
    assert logged["project"]["id"] == exp_id


def test_failed_requests_record_nothing(ada: MlflowClient, recorded: Recorded) -> None:
    with pytest.raises(MlflowException):
        ada.rename_registered_model("no-such-model", "other")
    with pytest.raises(MlflowException):
        ada.transition_model_version_stage("no-such-model", "1", "Production")
    exp_id = ada.create_experiment("taken")
    recorded.new(1)
    with pytest.raises(MlflowException):
        ada.create_experiment("taken")  # the name is taken
    recorded.new(0)
    assert exp_id


def test_a_password_never_reaches_an_event(
    mlflow_server: Mlflow, audit: Audit, ada: MlflowClient
) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        env.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        auth = get_app_client("basic-auth", tracking_uri=mlflow_server.url)
        auth.create_user("grace", "grace-very-secret-2026")
        auth.update_user_password("grace", "grace-even-more-secret")
    text = str(audit.events())
    for secret in (
        ADA_PASSWORD,
        ADMIN_PASSWORD,
        "grace-very-secret-2026",
        "grace-even-more-secret",
    ):
        assert secret not in text
    assert os.environ.get("MLFLOW_TRACKING_PASSWORD") == ADA_PASSWORD
