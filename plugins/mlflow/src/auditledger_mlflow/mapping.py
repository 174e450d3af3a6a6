"""Which auditledger event each successful MLflow request is, with its subject and properties.

One :class:`Route` per MLflow REST endpoint that changes state (and the model-version download
URI, which is how a client fetches a version's artifacts). ``before`` reads from MLflow's
stores what the request does not carry (old names, descriptions, tags, stages, alias targets)
*before* the change; ``after`` turns the request, MLflow's answer and those old values into
events. docs/mlflow.md is this table in prose; the plugin's tests check it row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from auditledger_client import CustomEvent, Event, Ref
from auditledger_client.events import (
    DatasetVersionCreate,
    ExecutionDelete,
    ExecutionRename,
    ExecutionRun,
    ExecutionStop,
    ModelArchive,
    ModelCreate,
    ModelDescriptionChange,
    ModelRename,
    ModelVersionApprove,
    ModelVersionCreate,
    ModelVersionDownload,
    ModelVersionReject,
    ModelVersionTagChange,
    UserTeamMembershipChange,
)

from .ids import MODEL_ID_TAG, new_model_id

Json = Mapping[str, Any]
FINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")


class Stores(Protocol):
    """MLflow's tracking and registry stores (``mlflow.server.handlers``), as the plugin uses
    them; tests may hand in others."""

    def experiment_name(self, experiment_id: str) -> str | None: ...
    def run(self, run_id: str) -> dict[str, Any] | None: ...
    def model(self, name: str) -> dict[str, Any] | None: ...
    def model_id(self, name: str) -> str | None: ...
    def set_model_id(self, name: str, model_id: str) -> None: ...
    def version(self, name: str, version: str) -> dict[str, Any] | None: ...
    def alias_target(self, name: str, alias: str) -> str | None: ...
    def user_roles(self, username: str) -> list[str] | None: ...
    def role_name(self, role_id: str) -> str | None: ...
    def role_permission(self, role_permission_id: str) -> dict[str, str] | None: ...
    def role_users(self, role_id: str) -> list[str] | None: ...
    def user_is_admin(self, username: str) -> bool | None: ...
    def permission(self, username: str, resource_type: str, resource_id: str) -> str | None: ...


@dataclass(frozen=True)
class Planned:
    """One event to record: what happened, to what, in which experiment."""

    event: Event
    subject: Ref
    project: Ref | None = None

    @property
    def action(self) -> str:
        """``category.type``, as fail-closed settings name it."""
        return f"{self.event.category}.{self.event.type}"


Before = Callable[[Json, Stores], Any]
After = Callable[[Json, Json, Any, Stores], list[Planned]]
Amend = Callable[[dict[str, Any], Any], None]
Refuse = Callable[[Json], str | None]


@dataclass(frozen=True)
class Route:
    """An MLflow endpoint and how its successful requests become events."""

    method: str
    path: str  # after /api/2.0/mlflow/ (or /ajax-api/2.0/mlflow/)
    after: After
    before: Before | None = None
    # The events can be known before the change (nothing in them comes from the answer), so a
    # fail-closed action can be committed to the audit log first.
    predictable: bool = False
    # Changes the request (its parsed JSON body, with what ``before`` read) before MLflow
    # handles it: how a registered model is created with its audit id.
    amend: Amend | None = None
    # Why the plugin refuses the request (403, before MLflow sees it), or None.
    refuse: Refuse | None = None


def experiment(experiment_id: str, stores: Stores, name: str | None = None) -> Ref:
    """The experiment as a project (and as a subject)."""
    return Ref(str(experiment_id), name or stores.experiment_name(str(experiment_id)))


def model_ref(model_id: str, name: str) -> Ref:
    """A registered model: its audit id (ids.py), named by its name at the time."""
    return Ref(model_id, name)


def version_ref(model_id: str, name: str, version: str) -> Ref:
    """A model version, ``v<n>`` of its model (as the model's page lists versions: the label
    stays true across the model's renames). Resource ids never hold "/" (they have pages of
    their own; auditledger refuses them at ingest), so the version follows a ":"."""
    return Ref(f"{model_id}:{version}", f"v{version}", parent=model_ref(model_id, name))


def tags_list(tags: Mapping[str, str]) -> list[str]:
    """Tags as sorted ``key=value`` strings."""
    return [f"{k}={v}" for k, v in sorted(tags.items())]


def tag_change(
    before: Mapping[str, str], body: Json, removed: bool
) -> tuple[list[str], list[str]] | None:
    """The tags before and after a set-tag or delete-tag request (``key``, ``value``), as
    :func:`tags_list`; None when the request changes nothing."""
    was = dict(before)
    tags = dict(was)
    if removed:
        tags.pop(body.get("key", ""), None)
    else:
        tags[body["key"]] = body.get("value", "")
    return None if tags == was else (tags_list(was), tags_list(tags))


# Experiments -------------------------------------------------------------------------------


def _experiment_created(body: Json, answer: Json, _old: Any, stores: Stores) -> list[Planned]:
    exp = experiment(answer["experiment_id"], stores, body.get("name"))
    values = {
        "experiment_name": body.get("name", ""),
        "artifact_location": body.get("artifact_location") or None,
    }
    return [Planned(CustomEvent("experiment", "create", values), exp, exp)]


def _experiment_name(body: Json, stores: Stores) -> str | None:
    return stores.experiment_name(str(body.get("experiment_id", "")))


def _experiment_renamed(body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
    new = body.get("new_name")
    if not new or new == old:
        return []
    exp = experiment(body["experiment_id"], stores, new)
    event = CustomEvent("experiment", "rename", {"old_name": old or "", "new_name": new})
    return [Planned(event, exp, exp)]


def _experiment_event(kind: str) -> After:
    def after(body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
        exp = experiment(body["experiment_id"], stores, old)
        return [Planned(CustomEvent("experiment", kind), exp, exp)]

    return after


# Runs --------------------------------------------------------------------------------------


def _run_created(_body: Json, answer: Json, _old: Any, stores: Stores) -> list[Planned]:
    run = answer["run"]
    info = run["info"]
    tags = {t["key"]: t.get("value", "") for t in run.get("data", {}).get("tags", [])}
    event = ExecutionRun(
        commit_id=tags.get("mlflow.source.git.commit", ""),
        environment_id=tags.get("mlflow.project.backend") or tags.get("mlflow.source.type", ""),
        step_name=tags.get("mlflow.project.entryPoint") or tags.get("mlflow.source.name", ""),
    )
    subject = Ref(info["run_id"], info.get("run_name") or None)
    return [Planned(event, subject, experiment(info["experiment_id"], stores))]


def _old_run(body: Json, stores: Stores) -> dict[str, Any] | None:
    return stores.run(str(body.get("run_id") or body.get("run_uuid") or ""))


def _run_updated(body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
    if old is None:
        return []
    project = experiment(old["experiment_id"], stores)
    planned = []
    name = body.get("run_name")
    if name and name != old["name"]:
        planned.append(
            Planned(
                ExecutionRename(old_name=old["name"] or "", new_name=name),
                Ref(old["run_id"], name),
                project,
            )
        )
    status = body.get("status")
    if status in FINAL_STATUSES and old["status"] not in FINAL_STATUSES:
        planned.append(Planned(ExecutionStop(), Ref(old["run_id"], name or old["name"]), project))
    return planned


def _run_deleted(_body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
    if old is None:
        return []
    project = experiment(old["experiment_id"], stores)
    return [Planned(ExecutionDelete(), Ref(old["run_id"], old["name"]), project)]


def _run_tag(removed: bool) -> After:
    def after(body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
        if old is None:
            return []
        changed = tag_change(old["tags"], body, removed)
        if changed is None:
            return []
        event = CustomEvent(
            "execution", "tag_change", {"old_tags": changed[0], "new_tags": changed[1]}
        )
        return [
            Planned(
                event, Ref(old["run_id"], old["name"]), experiment(old["experiment_id"], stores)
            )
        ]

    return after


def _inputs_logged(body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
    if old is None:
        return []
    project = experiment(old["experiment_id"], stores)
    planned = []
    for item in body.get("datasets") or []:
        dataset = item.get("dataset") or {}
        name, digest = dataset.get("name", ""), dataset.get("digest", "")
        subject = Ref(f"{name}@{digest}", digest or None, parent=Ref(name, name))
        planned.append(Planned(DatasetVersionCreate(), subject, project))
    return planned


# Registered models and versions -------------------------------------------------------------


def _new_model(_body: Json, _stores: Stores) -> dict[str, Any]:
    return {"model_id": new_model_id()}


def _with_model_id(body: dict[str, Any], old: Any) -> None:
    """The create request, amended so that MLflow creates the model with its audit id: only
    that one (a client's own ``auditledger.model_id`` would join another model's history)."""
    tags = body.get("tags", [])
    if not isinstance(tags, list):
        return  # MLflow refuses the request itself
    kept = [t for t in tags if not (isinstance(t, Mapping) and t.get("key") == MODEL_ID_TAG)]
    body["tags"] = [*kept, {"key": MODEL_ID_TAG, "value": old["model_id"]}]


def _model_created(body: Json, answer: Json, old: Any, stores: Stores) -> list[Planned]:
    name = body["name"]
    model_id = old["model_id"] if old else new_model_id()  # none read before: choose it now
    created = answer.get("registered_model")
    if isinstance(created, Mapping):  # after the change (a fail-closed plan has no answer)
        tags = {t.get("key"): t.get("value") for t in created.get("tags") or []}
        if tags.get(MODEL_ID_TAG) != model_id:  # the amended request did not reach MLflow
            stores.set_model_id(name, model_id)
    return [Planned(ModelCreate(model_name=name), model_ref(model_id, name))]


def _old_model(body: Json, stores: Stores) -> dict[str, Any] | None:
    """The model a request names, with its audit id (given one now if it has none)."""
    name = str(body.get("name", ""))
    model = stores.model(name)
    model_id = stores.model_id(name) if model is not None else None
    return None if model is None or model_id is None else {**model, "model_id": model_id}


def _model_id(body: Json, stores: Stores) -> dict[str, Any] | None:
    model_id = stores.model_id(str(body.get("name", "")))
    return None if model_id is None else {"model_id": model_id}


def _id_of(old: Any, name: str, stores: Stores) -> str | None:
    """The model's id as read before the change, or now."""
    found = old.get("model_id") if isinstance(old, Mapping) else None
    return str(found) if found else stores.model_id(name)


