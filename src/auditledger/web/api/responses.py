"""What the API's OpenAPI document promises about responses: the error body every 4xx and 5xx
uses, and the shape of each JSON answer.

These models only document. The routes build their JSON with the renderers the pages and
exports share (``event_json`` and friends) and declare these models with ``responses=`` and
``response_model=None``, so nothing is re-validated or reshaped on the way out: a member's
event keeps having no ``source`` key at all. ``extra="forbid"`` makes the documented shapes
exact, so the schemathesis run (tests/reliability/test_api_schema.py) notices any drift.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Errors ------------------------------------------------------------------------------------


class ProblemOut(_Shape):
    """One thing wrong with the request."""

    field: str = Field(description="Where: a parameter or a path like `events[2].actor.id`.")
    message: str


class ErrorDetail(_Shape):
    """A machine-readable code and a sentence for people."""

    code: str = Field(examples=["invalid_input", "unauthenticated", "not_found"])
    message: str
    problems: list[ProblemOut] | None = Field(
        default=None, description="Present when specific fields are at fault."
    )


class ErrorOut(_Shape):
    """The body of every error response."""

    error: ErrorDetail


def error_responses(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for error statuses, each with the error body."""
    return {
        status: {"model": ErrorOut, "description": text} for status, text in descriptions.items()
    }


# Events ------------------------------------------------------------------------------------

PropertyValueOut = str | int | bool | list[str]


class RefOut(_Shape):
    """An id and the name it had when the event happened."""

    id: str
    name: str | None


class TypedRefOut(_Shape):
    """A typed reference (actor, subject, parent)."""

    type: str
    id: str
    name: str | None


class SubjectOut(TypedRefOut):
    """The resource an event is about; model versions name their model as ``parent``."""

    parent: TypedRefOut | None = None


class LocationOut(_Shape):
    """Where an address is: city and country, or a special network (private, loopback...)."""

    city: str | None
    country: str | None
    country_code: str | None
    network: str | None


class SourceOut(_Shape):
    """Where the action came from."""

    ip: str
    location: LocationOut | None


class EventOut(_Shape):
    """An event. ``source`` is present only for administrators (null when none was sent)."""

    id: str
    organization: str
    seq: int
    timestamp: str
    received: str
    category: str
    type: str
    subject: SubjectOut
    properties: dict[str, PropertyValueOut]
    project: RefOut | None
    actor: TypedRefOut
    source: SourceOut | None = None
    hash: str | None = Field(default=None, description="The event's leaf hash (hex).")


class ViewOut(_Shape):
    """Up to ``limit`` matching events, newest first."""

    events: list[EventOut]
    count: int
    has_more: bool
    next_cursor: str | None
    filters: str = Field(description="The filter in words.")
    limit: int


class ModelVersionRefOut(RefOut):
    """A model version and the model it belongs to."""

    model: str | None


class CategoryOut(_Shape):
    """An event category."""

    key: str
    label: str


class TypeOut(_Shape):
    """An event type."""

    key: str
    category: str
    type: str
    label: str


class FiltersOut(_Shape):
    """The values each filter accepts."""

    projects: list[RefOut]
    models: list[RefOut]
    model_versions: list[ModelVersionRefOut]
    actors: list[RefOut]
    categories: list[CategoryOut]
    types: list[TypeOut]


class VersionOut(RefOut):
    """A model version."""

    last_seen: str


class ModelOut(_Shape):
    """A model; ``versions`` only on the single-model route."""

    id: str
    name: str | None
    project: RefOut | None
    last_seen: str
    version_count: int
    versions: list[VersionOut] | None = None
    earlier_names: list[str] | None = Field(
        default=None, description="Names the model had before (single-model route), oldest first."
    )


class ModelsOut(_Shape):
    """The organization's models."""

    models: list[ModelOut]


# Ingest ------------------------------------------------------------------------------------


class ReceiptOut(_Shape):
    """Proof that an event is committed: its place in the log and its leaf hash."""

    id: str
    organization: str
    seq: int
    hash: str
    status: Literal["created", "duplicate"]


class BatchReceiptOut(_Shape):
    """One receipt per event, in the order sent."""

    receipts: list[ReceiptOut]


# Retention ---------------------------------------------------------------------------------


class PurgeOut(_Shape):
    """One run of the retention purge."""

    id: str
    ran_at: str
    cutoff: str
    count: int
    attested_by_seq: int | None
    problem: str | None


class RetentionOut(_Shape):
    """Retention settings, the legal hold and the latest purges."""

    organization: str
    days: int
    default_days: int
    floor_days: int
    cutoff: str
    legal_hold: bool
    legal_hold_reason: str | None
    purges: list[PurgeOut]


# Checkpoints and proofs --------------------------------------------------------------------


class CheckpointOut(_Shape):
    """A signed checkpoint; ``note`` is the C2SP signed note, with any witness cosignatures
    (C2SP tlog-cosignature) as extra signature lines."""

    tree_size: int
    root_hash: str
    note: str
    key_name: str
    created_at: str


class CheckpointsOut(_Shape):
    """A page of checkpoints, newest first."""

    checkpoints: list[CheckpointOut]
    next_before: int | None


class InclusionOut(_Shape):
    """An RFC 9162 inclusion proof."""

    seq: int
    leaf_hash: str
    tree_size: int
    root_hash: str
    proof: list[str]


class ConsistencyOut(_Shape):
    """An RFC 9162 consistency proof."""

    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class KeyOut(_Shape):
    """A verifier key (signed-note ``vkey`` form)."""

    key_id: str
    name: str
    vkey: str
    created_at: str
    retired_at: str | None


class KeysOut(_Shape):
    """Every key that has signed checkpoints."""

    keys: list[KeyOut]


# Operations --------------------------------------------------------------------------------


class HealthOut(_Shape):
    """The process answers."""

    status: Literal["ok"]
    version: str


class ReadyOut(_Shape):
    """Whether to send traffic here; ``reason`` when the database cannot be reached."""

    status: Literal["ok", "unavailable"]
    reason: str | None = None
    database: str | None = None
    schema_current: bool | None = None
    queued_events: int | None = None
    locations: str | None = None


# Streaming destinations --------------------------------------------------------------------


class DestinationOut(_Shape):
    """A streaming destination; secrets appear only by name, never by value."""

    id: str
    organization: str
    name: str
    transport: str
    settings: dict[str, str | int]
    secrets: list[str]
    filters: list[list[str]]
    filters_description: str
    include_source: bool
    state: str
    next_seq: int
    delivered: int
    failed: int
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    last_delivered_at: str | None
    lag_events: int
    lag_seconds: float
    created_at: str
    updated_at: str


class DestinationListOut(_Shape):
    """An organization's destinations."""

    destinations: list[DestinationOut]
