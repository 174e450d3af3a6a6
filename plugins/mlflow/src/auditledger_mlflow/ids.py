"""A registered model's id in the audit log: MLflow names a model only by its name, which a
rename changes and a new model may take again, so the plugin gives each model an id of its own
and keeps it on the model as the tag ``auditledger.model_id`` (MLflow's store is what every
worker shares).

A model created through the plugin gets a random id, in the create request itself (the model
never exists without it). A model the plugin first meets already made (created before the
plugin was installed) gets an id derived from what identifies it at that moment, its workspace,
name and creation time, written before the change the request makes: two workers meeting it at
once derive the same id, so whichever write lands, every event names the same model.
"""

from __future__ import annotations

import uuid

MODEL_ID_TAG = "auditledger.model_id"
# The namespace of ids derived for models that predate the plugin (any fixed UUID would do).
_FIRST_SEEN = uuid.UUID("6d1f0c5e-8a4b-4f0e-9f51-3c2a7d9b1e40")


def new_model_id() -> str:
    """The id of a model being created."""
    return str(uuid.uuid4())


def first_seen_id(workspace: str, name: str, created_ms: int) -> str:
    """The id of a model made before the plugin saw it: the same for the same model, however
    many workers derive it, and different for a later model that takes the same name."""
    return str(uuid.uuid5(_FIRST_SEEN, f"{workspace}\x00{name}\x00{created_ms}"))