def _model_renamed(body: Json, _answer: Json, old: Any, _stores: Stores) -> list[Planned]:
    new = body.get("new_name")
    if old is None or not new or new == body["name"]:
        return []
    event = ModelRename(old_name=body["name"], new_name=new)
    return [Planned(event, model_ref(old["model_id"], new))]


def _model_updated(body: Json, _answer: Json, old: Any, _stores: Stores) -> list[Planned]:
    if old is None or "description" not in body:
        return []
    before, after = old.get("description") or "", body.get("description") or ""
    if before == after:
        return []
    event = ModelDescriptionChange(old_description=before, new_description=after)
    return [Planned(event, model_ref(old["model_id"], body["name"]))]


def _model_deleted(body: Json, _answer: Json, old: Any, _stores: Stores) -> list[Planned]:
    if old is None:
        return []
    return [Planned(ModelArchive(), model_ref(old["model_id"], body["name"]))]


def _model_id_tag_kept(body: Json) -> str | None:
    if body.get("key") == MODEL_ID_TAG:
        return f"the tag {MODEL_ID_TAG} is this model's id in the audit log; it cannot change"
    return None


def _model_tag(removed: bool) -> After:
    def after(body: Json, _answer: Json, old: Any, _stores: Stores) -> list[Planned]:
        if old is None:
            return []
        before = {k: v for k, v in old["tags"].items() if k != MODEL_ID_TAG}
        changed = tag_change(before, body, removed)
        if changed is None:
            return []
        event = CustomEvent("model", "tag_change", {"old_tags": changed[0], "new_tags": changed[1]})
        return [Planned(event, model_ref(old["model_id"], body["name"]))]

    return after


