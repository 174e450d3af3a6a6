"""What the mapping reads from MLflow's own stores before a change (the request carries only
new values). Every read is best effort: a missing resource is None, and MLflow then answers
the request with its own error, which produces no event."""

from __future__ import annotations

import logging
from typing import Any

from .ids import MODEL_ID_TAG, first_seen_id

log = logging.getLogger("auditledger_mlflow")

# The prefix of the role basic-auth keeps per user for that user's own grants.
SYNTHETIC_ROLE = "__user_"


class MlflowStores:
    """The server's tracking, registry and (under basic-auth) auth stores."""

    def _tracking(self) -> Any:
        from mlflow.server.handlers import _get_tracking_store

        return _get_tracking_store()

    def _registry(self) -> Any:
        from mlflow.server.handlers import _get_model_registry_store

        return _get_model_registry_store()

    def experiment_name(self, experiment_id: str) -> str | None:
        """The experiment's name now."""
        try:
            return str(self._tracking().get_experiment(experiment_id).name)
        except Exception:  # MLflow raises its own errors for unknown ids
            return None

    def run(self, run_id: str) -> dict[str, Any] | None:
        """The run's id, name, status, experiment and tags now."""
        try:
            run = self._tracking().get_run(run_id)
        except Exception:
            return None
        return {
            "run_id": run.info.run_id,
            "name": run.info.run_name,
            "status": run.info.status,
            "experiment_id": run.info.experiment_id,
            "tags": dict(run.data.tags),
        }

    def model(self, name: str) -> dict[str, Any] | None:
        """The registered model's description and tags now."""
        try:
            model = self._registry().get_registered_model(name)
        except Exception:
            return None
        return {
            "name": model.name,
            "description": model.description or "",
            "tags": dict(model.tags or {}),
        }

    def model_id(self, name: str) -> str | None:
        """The registered model's audit id (its ``auditledger.model_id`` tag), given to it now
        when it has none (a model made before the plugin); None when there is no such model."""
        try:
            model = self._registry().get_registered_model(name)
        except Exception:
            return None
        found = (model.tags or {}).get(MODEL_ID_TAG)
        if found:
            return str(found)
        workspace = str(getattr(model, "workspace", None) or "")
        assigned = first_seen_id(workspace, str(model.name), int(model.creation_timestamp or 0))
        self.set_model_id(str(model.name), assigned)
        return assigned

    def set_model_id(self, name: str, model_id: str) -> None:
        """Keep ``model_id`` on the model (best effort: a worker deriving the same id at the
        same moment may win the write, with the same value)."""
        from mlflow.entities.model_registry import RegisteredModelTag

        try:
            self._registry().set_registered_model_tag(
                name, RegisteredModelTag(MODEL_ID_TAG, model_id)
            )
        except Exception:
            log.warning("auditledger: could not keep the id of registered model %r", name)

    def version(self, name: str, version: str) -> dict[str, Any] | None:
        """The model version's stage, tags and run now."""
        try:
            mv = self._registry().get_model_version(name, version)
        except Exception:
            return None
        return {
            "stage": mv.current_stage or "None",
            "tags": dict(mv.tags or {}),
            "run_id": mv.run_id,
        }

    def alias_target(self, name: str, alias: str) -> str | None:
        """The version ``alias`` points to now, or None."""
        try:
            return str(self._registry().get_model_version_by_alias(name, alias).version)
        except Exception:
            return None

    def user_roles(self, username: str) -> list[str] | None:
        """The names of the user's basic-auth roles (MLflow's teams), or None. MLflow keeps a
        user's own grants on a hidden role of theirs (``__user_<id>__``): not a team."""
        try:
            from mlflow.server.auth import store

            user = store.get_user(username)
            names = (str(role.name) for role in store.list_user_roles(user.id))
            return sorted(n for n in names if not n.startswith(SYNTHETIC_ROLE))
        except Exception:
            return None

    def user_is_admin(self, username: str) -> bool | None:
        """Whether the basic-auth user is an admin now, or None for an unknown user."""
        try:
            from mlflow.server.auth import store

            return bool(store.get_user(username).is_admin)
        except Exception:
            return None

    def permission(self, username: str, resource_type: str, resource_id: str) -> str | None:
        """The user's effective permission on a resource now (as basic-auth resolves it, with
        the default), or None."""
        try:
            from mlflow.server import auth

            resolve = auth._resolve_user_permission_for_resource
            return str(resolve(username, resource_type, resource_id).name)
        except Exception:
            return None

    def role_permission(self, role_permission_id: str) -> dict[str, str] | None:
        """One permission of a role (a team): the role's name, the resource and the level."""
        try:
            from mlflow.server.auth import store

            found = store.get_role_permission(int(role_permission_id))
            role = store.get_role(int(found.role_id))
        except Exception:
            return None
        return {
            "role_name": str(role.name),
            "resource_type": str(found.resource_type),
            "resource_pattern": str(found.resource_pattern),
            "permission": str(found.permission),
        }

    def role_users(self, role_id: str) -> list[str] | None:
        """The names of a role's members, or None for an unknown role."""
        try:
            from mlflow.server.auth import store

            members = {int(a.user_id) for a in store.list_role_users(int(role_id))}
            return sorted(str(u.username) for u in store.list_users() if int(u.id) in members)
        except Exception:
            return None

    def role_name(self, role_id: str) -> str | None:
        """A role's name."""
        try:
            from mlflow.server.auth import store

            return str(store.get_role(int(role_id)).name)
        except Exception:
            return None
