"""docs/mlflow.md's mapping, row by row, against a real ``mlflow server`` (basic-auth, artifacts
through the server) driven only by the real MLflow client: each action is exactly one event
with the right category, type, subject, properties, project, actor and source; a failed
request is none; a password is never seen."""

from __future__ import annotations

import base64
import http.cookiejar
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from auditledger_mlflow.ids import MODEL_ID_TAG
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client

from .conftest import ADA_PASSWORD, ADMIN_PASSWORD, Audit, Mlflow, Recorded, check

# Generous: the first test also waits for the session's servers, minutes on a loaded machine.
pytestmark = pytest.mark.timeout(1500)


@pytest.fixture
def recorded(audit: Audit, ada: MlflowClient) -> Recorded:
    return Recorded(audit)


@pytest.fixture
def admin(mlflow_server: Mlflow, ada: MlflowClient) -> Any:
    """basic-auth's own client, signed in as the admin (ada's credentials come back after)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        env.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        yield get_app_client("basic-auth", tracking_uri=mlflow_server.url)


def exp(exp_id: str, name: str) -> dict[str, Any]:
    return {"id": exp_id, "name": name}


def subject(kind: str, id_: str, name: str | None, parent: dict[str, Any] | None = None) -> Any:
    found: dict[str, Any] = {"type": kind, "id": id_, "name": name}
    if parent is not None:
        found["parent"] = parent
    return found


def model_id(client: MlflowClient, name: str) -> str:
    """The registered model's id in the audit log: the tag the plugin keeps on it."""
    found = client.get_registered_model(name).tags[MODEL_ID_TAG]
    assert found
    assert found != name
    return str(found)


def model(id_: str, name: str) -> dict[str, Any]:
    return subject("model", id_, name)


def version(id_: str, name: str, number: str) -> dict[str, Any]:
    return subject("model_version", f"{id_}:{number}", f"v{number}", model(id_, name))


def test_experiment_create_rename_delete_restore(ada: MlflowClient, recorded: Recorded) -> None:
    exp_id = ada.create_experiment("churn")
    (created,) = recorded.new(1)
    check(
        created,
        "experiment.create",
        subject=subject("experiment", exp_id, "churn"),
        properties={"experiment_name": "churn"},
        project=exp(exp_id, "churn"),
    )
    ada.rename_experiment(exp_id, "churn-eu")
    (renamed,) = recorded.new(1)
    check(
        renamed,
        "experiment.rename",
        subject=subject("experiment", exp_id, "churn-eu"),
        properties={"old_name": "churn", "new_name": "churn-eu"},
        project=exp(exp_id, "churn-eu"),
    )
    ada.delete_experiment(exp_id)
    (deleted,) = recorded.new(1)
    check(
        deleted,
        "experiment.delete",
        subject=subject("experiment", exp_id, "churn-eu"),
        properties={},
        project=exp(exp_id, "churn-eu"),
    )
    ada.restore_experiment(exp_id)
    (restored,) = recorded.new(1)
    check(
        restored,
        "experiment.restore",
        subject=subject("experiment", exp_id, "churn-eu"),
        properties={},
        project=exp(exp_id, "churn-eu"),
    )


