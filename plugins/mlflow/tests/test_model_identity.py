"""A registered model is one model in the audit log from its creation to its deletion, whatever
it is renamed to: its events and its versions' share one id (the tag ``auditledger.model_id``),
so its Audit Log tab holds its whole history under its current name, with its earlier names;
a later model that takes a former name is another model; a model made before the plugin was
installed gets its id at its first event. Real ``mlflow server``, real MLflow client."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from auditledger_mlflow.ids import MODEL_ID_TAG
from auditledger_mlflow.stores import MlflowStores
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

from .conftest import ADMIN_PASSWORD, Audit, Mlflow, Recorded

pytestmark = pytest.mark.timeout(1500)


@pytest.fixture
def recorded(audit: Audit, ada: MlflowClient) -> Recorded:
    return Recorded(audit)


def model_id(client: MlflowClient, name: str) -> str:
    return str(client.get_registered_model(name).tags[MODEL_ID_TAG])


def of_model(event: dict[str, Any]) -> str:
    """The model an event is about: its subject, or the model of its subject version."""
    subject = event["subject"]
    return str(subject["id"] if subject["type"] == "model" else subject["parent"]["id"])


def tab(audit: Audit, model: str) -> list[tuple[str, str]]:
    """The model's Audit Log tab (the API its page reads), oldest first."""
    events = audit.get(f"models/{model}/events")["events"]
    return [(f"{e['category']}.{e['type']}", e["subject"]["id"]) for e in reversed(events)]


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f"{e['category']}.{e['type']}", e["subject"]["id"]) for e in events]


def test_a_renamed_model_keeps_its_whole_history_under_its_current_name(
    ada: MlflowClient, recorded: Recorded, audit: Audit
) -> None:
    exp_id = ada.create_experiment("pricing")
    run = ada.create_run(exp_id, run_name="fit")
    recorded.new(2)
    source = f"runs:/{run.info.run_id}/model"
    ada.create_registered_model("pricing")
    v1 = ada.create_model_version("pricing", source, run.info.run_id).version
    ada.update_registered_model("pricing", description="Prices")
    ada.rename_registered_model("pricing", "pricing-eu")
    v2 = ada.create_model_version("pricing-eu", source, run.info.run_id).version
    ada.transition_model_version_stage("pricing-eu", v1, "Production")
    ada.set_registered_model_alias("pricing-eu", "champion", v2)
    ada.rename_registered_model("pricing-eu", "pricing-global")
    ada.set_model_version_tag("pricing-global", v1, "checked", "yes")
    events = recorded.new(9)

    pricing = model_id(ada, "pricing-global")
    assert {of_model(e) for e in events} == {pricing}  # before and after each rename: one model
    assert tab(audit, pricing) == kinds(events)
    assert tab(audit, pricing) == [
        ("model.create", pricing),
        ("model_version.create", f"{pricing}:{v1}"),
        ("model.description_change", pricing),
        ("model.rename", pricing),
        ("model_version.create", f"{pricing}:{v2}"),
        ("model_version.approve", f"{pricing}:{v1}"),
        ("model_version.alias_change", f"{pricing}:{v2}"),
        ("model.rename", pricing),
        ("model_version.tag_change", f"{pricing}:{v1}"),
    ]
    # Names stay snapshots inside each event; the model is called by its current name.
    assert [e["subject"]["name"] for e in events if e["subject"]["type"] == "model"] == [
        "pricing",
        "pricing",
        "pricing-eu",
        "pricing-global",
    ]
    page = audit.get(f"models/{pricing}")
    assert page["name"] == "pricing-global"
    assert page["earlier_names"] == ["pricing", "pricing-eu"]
    assert [v["id"] for v in page["versions"]] == [f"{pricing}:{v1}", f"{pricing}:{v2}"]
    listed = {m["name"]: m["id"] for m in audit.get("models")["models"]}
    assert listed["pricing-global"] == pricing
    assert "pricing" not in listed
    assert "pricing-eu" not in listed