def _version_project(version: Mapping[str, Any] | None, stores: Stores) -> Ref | None:
    run_id = (version or {}).get("run_id")
    run = stores.run(run_id) if run_id else None
    return experiment(run["experiment_id"], stores) if run else None


def _version_created(_body: Json, answer: Json, old: Any, stores: Stores) -> list[Planned]:
    version = answer["model_version"]
    model_id = _id_of(old, version["name"], stores)
    if model_id is None:
        return []
    subject = version_ref(model_id, version["name"], str(version["version"]))
    return [Planned(ModelVersionCreate(), subject, _version_project(version, stores))]


def _old_version(body: Json, stores: Stores) -> dict[str, Any] | None:
    """The version a request names, with its model's audit id."""
    name = str(body.get("name", ""))
    version = stores.version(name, str(body.get("version", "")))
    model_id = stores.model_id(name) if version is not None else None
    return None if version is None or model_id is None else {**version, "model_id": model_id}


def _version_tag(removed: bool) -> After:
    def after(body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
        if old is None:
            return []
        changed = tag_change(old["tags"], body, removed)
        if changed is None:
            return []
        event = ModelVersionTagChange(old_tags=changed[0], new_tags=changed[1])
        subject = version_ref(old["model_id"], body["name"], str(body["version"]))
        return [Planned(event, subject, _version_project(old, stores))]

    return after


STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}


