"""What the mapping reads from MLflow's own stores before a change (the request carries only
new values). Every read is best effort: a missing resource is None, and MLflow then answers
the request with its own error, which produces no event."""

from __future__ import annotations

from typing import Any


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
        """The registered model's description now."""
        try:
            model = self._registry().get_registered_model(name)
        except Exception:
            return None
        return {"name": model.name, "description": model.description or ""}

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
        """The names of the user's basic-auth roles (MLflow's teams), or None."""
        try:
            from mlflow.server.auth import store

            user = store.get_user(username)
            return sorted(str(role.name) for role in store.list_user_roles(user.id))
        except Exception:
            return None

    def role_name(self, role_id: str) -> str | None:
        """A role's name."""
        try:
            from mlflow.server.auth import store

            return str(store.get_role(int(role_id)).name)
        except Exception:
            return None