def test_runs_start_rename_tag_stop_delete(ada: MlflowClient, recorded: Recorded) -> None:
    exp_id = ada.create_experiment("runs")
    recorded.new(1)
    project = exp(exp_id, "runs")
    run = ada.create_run(
        exp_id,
        run_name="first",
        tags={
            "mlflow.source.git.commit": "a1b2c3",
            "mlflow.source.name": "train.py",
            "mlflow.source.type": "LOCAL",
        },
    )
    run_id = run.info.run_id
    (started,) = recorded.new(1)
    check(
        started,
        "execution.run",
        subject=subject("execution", run_id, "first"),
        properties={"commit_id": "a1b2c3", "environment_id": "LOCAL", "step_name": "train.py"},
        project=project,
    )
    ada.update_run(run_id, name="second")
    (renamed,) = recorded.new(1)
    check(
        renamed,
        "execution.rename",
        subject=subject("execution", run_id, "second"),
        properties={"old_name": "first", "new_name": "second"},
        project=project,
    )
    ada.log_param(run_id, "alpha", "0.1")  # run data, not a state change: no event
    ada.log_metric(run_id, "auc", 0.8)
    recorded.new(0)
    before = sorted(f"{k}={v}" for k, v in ada.get_run(run_id).data.tags.items())
    ada.set_tag(run_id, "team", "growth")
    (tagged,) = recorded.new(1)
    check(
        tagged,
        "execution.tag_change",
        subject=subject("execution", run_id, "second"),
        properties={"old_tags": before, "new_tags": sorted([*before, "team=growth"])},
        project=project,
    )
    ada.set_tag(run_id, "team", "retention")  # a new value: old and new both named
    (retagged,) = recorded.new(1)
    assert "team=growth" in retagged["properties"]["old_tags"]
    assert "team=retention" in retagged["properties"]["new_tags"]
    assert "team=growth" not in retagged["properties"]["new_tags"]
    ada.delete_tag(run_id, "team")
    (untagged,) = recorded.new(1)
    check(
        untagged,
        "execution.tag_change",
        subject=subject("execution", run_id, "second"),
        properties={"old_tags": sorted([*before, "team=retention"]), "new_tags": before},
        project=project,
    )
    ada.set_terminated(run_id, "KILLED")
    (stopped,) = recorded.new(1)
    check(
        stopped,
        "execution.stop",
        subject=subject("execution", run_id, "second"),
        properties={},
        project=project,
    )
    ada.delete_run(run_id)  # the request names only the id: the name comes from the store
    (deleted,) = recorded.new(1)
    check(
        deleted,
        "execution.delete",
        subject=subject("execution", run_id, "second"),
        properties={},
        project=project,
    )


def test_a_finished_run_is_stopped_once(ada: MlflowClient, recorded: Recorded) -> None:
    exp_id = ada.create_experiment("finishing")
    run = ada.create_run(exp_id, run_name="fit")
    recorded.new(2)
    ada.set_terminated(run.info.run_id)  # FINISHED
    (stopped,) = recorded.new(1)
    check(
        stopped,
        "execution.stop",
        subject=subject("execution", run.info.run_id, "fit"),
        properties={},
        project=exp(exp_id, "finishing"),
    )
    ada.set_terminated(run.info.run_id, "FAILED")  # already stopped: not a second stop
    recorded.new(0)


def test_registered_model_lifecycle(ada: MlflowClient, recorded: Recorded) -> None:
    ada.create_registered_model("churn-model")
    (created,) = recorded.new(1)
    churn = model_id(ada, "churn-model")
    check(
        created,
        "model.create",
        subject=model(churn, "churn-model"),
        properties={"model_name": "churn-model"},
        project=None,
    )
    ada.update_registered_model("churn-model", description="EU only")
    (described,) = recorded.new(1)
    check(
        described,
        "model.description_change",
        subject=model(churn, "churn-model"),
        properties={"old_description": "", "new_description": "EU only"},
        project=None,
    )
    ada.update_registered_model("churn-model", description="EU and UK")
    (redescribed,) = recorded.new(1)
    assert redescribed["properties"] == {
        "old_description": "EU only",
        "new_description": "EU and UK",
    }
    ada.set_registered_model_tag("churn-model", "team", "growth")
    (tagged,) = recorded.new(1)
    check(
        tagged,
        "model.tag_change",
        subject=model(churn, "churn-model"),
        properties={"old_tags": [], "new_tags": ["team=growth"]},  # never the id's own tag
        project=None,
    )
    ada.delete_registered_model_tag("churn-model", "team")
    (untagged,) = recorded.new(1)
    assert untagged["properties"] == {"old_tags": ["team=growth"], "new_tags": []}
    ada.rename_registered_model("churn-model", "churn-model-eu")
    (renamed,) = recorded.new(1)
    check(
        renamed,
        "model.rename",
        subject=model(churn, "churn-model-eu"),  # the same model, by its new name
        properties={"old_name": "churn-model", "new_name": "churn-model-eu"},
        project=None,
    )
    assert model_id(ada, "churn-model-eu") == churn
    ada.delete_registered_model("churn-model-eu")
    (archived,) = recorded.new(1)
    check(
        archived,
        "model.archive",
        subject=model(churn, "churn-model-eu"),
        properties={},
        project=None,
    )


