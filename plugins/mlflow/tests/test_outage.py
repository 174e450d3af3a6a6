"""auditledger stopped while MLflow keeps being used: MLflow never waits for it and nothing is
lost (every event arrives once it is back, in order, exactly once); a fail-closed action is
refused while its event cannot be committed, and nothing of it changes in MLflow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from auditledger_mlflow.ids import MODEL_ID_TAG
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from .conftest import FAIL_CLOSED, Audit, Recorded

# Generous: the first test also waits for the session's servers, minutes on a loaded machine.
pytestmark = pytest.mark.timeout(1500)


@pytest.fixture
def restored(audit: Audit) -> Iterator[Audit]:
    """auditledger, running again after the test whatever happened in it."""
    yield audit
    if audit.process is None:
        audit.start()


def test_stopping_auditledger_mid_way_loses_nothing(ada: MlflowClient, restored: Audit) -> None:
    audit = restored
    recorded = Recorded(audit)
    exp_id = ada.create_experiment("outage")
    first = ada.create_run(exp_id, run_name="before")
    recorded.new(2)  # delivered while auditledger is up

    audit.stop()
    done: list[tuple[str, str]] = []  # (category.type, subject id) in the order MLflow did it
    for n in range(4):
        run = ada.create_run(exp_id, run_name=f"during-{n}")
        done.append(("execution.run", run.info.run_id))
        ada.set_tag(run.info.run_id, "round", str(n))
        done.append(("execution.tag_change", run.info.run_id))
    ada.update_run(first.info.run_id, name="renamed-during")
    done.append(("execution.rename", first.info.run_id))
    ada.create_registered_model("outage-model")
    done.append(("model.create", ada.get_registered_model("outage-model").tags[MODEL_ID_TAG]))
    assert ada.get_run(first.info.run_id).info.run_name == "renamed-during"  # MLflow went on

    audit.start()
    arrived = recorded.new(len(done), seconds=90)
    assert [(f"{e['category']}.{e['type']}", e["subject"]["id"]) for e in arrived] == done
    assert len({e["id"] for e in arrived}) == len(done)  # each once
    assert all(e["actor"]["id"] == "ada" for e in arrived)
    assert all(e["source"]["ip"] == "127.0.0.1" for e in arrived)
    assert all(e.get("project", {}) == {"id": exp_id, "name": "outage"} for e in arrived[:-1])

    # And it keeps working after the outage, at the normal pace.
    ada.set_tag(first.info.run_id, "after", "yes")
    (after,) = recorded.new(1)
    assert (after["type"], after["subject"]["id"]) == ("tag_change", first.info.run_id)


def test_a_fail_closed_action_is_refused_while_it_cannot_be_audited(
    ada: MlflowClient, restored: Audit
) -> None:
    audit = restored
    recorded = Recorded(audit)
    exp_id = ada.create_experiment("guarded")
    run = ada.create_run(exp_id, run_name="fit")
    ada.create_registered_model("guarded-model")
    number = ada.create_model_version(
        "guarded-model", f"runs:/{run.info.run_id}/model", run.info.run_id
    ).version
    recorded.new(4)  # delivered while auditledger is up
    audit.stop()

    with pytest.raises(MlflowException) as refused:
        ada.transition_model_version_stage("guarded-model", number, "Production")
    assert "TEMPORARILY_UNAVAILABLE" in str(refused.value) or "503" in str(refused.value)
    assert ada.get_model_version("guarded-model", number).current_stage == "None"
    assert "model_version.approve" in FAIL_CLOSED.split(",")
    # An action that is not fail-closed still happens, and its event waits in the spool.
    ada.set_model_version_tag("guarded-model", number, "checked", "yes")

    audit.start()
    (tagged,) = recorded.new(1, seconds=90)  # the refused actions left no event behind
    assert (tagged["category"], tagged["type"]) == ("model_version", "tag_change")
    ada.transition_model_version_stage("guarded-model", number, "Production")
    (approved,) = recorded.new(1)
    assert (approved["category"], approved["type"]) == ("model_version", "approve")
    guarded = ada.get_registered_model("guarded-model").tags[MODEL_ID_TAG]
    assert approved["subject"]["id"] == f"{guarded}:{number}"
    assert approved["project"] == {"id": exp_id, "name": "guarded"}
    assert approved["actor"] == {"type": "user", "id": "ada", "name": "ada"}
    assert approved["source"]["ip"] == "127.0.0.1"
    assert ada.get_model_version("guarded-model", number).current_stage == "Production"
