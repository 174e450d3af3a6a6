"""The catalog of every event auditledger records: the single source of truth.

The platform categories and types below are the seed specification's "Tracked events" table,
complete, with the properties it names. ``audit_log`` is auditledger's own category: the audit
log audits itself (exports, sign-ins, retention changes, purges). Validation, the generated
``docs/events.md`` and the typed client methods are all derived from this module.
"""

from __future__ import annotations

from auditledger_client.core.catalog.model import (
    Catalog,
    CategorySpec,
    EventTypeSpec,
    PropertyKind,
    PropertySpec,
)


def _rename(resource: str) -> EventTypeSpec:
    return EventTypeSpec(
        "rename",
        "Rename",
        f"The {resource} was renamed.",
        (
            PropertySpec("old_name", "Old name", description=f"The {resource}'s name before."),
            PropertySpec("new_name", "New name", description=f"The {resource}'s name after."),
        ),
    )


def _bare(key: str, label: str, description: str) -> EventTypeSpec:
    return EventTypeSpec(key, label, description)


_WORKLOADS = ("execution", "pipeline")

# What every destination event records about the destination (never its secrets).
_DESTINATION_PROPERTIES = (
    PropertySpec("name", "Name", description="The destination's name."),
    PropertySpec(
        "transport",
        "Transport",
        PropertyKind.ENUM,
        "How events are delivered.",
        choices=("webhook", "syslog", "nats"),
    ),
    PropertySpec("filters", "Filters", description="The filters, as shown."),
    PropertySpec(
        "include_source",
        "Includes sources",
        PropertyKind.BOOLEAN,
        "Whether the destination receives IP addresses and locations.",
    ),
)

CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "execution",
        "Execution",
        "A single run of a step on compute.",
        subject_types=("execution",),
        types=(
            EventTypeSpec(
                "run",
                "Run",
                "An execution was started.",
                (
                    PropertySpec("commit_id", "Commit ID", description="Source commit executed."),
                    PropertySpec(
                        "environment_id", "Environment ID", description="Compute environment."
                    ),
                    PropertySpec("step_name", "Step name", description="The step that ran."),
                ),
            ),
            _bare("stop", "Stop", "An execution was stopped."),
            _bare("delete", "Delete", "An execution was deleted."),
            _rename("execution"),
        ),
    ),
    CategorySpec(
        "task",
        "Task",
        "A group of executions or pipelines run together (e.g. a hyperparameter sweep).",
        subject_types=("task",),
        types=(
            EventTypeSpec(
                "run",
                "Run",
                "A task was started.",
                (
                    PropertySpec(
                        "workload",
                        "Workload",
                        PropertyKind.ENUM,
                        "What the task runs.",
                        choices=_WORKLOADS,
                    ),
                ),
            ),
            _bare("stop", "Stop", "A task was stopped."),
            _bare("delete", "Delete", "A task was deleted."),
            _rename("task"),
        ),
    ),
    CategorySpec(
        "pipeline",
        "Pipeline",
        "A graph of steps run in order.",
        subject_types=("pipeline",),
        types=(
            _bare("run", "Run", "A pipeline was started."),
            _bare("stop", "Stop", "A pipeline was stopped."),
            _bare("delete", "Delete", "A pipeline was deleted."),
            _rename("pipeline"),
        ),
    ),
    CategorySpec(
        "datum",
        "Datum",
        "A single data file.",
        subject_types=("datum",),
        types=(
            _bare("import", "Import", "A datum was imported."),
            _bare("download", "Download", "A datum was downloaded."),
            _bare("delete", "Delete", "A datum was deleted."),
            _bare("preview", "Preview", "A datum was previewed."),
        ),
    ),
    CategorySpec(
        "dataset",
        "Dataset",
        "A named collection of data, with versions.",
        subject_types=("dataset",),
        types=(
            EventTypeSpec(
                "create",
                "Create",
                "A dataset was created.",
                (PropertySpec("dataset_name", "Dataset name", description="Its name."),),
            ),
            _bare("delete", "Delete", "A dataset was deleted."),
            _rename("dataset"),
        ),
    ),
    CategorySpec(
        "dataset_version",
        "Dataset version",
        "One version of a dataset.",
        subject_types=("dataset_version",),
        parent_type="dataset",
        types=(
            _bare("create", "Create", "A dataset version was created."),
            _bare("archive", "Archive", "A dataset version was archived."),
        ),
    ),
    CategorySpec(
        "model",
        "Model",
        "A registered model, with versions.",
        subject_types=("model",),
        types=(
            EventTypeSpec(
                "create",
                "Create",
                "A model was created.",
                (PropertySpec("model_name", "Model name", description="Its name."),),
            ),
            _bare("archive", "Archive", "A model was archived."),
            _rename("model"),
            EventTypeSpec(
                "description_change",
                "Description change",
                "A model's description was changed.",
                (
                    PropertySpec(
                        "old_description", "Old description", description="Before (may be empty)."
                    ),
                    PropertySpec(
                        "new_description", "New description", description="After (may be empty)."
                    ),
                ),
            ),
        ),
    ),
    CategorySpec(
        "model_version",
        "Model version",
        "One version of a model.",
        subject_types=("model_version",),
        parent_type="model",
        types=(
            _bare("create", "Create", "A model version was created."),
            _bare("approve", "Approve", "A model version was approved."),
            _bare("reject", "Reject", "A model version was rejected."),
            EventTypeSpec(
                "tag_change",
                "Tag change",
                "A model version's tags were changed.",
                (
                    PropertySpec("old_tags", "Old tags", PropertyKind.STRING_LIST, "Tags before."),
                    PropertySpec("new_tags", "New tags", PropertyKind.STRING_LIST, "Tags after."),
                ),
            ),
            _bare("download", "Download", "A model version was downloaded."),
        ),
    ),
    CategorySpec(
        "user",
        "User",
        "A person's account in the organization.",
        subject_types=("user",),
        types=(
            _bare("login", "Login", "A user signed in to the platform."),
            _bare("logout", "Logout", "A user signed out of the platform."),
            EventTypeSpec(
                "team_membership_change",
                "Team membership change",
                "A user's teams were changed.",
                (
                    PropertySpec(
                        "old_teams", "Old teams", PropertyKind.STRING_LIST, "Teams before."
                    ),
                    PropertySpec(
                        "new_teams", "New teams", PropertyKind.STRING_LIST, "Teams after."
                    ),
                ),
            ),
            EventTypeSpec(
                "user_name_change",
                "User name change",
                "A user's name was changed.",
                (
                    PropertySpec("old_name", "Old name", description="The name before."),
                    PropertySpec("new_name", "New name", description="The name after."),
                ),
            ),
        ),
    ),
    CategorySpec(
        "audit_log",
        "Audit log",
        "auditledger's own actions: reading, exporting, retaining and streaming the audit log "
        "itself.",
        subject_types=("audit_log", "user", "export", "destination"),
        internal=True,
        types=(
            EventTypeSpec(
                "export",
                "Export",
                "Events were exported from the audit log.",
                (
                    PropertySpec(
                        "format",
                        "Format",
                        PropertyKind.ENUM,
                        "File format.",
                        choices=("csv", "jsonl", "bundle"),
                        choice_labels=(
                            ("csv", "CSV"),
                            ("jsonl", "JSON Lines"),
                            ("bundle", "Evidence bundle"),
                        ),
                    ),
                    PropertySpec("filters", "Filters", description="The filters, as shown."),
                    PropertySpec(
                        "rows",
                        "Rows",
                        PropertyKind.INTEGER,
                        "Events the export holds (on a stopped export: written).",
                    ),
                    PropertySpec(
                        "completed",
                        "Completed",
                        PropertyKind.BOOLEAN,
                        "Absent on the record written before the export; false on the second "
                        "record of an export that stopped before its end.",
                        required=False,
                    ),
                ),
            ),
            EventTypeSpec(
                "read",
                "Read",
                "Events were read through the query API with a credential. Recorded before the "
                "events were returned, once per credential, route, filters and hour.",
                (
                    PropertySpec("route", "Route", description="What was read, e.g. GET /events."),
                    PropertySpec("filters", "Filters", description="The filters, as shown."),
                    PropertySpec(
                        "hour",
                        "Hour",
                        description="The hour this record covers: identical reads by the same "
                        "credential until its end are not recorded again.",
                    ),
                ),
            ),
            EventTypeSpec(
                "sign_in",
                "Sign in",
                "Someone signed in to the audit log.",
                (
                    PropertySpec(
                        "method",
                        "Method",
                        PropertyKind.ENUM,
                        "How.",
                        choices=("password",),
                        choice_labels=(("password", "Password"),),
                    ),
                ),
            ),
            _bare("sign_out", "Sign out", "Someone signed out of the audit log."),
            EventTypeSpec(
                "sign_in_failure",
                "Sign in failure",
                "A sign-in to the audit log was refused.",
                (
                    PropertySpec("username", "Username", description="The name that was tried."),
                    PropertySpec(
                        "reason",
                        "Reason",
                        PropertyKind.ENUM,
                        "Why it was refused.",
                        choices=("bad_credentials", "not_a_member", "rate_limited"),
                        choice_labels=(
                            ("bad_credentials", "Wrong username or password"),
                            ("not_a_member", "Not a member of any organization"),
                            ("rate_limited", "Too many attempts"),
                        ),
                    ),
                    PropertySpec(
                        "limit",
                        "Limit",
                        PropertyKind.ENUM,
                        "rate_limited only: the throttle that refused (per username at one "
                        "address, per address, or per username from anywhere).",
                        required=False,
                        choices=("username_address", "address", "username"),
                    ),
                    PropertySpec(
                        "failures",
                        "Failures",
                        PropertyKind.INTEGER,
                        "rate_limited only: failed sign-ins counted against that throttle in "
                        "its window. Further refusals in the window are not recorded.",
                        required=False,
                    ),
                    PropertySpec(
                        "retry_after",
                        "Retry after",
                        PropertyKind.INTEGER,
                        "rate_limited only: seconds until the next attempt is checked.",
                        required=False,
                    ),
                    PropertySpec(
                        "unrecorded",
                        "Unrecorded",
                        PropertyKind.INTEGER,
                        "rate_limited only: earlier refusals by the same throttle that were "
                        "not recorded one by one.",
                        required=False,
                    ),
                ),
            ),
            EventTypeSpec(
                "retention_change",
                "Retention change",
                "The organization's retention period was changed.",
                (
                    PropertySpec("old_days", "Old days", PropertyKind.INTEGER, "Days before."),
                    PropertySpec("new_days", "New days", PropertyKind.INTEGER, "Days after."),
                ),
            ),
            EventTypeSpec(
                "legal_hold_change",
                "Legal hold change",
                "A legal hold was placed on or released from the organization.",
                (
                    PropertySpec("old_hold", "Old hold", PropertyKind.BOOLEAN, "Held before."),
                    PropertySpec("new_hold", "New hold", PropertyKind.BOOLEAN, "Held after."),
                    PropertySpec(
                        "reason", "Reason", description="Why (e.g. a case number).", required=False
                    ),
                ),
            ),
            EventTypeSpec(
                "destination_create",
                "Destination create",
                "A streaming destination was created.",
                _DESTINATION_PROPERTIES,
            ),
            EventTypeSpec(
                "destination_change",
                "Destination change",
                "A streaming destination's settings, filters or secrets were changed.",
                (
                    *_DESTINATION_PROPERTIES,
                    PropertySpec(
                        "changed",
                        "Changed",
                        PropertyKind.STRING_LIST,
                        "The fields that changed (secret values are never recorded).",
                    ),
                ),
            ),
            EventTypeSpec(
                "destination_pause",
                "Destination pause",
                "Delivery to a streaming destination was paused.",
                _DESTINATION_PROPERTIES,
            ),
            EventTypeSpec(
                "destination_resume",
                "Destination resume",
                "Delivery to a paused or dead-lettered streaming destination was resumed.",
                _DESTINATION_PROPERTIES,
            ),
            EventTypeSpec(
                "destination_delete",
                "Destination delete",
                "A streaming destination was deleted.",
                _DESTINATION_PROPERTIES,
            ),
            EventTypeSpec(
                "purge",
                "Purge",
                "Events past retention were purged; their leaf hashes stay in the Merkle log.",
                (
                    PropertySpec("count", "Count", PropertyKind.INTEGER, "Events purged."),
                    PropertySpec(
                        "cutoff", "Cutoff", description="Events that occurred before this went."
                    ),
                    PropertySpec(
                        "ranges",
                        "Ranges",
                        PropertyKind.STRING_LIST,
                        "Purged sequence numbers as inclusive 'first-last' ranges.",
                    ),
                ),
            ),
        ),
    ),
)

# The seed's catalog; a deployment's extensions add to it (see extensions.py), never change it.
SEED = Catalog(CATEGORIES)
CATEGORY_INDEX: dict[str, CategorySpec] = SEED.index


def category(key: str) -> CategorySpec | None:
    """The category named ``key``, or None."""
    return CATEGORY_INDEX.get(key)


def event_type(category_key: str, type_key: str) -> EventTypeSpec | None:
    """The event type ``category_key.type_key``, or None if either part is unknown."""
    spec = CATEGORY_INDEX.get(category_key)
    return spec.type(type_key) if spec else None


def platform_categories() -> tuple[CategorySpec, ...]:
    """The categories the platform may send (the seed's table); excludes auditledger's own."""
    return tuple(c for c in CATEGORIES if not c.internal)