def _stage_changed(body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
    if old is None:
        return []
    new = STAGES.get(str(body.get("stage", "")).lower())
    if new is None or new == old["stage"]:
        return []
    event: Event
    if new == "Production":
        event = ModelVersionApprove()  # promoted to production: approved for use
    elif new == "Archived":
        event = ModelVersionReject()  # retired: no longer approved for use
    else:
        event = CustomEvent(
            "model_version", "stage_change", {"old_stage": old["stage"], "new_stage": new}
        )
    subject = version_ref(old["model_id"], body["name"], str(body["version"]))
    return [Planned(event, subject, _version_project(old, stores))]


def _alias_target(body: Json, stores: Stores) -> dict[str, Any] | None:
    """Where the alias points now (None when nowhere), with the model's audit id."""
    name = str(body.get("name", ""))
    model_id = stores.model_id(name)
    if model_id is None:
        return None
    return {"target": stores.alias_target(name, str(body.get("alias", ""))), "model_id": model_id}


def _alias_set(body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
    new = str(body.get("version", ""))
    target = old.get("target") if isinstance(old, Mapping) else None
    model_id = _id_of(old, body["name"], stores)
    if model_id is None or target == new:
        return []
    values = {"alias": body["alias"], "old_version": target, "new_version": new}
    version = stores.version(body["name"], new)
    return [
        Planned(
            CustomEvent("model_version", "alias_change", values),
            version_ref(model_id, body["name"], new),
            _version_project(version, stores),
        )
    ]


def _alias_deleted(body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
    target = old.get("target") if isinstance(old, Mapping) else None
    if target is None:
        return []
    values = {"alias": body["alias"], "old_version": target, "new_version": None}
    version = stores.version(body["name"], target)
    return [
        Planned(
            CustomEvent("model_version", "alias_change", values),
            version_ref(old["model_id"], body["name"], target),
            _version_project(version, stores),
        )
    ]


def _version_downloaded(body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
    name = str(body.get("name", ""))
    model_id = _id_of(old, name, stores)
    if model_id is None:
        return []
    version = stores.version(name, str(body.get("version", "")))
    subject = version_ref(model_id, name, str(body["version"]))
    return [Planned(ModelVersionDownload(), subject, _version_project(version, stores))]


# Users under basic-auth ---------------------------------------------------------------------


def _old_roles(body: Json, stores: Stores) -> list[str] | None:
    return stores.user_roles(str(body.get("username", "")))


def _roles_changed(body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
    username = str(body.get("username", ""))
    new = stores.user_roles(username)
    if old is None or new is None or sorted(old) == sorted(new):
        return []
    event = UserTeamMembershipChange(old_teams=sorted(old), new_teams=sorted(new))
    return [Planned(event, Ref(username, username))]


def _old_permission(body: Json, stores: Stores) -> str | None:
    return stores.permission(
        str(body.get("username", "")),
        str(body.get("resource_type", "")),
        str(body.get("resource_id", "")),
    )


def _permission(kind: str) -> After:
    def after(body: Json, _answer: Json, old: Any, _stores: Stores) -> list[Planned]:
        values: dict[str, Any] = {
            "user_name": body.get("username", ""),
            "resource_type": body.get("resource_type", ""),
            "resource_id": str(body.get("resource_id", "")),
        }
        if kind == "grant":
            values["old_permission"] = old
            values["new_permission"] = body.get("permission", "")
        else:
            values["old_permission"] = old or "granted"
        return _permission_planned(kind, values)

    return after


# A team's (role's) permissions: what each of its members may do.


def _role_of(body: Json, stores: Stores) -> str | None:
    return stores.role_name(str(body.get("role_id", "")))


def _team_grant(body: Json, stores: Stores) -> dict[str, str] | None:
    return stores.role_permission(str(body.get("role_permission_id", "")))


def _team_permission(role: str, resource_type: str, pattern: str) -> dict[str, Any]:
    return {"role_name": role, "resource_type": resource_type, "resource_id": pattern}


def _permission_planned(kind: str, values: dict[str, Any]) -> list[Planned]:
    subject = Ref(f"{values['resource_type']}:{values['resource_id']}", values["resource_id"])
    return [Planned(CustomEvent("permission", kind, values), subject)]


def _role_permission_added(body: Json, _answer: Json, old: Any, _stores: Stores) -> list[Planned]:
    if old is None:
        return []
    values = _team_permission(
        old, str(body.get("resource_type", "")), str(body.get("resource_pattern", ""))
    )
    values.update(old_permission=None, new_permission=str(body.get("permission", "")))
    return _permission_planned("grant", values)


def _role_permission_updated(body: Json, _answer: Json, old: Any, _stores: Stores) -> list[Planned]:
    new = str(body.get("permission", ""))
    if old is None or new == old["permission"]:
        return []
    values = _team_permission(old["role_name"], old["resource_type"], old["resource_pattern"])
    values.update(old_permission=old["permission"], new_permission=new)
    return _permission_planned("grant", values)


def _role_permission_removed(
    _body: Json, _answer: Json, old: Any, _stores: Stores
) -> list[Planned]:
    if old is None:
        return []
    values = _team_permission(old["role_name"], old["resource_type"], old["resource_pattern"])
    values.update(old_permission=old["permission"])
    return _permission_planned("revoke", values)


def _members_teams(body: Json, stores: Stores) -> dict[str, list[str] | None] | None:
    members = stores.role_users(str(body.get("role_id", "")))
    return None if members is None else {name: stores.user_roles(name) for name in members}


def _role_deleted(_body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
    # A deleted team is left by each of its members at once: one change of membership each.
    planned = []
    for username, before in sorted((old or {}).items()):
        after = stores.user_roles(username)
        if before is None or after is None or sorted(before) == sorted(after):
            continue
        event = UserTeamMembershipChange(old_teams=sorted(before), new_teams=sorted(after))
        planned.append(Planned(event, Ref(username, username)))
    return planned


def _user(kind: str) -> After:
    # Only the user name is read from these bodies: users/create and update-password carry
    # a plaintext password, which never reaches an event.
    def after(body: Json, _answer: Json, _old: Any, _stores: Stores) -> list[Planned]:
        username = str(body.get("username", ""))
        values = {"user_name": username} if kind == "create" else {}
        return [Planned(CustomEvent("user", kind, values), Ref(username, username))]

    return after


def _signed_up(body: Json, _answer: Json, old: Any, stores: Stores) -> list[Planned]:
    # basic-auth's sign-up page (a form, admins only) answers 200 with a "taken" alert too:
    # a user is created when they did not exist before and do now.
    username = str(body.get("username", ""))
    if old is not None or not username or stores.user_is_admin(username) is None:
        return []
    return _user("create")(body, _answer, old, stores)


def _old_admin(body: Json, stores: Stores) -> bool | None:
    return stores.user_is_admin(str(body.get("username", "")))


def _admin_changed(body: Json, _answer: Json, old: Any, _stores: Stores) -> list[Planned]:
    new = body.get("is_admin")
    if old is None or not isinstance(new, bool) or new == old:
        return []
    role = {True: "admin", False: "user"}
    username = str(body.get("username", ""))
    event = CustomEvent("user", "admin_change", {"old_role": role[old], "new_role": role[new]})
    return [Planned(event, Ref(username, username))]


ROUTES: tuple[Route, ...] = (
    Route("POST", "experiments/create", _experiment_created),
    Route("POST", "experiments/update", _experiment_renamed, _experiment_name, True),
    Route("POST", "experiments/delete", _experiment_event("delete"), _experiment_name, True),
    Route("POST", "experiments/restore", _experiment_event("restore"), _experiment_name, True),
    Route("POST", "runs/create", _run_created),
    Route("POST", "runs/update", _run_updated, _old_run, True),
    Route("POST", "runs/delete", _run_deleted, _old_run, True),
    Route("POST", "runs/set-tag", _run_tag(removed=False), _old_run, True),
    Route("POST", "runs/delete-tag", _run_tag(removed=True), _old_run, True),
    Route("POST", "runs/log-inputs", _inputs_logged, _old_run, True),
    Route("POST", "registered-models/create", _model_created, _new_model, True, _with_model_id),
    Route("POST", "registered-models/rename", _model_renamed, _model_id, True),
    Route("PATCH", "registered-models/update", _model_updated, _old_model, True),
    Route("DELETE", "registered-models/delete", _model_deleted, _old_model, True),
    Route(
        "POST",
        "registered-models/set-tag",
        _model_tag(removed=False),
        _old_model,
        True,
        refuse=_model_id_tag_kept,
    ),
    Route(
        "DELETE",
        "registered-models/delete-tag",
        _model_tag(removed=True),
        _old_model,
        True,
        refuse=_model_id_tag_kept,
    ),
    Route("POST", "model-versions/create", _version_created, _model_id),
    Route("POST", "model-versions/set-tag", _version_tag(removed=False), _old_version, True),
    Route("DELETE", "model-versions/delete-tag", _version_tag(removed=True), _old_version, True),
    Route("POST", "model-versions/transition-stage", _stage_changed, _old_version, True),
    Route("POST", "registered-models/alias", _alias_set, _alias_target, True),
    Route("DELETE", "registered-models/alias", _alias_deleted, _alias_target, True),
    Route("GET", "model-versions/get-download-uri", _version_downloaded, _model_id, True),
    Route("POST", "roles/assign", _roles_changed, _old_roles),
    Route("DELETE", "roles/unassign", _roles_changed, _old_roles),
    Route("DELETE", "roles/delete", _role_deleted, _members_teams),
    Route("POST", "roles/permissions/add", _role_permission_added, _role_of, True),
    Route("PATCH", "roles/permissions/update", _role_permission_updated, _team_grant, True),
    Route("DELETE", "roles/permissions/remove", _role_permission_removed, _team_grant, True),
    Route("POST", "users/permissions/grant", _permission("grant"), _old_permission, True),
    Route("POST", "users/permissions/revoke", _permission("revoke"), _old_permission, True),
    Route("POST", "users/create", _user("create"), None, True),
    Route("POST", "users/create-ui", _signed_up, _old_admin),
    Route("PATCH", "users/update-password", _user("password_change"), None, True),
    Route("PATCH", "users/update-admin", _admin_changed, _old_admin, True),
    Route("DELETE", "users/delete", _user("delete"), None, True),
)

_INDEX = {(r.method, r.path): r for r in ROUTES}
_PREFIXES = (
    "/api/2.0/mlflow/",
    "/ajax-api/2.0/mlflow/",
    "/api/3.0/mlflow/",
    "/ajax-api/3.0/mlflow/",
)


def route_for(method: str, path: str) -> Route | None:
    """The route of a request (the UI's ``/ajax-api`` mirrors count as the same), or None."""
    for prefix in _PREFIXES:
        if path.startswith(prefix):
            return _INDEX.get((method.upper(), path[len(prefix) :].rstrip("/")))
    return None