def test_a_new_model_with_a_former_name_is_another_model(
    ada: MlflowClient, recorded: Recorded, audit: Audit
) -> None:
    ada.create_registered_model("ranker")
    ada.rename_registered_model("ranker", "ranker-old")
    recorded.new(2)
    first = model_id(ada, "ranker-old")
    ada.create_registered_model("ranker")  # the name is free again: a new model takes it
    (created,) = recorded.new(1)
    second = model_id(ada, "ranker")
    assert second != first
    assert created["subject"] == {"type": "model", "id": second, "name": "ranker"}
    assert tab(audit, second) == [("model.create", second)]
    assert tab(audit, first) == [("model.create", first), ("model.rename", first)]

    # Deleted, then created again under the same name: two models, each with its own history.
    ada.delete_registered_model("ranker")
    ada.create_registered_model("ranker")
    recorded.new(2)
    third = model_id(ada, "ranker")
    assert third not in (first, second)
    assert tab(audit, second) == [("model.create", second), ("model.archive", second)]
    assert tab(audit, third) == [("model.create", third)]


def test_a_model_made_before_the_plugin_gets_its_id_at_its_first_event(
    ada: MlflowClient, recorded: Recorded, audit: Audit, mlflow_server: Mlflow
) -> None:
    # Straight into MLflow's database, as a server without the plugin would have made them.
    store = SqlAlchemyStore(mlflow_server.backend_uri)
    store.create_registered_model("legacy", description="From before")
    store.create_model_version("legacy", "file:///tmp/legacy-model")
    store.create_registered_model("legacy-renamed-first")
    recorded.new(0)
    assert MODEL_ID_TAG not in ada.get_registered_model("legacy").tags

    # Made by no one MLflow knows: only its admin may change them (others may read).
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        env.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        admin = MlflowClient(mlflow_server.url)
        admin.update_registered_model("legacy", description="From before the audit log")
        admin.rename_registered_model("legacy", "legacy-eu")
        admin.transition_model_version_stage("legacy-eu", "1", "Staging")
        events = recorded.new(3)
        admin.rename_registered_model("legacy-renamed-first", "legacy-two")
        admin.update_registered_model("legacy-two", description="Second")
        later = recorded.new(2)
    legacy = model_id(ada, "legacy-eu")
    assert legacy != "legacy"
    assert kinds(events) == [
        ("model.description_change", legacy),
        ("model.rename", legacy),
        ("model_version.stage_change", f"{legacy}:1"),
    ]
    assert tab(audit, legacy) == kinds(events)
    assert audit.get(f"models/{legacy}")["earlier_names"] == ["legacy"]

    assert {e["actor"]["id"] for e in events + later} == {"admin"}
    # Its first event a rename: the id is given before the change, so both names share it.
    two = model_id(ada, "legacy-two")
    assert kinds(later) == [("model.rename", two), ("model.description_change", two)]
    assert two != legacy


def test_the_id_tag_is_the_plugins_alone(ada: MlflowClient, recorded: Recorded) -> None:
    ada.create_registered_model("guarded")
    recorded.new(1)
    guarded = model_id(ada, "guarded")
    with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
        ada.set_registered_model_tag("guarded", MODEL_ID_TAG, "someone-else")
    with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
        ada.delete_registered_model_tag("guarded", MODEL_ID_TAG)
    assert model_id(ada, "guarded") == guarded
    recorded.new(0)

    # A client's own id at create would join another model's history: the plugin's replaces it.
    ada.create_registered_model("impostor", tags={MODEL_ID_TAG: guarded, "team": "x"})
    (created,) = recorded.new(1)
    impostor = model_id(ada, "impostor")
    assert impostor != guarded
    assert created["subject"]["id"] == impostor
    assert ada.get_registered_model("impostor").tags["team"] == "x"


class _Registry:
    """A registry whose tag writes are not seen yet: two workers meeting the same untagged
    model at the same moment both read it without an id."""

    def __init__(self, created_ms: int) -> None:
        self.created_ms = created_ms
        self.writes: list[str] = []

    def get_registered_model(self, name: str) -> Any:
        return SimpleNamespace(
            name=name, tags={}, creation_timestamp=self.created_ms, workspace="default"
        )

    def set_registered_model_tag(self, _name: str, tag: Any) -> None:
        self.writes.append(tag.value)


class _Stores(MlflowStores):
    def __init__(self, registry: _Registry) -> None:
        self.registry = registry

    def _registry(self) -> Any:
        return self.registry


def test_workers_meeting_an_untagged_model_at_once_give_it_one_id() -> None:
    shared = _Registry(created_ms=1_760_000_000_000)
    first, second = _Stores(shared).model_id("churn"), _Stores(shared).model_id("churn")
    assert first == second
    assert shared.writes == [first, first]
    # A later model with that name (another creation time) is another model.
    assert _Stores(_Registry(created_ms=1_760_000_000_001)).model_id("churn") != first