def test_model_versions_tags_stages_aliases(ada: MlflowClient, recorded: Recorded) -> None:
    exp_id = ada.create_experiment("registry")
    project = exp(exp_id, "registry")
    run = ada.create_run(exp_id, run_name="fit")
    ada.create_registered_model("fraud")
    recorded.new(3)
    fraud = model_id(ada, "fraud")
    mv = ada.create_model_version("fraud", f"runs:/{run.info.run_id}/model", run.info.run_id)
    v1 = mv.version
    (created,) = recorded.new(1)
    check(
        created,
        "model_version.create",
        subject=version(fraud, "fraud", v1),
        properties={},
        project=project,
    )

    ada.set_model_version_tag("fraud", v1, "validated", "yes")
    (tagged,) = recorded.new(1)
    check(
        tagged,
        "model_version.tag_change",
        subject=version(fraud, "fraud", v1),
        properties={"old_tags": [], "new_tags": ["validated=yes"]},
        project=project,
    )
    ada.set_model_version_tag("fraud", v1, "validated", "no")
    (retagged,) = recorded.new(1)
    assert retagged["properties"] == {"old_tags": ["validated=yes"], "new_tags": ["validated=no"]}
    ada.delete_model_version_tag("fraud", v1, "validated")
    (untagged,) = recorded.new(1)
    check(
        untagged,
        "model_version.tag_change",
        subject=version(fraud, "fraud", v1),
        properties={"old_tags": ["validated=no"], "new_tags": []},
        project=project,
    )

    ada.transition_model_version_stage("fraud", v1, "Staging")
    (staged,) = recorded.new(1)
    check(
        staged,
        "model_version.stage_change",
        subject=version(fraud, "fraud", v1),
        properties={"old_stage": "None", "new_stage": "Staging"},
        project=project,
    )
    ada.transition_model_version_stage("fraud", v1, "Production")
    (approved,) = recorded.new(1)
    check(
        approved,
        "model_version.approve",
        subject=version(fraud, "fraud", v1),
        properties={},
        project=project,
    )
    ada.transition_model_version_stage("fraud", v1, "Archived")
    (rejected,) = recorded.new(1)
    check(
        rejected,
        "model_version.reject",
        subject=version(fraud, "fraud", v1),
        properties={},
        project=project,
    )
    ada.transition_model_version_stage("fraud", v1, "Archived")  # no change: no event
    recorded.new(0)

    v2 = ada.create_model_version(
        "fraud", f"runs:/{run.info.run_id}/model", run.info.run_id
    ).version
    recorded.new(1)
    ada.set_registered_model_alias("fraud", "champion", v1)
    (aliased,) = recorded.new(1)
    check(
        aliased,
        "model_version.alias_change",
        subject=version(fraud, "fraud", v1),
        properties={"alias": "champion", "new_version": v1},
        project=project,
    )
    ada.set_registered_model_alias("fraud", "champion", v2)  # moved: the old target is named
    (moved,) = recorded.new(1)
    check(
        moved,
        "model_version.alias_change",
        subject=version(fraud, "fraud", v2),
        properties={"alias": "champion", "old_version": v1, "new_version": v2},
        project=project,
    )
    ada.delete_registered_model_alias("fraud", "champion")
    (unaliased,) = recorded.new(1)
    check(
        unaliased,
        "model_version.alias_change",
        subject=version(fraud, "fraud", v2),
        properties={"alias": "champion", "old_version": v2},
        project=project,
    )


def test_artifacts_and_a_model_version_download_pass_through_the_server(
    ada: MlflowClient, recorded: Recorded, tmp_path: Path, mlflow_server: Mlflow
) -> None:
    import mlflow.artifacts

    exp_id = ada.create_experiment("artifacts")
    project = exp(exp_id, "artifacts")
    run = ada.create_run(exp_id, run_name="fit")
    ada.create_registered_model("scorer")
    recorded.new(3)
    scorer = model_id(ada, "scorer")
    weights = tmp_path / "weights.txt"
    weights.write_text("0.1 0.2 0.3\n", encoding="utf-8")
    ada.log_artifact(run.info.run_id, str(weights), artifact_path="model")
    (uploaded,) = recorded.new(1)
    path = f"{exp_id}/{run.info.run_id}/artifacts/model/weights.txt"
    check(
        uploaded,
        "datum.import",
        subject=subject("datum", path.replace("/", ":"), path),
        properties={},
        project=project,
    )
    number = ada.create_model_version(
        "scorer", f"runs:/{run.info.run_id}/model", run.info.run_id
    ).version
    recorded.new(1)

    # How a client fetches a version: its download URI, then the files through the server.
    with pytest.MonkeyPatch.context() as env:  # models:/ URIs resolve in the registry's URI
        env.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        env.setenv("MLFLOW_REGISTRY_URI", mlflow_server.url)
        mlflow.set_registry_uri(mlflow_server.url)
        target = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/scorer/{number}",
            dst_path=str(tmp_path / "got"),
            tracking_uri=mlflow_server.url,
        )
    assert (Path(target) / "weights.txt").read_text(encoding="utf-8") == "0.1 0.2 0.3\n"
    events = recorded.new(2)
    check(
        events[0],
        "model_version.download",
        subject=version(scorer, "scorer", number),
        properties={},
        project=project,
    )
    check(
        events[1],
        "datum.download",
        subject=subject("datum", path.replace("/", ":"), path),
        properties={},
        project=project,
    )


def test_a_dataset_logged_as_a_run_input(ada: MlflowClient, recorded: Recorded) -> None:
    exp_id = ada.create_experiment("data")
    run = ada.create_run(exp_id, run_name="fit")
    recorded.new(2)
    customers = Dataset(name="customers", digest="d1g3st", source_type="local", source="x.csv")
    orders = Dataset(name="orders", digest="0rd3r5", source_type="local", source="o.csv")
    ada.log_inputs(
        run.info.run_id, datasets=[DatasetInput(dataset=customers), DatasetInput(dataset=orders)]
    )
    logged = recorded.new(2)
    for event, (name, digest) in zip(
        logged, [("customers", "d1g3st"), ("orders", "0rd3r5")], strict=True
    ):
        check(
            event,
            "dataset_version.create",
            subject=subject(
                "dataset_version", f"{name}@{digest}", digest, subject("dataset", name, name)
            ),
            properties={},
            project=exp(exp_id, "data"),
        )


def test_users_and_permissions_under_basic_auth(
    admin: Any, audit: Audit, recorded: Recorded
) -> None:
    admin.create_user("grace", "grace-very-secret-2026")
    (created,) = recorded.new(1)
    grace = subject("user", "grace", "grace")
    check(
        created,
        "user.create",
        subject=grace,
        properties={"user_name": "grace"},
        project=None,
        actor="admin",
    )
    admin.update_user_password("grace", "grace-even-more-secret")
    (password,) = recorded.new(1)
    check(
        password, "user.password_change", subject=grace, properties={}, project=None, actor="admin"
    )
    admin.update_user_admin("grace", True)
    (promoted,) = recorded.new(1)
    check(
        promoted,
        "user.admin_change",
        subject=grace,
        properties={"old_role": "user", "new_role": "admin"},
        project=None,
        actor="admin",
    )
    admin.update_user_admin("grace", False)
    recorded.new(1)

    # Roles are MLflow's teams: joining or leaving one is a team membership change.
    role = admin.create_role("default", "reviewers", description="Review models")
    recorded.new(0)
    admin.assign_role("grace", role.id)
    (joined,) = recorded.new(1)
    check(
        joined,
        "user.team_membership_change",
        subject=grace,
        properties={"old_teams": [], "new_teams": ["reviewers"]},
        project=None,
        actor="admin",
    )
    # What a team may do: its permissions, granted, changed and removed, name the team.
    team = {"role_name": "reviewers", "resource_type": "registered_model", "resource_id": "*"}
    every_model = subject("permission", "registered_model:*", "*")
    granted_to_team = admin.add_role_permission(role.id, "registered_model", "*", "EDIT")
    (added,) = recorded.new(1)
    check(
        added,
        "permission.grant",
        subject=every_model,
        properties={**team, "new_permission": "EDIT"},
        project=None,
        actor="admin",
    )
    admin.update_role_permission(granted_to_team.id, "MANAGE")
    (raised,) = recorded.new(1)
    check(
        raised,
        "permission.grant",
        subject=every_model,
        properties={**team, "old_permission": "EDIT", "new_permission": "MANAGE"},
        project=None,
        actor="admin",
    )
    admin.remove_role_permission(granted_to_team.id)
    (removed,) = recorded.new(1)
    check(
        removed,
        "permission.revoke",
        subject=every_model,
        properties={**team, "old_permission": "MANAGE"},
        project=None,
        actor="admin",
    )
    admin.unassign_role("grace", role.id)
    (left,) = recorded.new(1)
    check(
        left,
        "user.team_membership_change",
        subject=grace,
        properties={"old_teams": ["reviewers"], "new_teams": []},
        project=None,
        actor="admin",
    )
    # A deleted team is left by each of its members.
    admin.assign_role("grace", role.id)
    recorded.new(1)
    admin.delete_role(role.id)
    (disbanded,) = recorded.new(1)
    check(
        disbanded,
        "user.team_membership_change",
        subject=grace,
        properties={"old_teams": ["reviewers"], "new_teams": []},
        project=None,
        actor="admin",
    )

    # A permission of the user's own (not a team): its grant and revoke, with what it was.
    admin.grant_user_permission("grace", "registered_model", "fraud-like", "EDIT")
    (granted,) = recorded.new(1)
    check(
        granted,
        "permission.grant",
        subject=subject("permission", "registered_model:fraud-like", "fraud-like"),
        properties={
            "user_name": "grace",
            "resource_type": "registered_model",
            "resource_id": "fraud-like",
            "old_permission": "READ",
            "new_permission": "EDIT",
        },
        project=None,
        actor="admin",
    )
    admin.revoke_user_permission("grace", "registered_model", "fraud-like")
    (revoked,) = recorded.new(1)
    check(
        revoked,
        "permission.revoke",
        subject=subject("permission", "registered_model:fraud-like", "fraud-like"),
        properties={
            "user_name": "grace",
            "resource_type": "registered_model",
            "resource_id": "fraud-like",
            "old_permission": "EDIT",
        },
        project=None,
        actor="admin",
    )
    # Any of MLflow's resource types, not only experiments and models.
    admin.grant_user_permission("grace", "prompt", "summarizer", "EDIT")
    (prompt,) = recorded.new(1)
    assert (prompt["category"], prompt["type"]) == ("permission", "grant")
    assert prompt["subject"] == subject("permission", "prompt:summarizer", "summarizer")
    assert prompt["properties"]["resource_type"] == "prompt"
    assert prompt["properties"]["new_permission"] == "EDIT"
    admin.delete_user("grace")
    (deleted,) = recorded.new(1)
    check(deleted, "user.delete", subject=grace, properties={}, project=None, actor="admin")
    text = str(audit.events())
    for secret in (ADA_PASSWORD, ADMIN_PASSWORD, "grace-very-secret-2026", "grace-even-more"):
        assert secret not in text


def test_a_user_signed_up_on_basic_auths_page(mlflow_server: Mlflow, recorded: Recorded) -> None:
    """basic-auth's sign-up page (a form the admin fills in) creates users too."""
    credentials = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    browser.addheaders = [("Authorization", f"Basic {credentials}")]
    with browser.open(f"{mlflow_server.url}/signup", timeout=30) as page:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())
    assert csrf

    def sign_up(password: str) -> str:
        form = {"csrf_token": csrf.group(1), "username": "hopper", "password": password}
        with browser.open(
            f"{mlflow_server.url}/api/2.0/mlflow/users/create-ui",
            data=urllib.parse.urlencode(form).encode(),
            timeout=30,
        ) as answer:
            return str(answer.read().decode())

    assert "Successfully signed up" in sign_up("hopper-secret-2026")
    (created,) = recorded.new(1)
    check(
        created,
        "user.create",
        subject=subject("user", "hopper", "hopper"),
        properties={"user_name": "hopper"},
        project=None,
        actor="admin",
    )
    assert "hopper-secret" not in str(created)
    assert "already been taken" in sign_up("hopper-other-2026")  # a 200 that created no one
    recorded.new(0)


def test_failed_requests_record_nothing(
    ada: MlflowClient, admin: Any, recorded: Recorded, mlflow_server: Mlflow
) -> None:
    with pytest.raises(MlflowException):
        ada.rename_registered_model("no-such-model", "other")
    with pytest.raises(MlflowException):
        ada.transition_model_version_stage("no-such-model", "1", "Production")
    with pytest.raises(MlflowException):
        ada.delete_run("0" * 32)
    with pytest.raises(MlflowException):
        ada.set_registered_model_alias("no-such-model", "champion", "1")
    exp_id = ada.create_experiment("taken")
    recorded.new(1)
    with pytest.raises(MlflowException):
        ada.create_experiment("taken")  # the name is taken
    with pytest.raises(MlflowException):
        admin.create_user("ada", "another-password-2026")  # the user exists
    recorded.new(0)
    # Refused by basic-auth: bob may only read, so his change never happens and is not recorded.
    admin.create_user("bob", "bob-password-2026")
    recorded.new(1)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_USERNAME", "bob")
        env.setenv("MLFLOW_TRACKING_PASSWORD", "bob-password-2026")
        bob = MlflowClient(mlflow_server.url)
        with pytest.raises(MlflowException):
            bob.rename_experiment(exp_id, "bobs")
        env.setenv("MLFLOW_TRACKING_PASSWORD", "wrong-password")
        with pytest.raises(MlflowException):
            MlflowClient(mlflow_server.url).create_experiment("intruder")
    recorded.new(0)
    assert ada.get_experiment(exp_id).name == "taken"
