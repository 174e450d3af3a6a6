"""The destination form: its fields built from the transports' settings, and what it posts read
back into the arguments of :class:`~auditledger.streaming.service.DestinationService`.

Every transport's fields are on the create form at once (which one counts is the transport
chosen), so the form works without JavaScript. Secrets are write-only: their inputs are always
empty, the page says only whether one is set, and a blank input keeps the stored value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from auditledger.core.errors import InvalidInput, Problem
from auditledger.query.filters import FILTER_PARAMETERS
from auditledger.streaming.model import (
    BOOLEAN_SETTINGS,
    PEM_SETTINGS,
    SECRETS,
    SETTINGS,
    WEBHOOK_FORMATS,
    Destination,
    Transport,
)
from auditledger.web.pages.forms import first_values

# The view's filters a destination may carry, in the order of the view's form (sources are a
# reading filter for people, not a delivery rule).
# A destination takes the filters proper (never q), and never an IP filter.
FILTERS = tuple(name for name in FILTER_PARAMETERS if name != "ip")

_LABELS: dict[str, tuple[str, str]] = {
    "url": ("URL", ""),
    "format": ("Body format", "json: the batch as sent; splunk_hec: Splunk HEC's event lines."),
    "host": ("Host", ""),
    "port": ("Port", ""),
    "app_name": ("APP-NAME", "Default: auditledger."),
    "subject_prefix": ("Subject prefix", "Default: auditledger (subject: prefix.organization)."),
    "tls": ("Use TLS", "Syslog over TLS (RFC 5425 framing is the same octet counting)."),
    "tls_ca": ("CA certificates (PEM)", "Trust these; empty: the system's trusted CAs."),
    "tls_verify": (
        "Verify the server's certificate and name",
        "Turn off only for a test receiver: anyone on the path could read the stream.",
    ),
    "tls_client_cert": ("Client certificate (PEM)", "Optional, with its key below."),
    "hmac_key": ("HMAC key", "Signs each batch (X-Auditledger-Signature)."),
    "token": ("Token", "Sent as Authorization (Bearer, or Splunk for splunk_hec)."),
    "tls_client_key": ("Client key (PEM)", "The client certificate's private key."),
}
_FILTER_LABELS = {
    "from": "Events from",
    "to": "Events to",
    "tz": "Time zone of the dates",
    "project": "Project ids",
    "model": "Model ids",
    "model_version": "Model version ids",
    "category": "Categories",
    "type": "Types",
    "actor": "Actor ids",
    "subject": "Subject ids",
}
_FILTER_HINTS = {
    "from": "A date (2026-05-01) or a date-time; empty: no lower bound.",
    "to": "A date or a date-time; empty: no upper bound.",
    "tz": "An IANA name; default UTC.",
}
_LIST_HINT = "Several: separate with commas (any of them matches)."


@dataclass(frozen=True)
class Field:
    """One input of the form."""

    name: str  # the form field's name
    label: str
    kind: str  # text, number, select, checkbox, pem, secret
    value: str = ""
    hint: str = ""
    required: bool = False
    options: tuple[str, ...] = ()
    is_set: bool = False  # secrets: whether one is stored
    error: str | None = None

    @property
    def id(self) -> str:
        """The input's id (the name, with characters that ids dislike replaced)."""
        return "d-" + self.name.replace(".", "-").replace("_", "-")


@dataclass(frozen=True)
class TransportFields:
    """The fieldset of one transport."""

    transport: str
    settings: list[Field]
    secrets: list[Field]


@dataclass
class DestinationForm:
    """What the create and edit pages show."""

    name: Field
    transports: list[TransportFields]
    filters: list[Field]
    include_source: bool
    start: str = "now"  # "now" or "seq" (create only)
    start_seq: Field | None = None
    paused: bool = False
    chosen: str = Transport.WEBHOOK.value
    problems: list[Problem] = field(default_factory=list)
    transport_error: str | None = None


def _setting(transport: Transport, key: str, value: Any, required: bool) -> Field:
    label, hint = _LABELS.get(key, (key, ""))
    name = f"{transport.value}.{key}"
    if key in BOOLEAN_SETTINGS:
        return Field(name, label, "checkbox", "on" if value else "", hint)
    if key in PEM_SETTINGS:
        return Field(name, label, "pem", str(value or ""), hint)
    if key == "format":
        return Field(name, label, "select", str(value or "json"), hint, options=WEBHOOK_FORMATS)
    kind = "number" if key == "port" else "text"
    return Field(name, label, kind, "" if value is None else str(value), hint, required)


def _fieldsets(
    transports: Sequence[Transport],
    settings: dict[Transport, dict[str, Any]],
    secrets_set: dict[Transport, Sequence[str]],
) -> list[TransportFields]:
    found = []
    for transport in transports:
        values = settings.get(transport, {})
        if transport is Transport.SYSLOG and "tls_verify" not in values:
            values = {**values, "tls_verify": True}  # verification is on unless turned off
        found.append(
            TransportFields(
                transport.value,
                [
                    _setting(transport, key, values.get(key), required)
                    for key, required in SETTINGS[transport].items()
                ],
                [
                    Field(
                        f"{transport.value}.secret.{key}",
                        _LABELS.get(key, (key, ""))[0],
                        "pem" if key in PEM_SETTINGS else "secret",
                        "",
                        _LABELS.get(key, ("", ""))[1],
                        is_set=key in secrets_set.get(transport, ()),
                    )
                    for key in SECRETS[transport]
                ],
            )
        )
    return found


def _filter_fields(items: Sequence[tuple[str, str]]) -> list[Field]:
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        grouped.setdefault(name, []).append(value)
    return [
        Field(
            f"filter.{name}",
            _FILTER_LABELS[name],
            "text",
            ", ".join(grouped.get(name, [])),
            _FILTER_HINTS.get(name, _LIST_HINT),
        )
        for name in FILTERS
    ]


def blank_form() -> DestinationForm:
    """The create form, empty."""
    return DestinationForm(
        name=Field("name", "Name", "text", required=True),
        transports=_fieldsets(list(Transport), {}, {}),
        filters=_filter_fields([]),
        include_source=False,
        start_seq=Field("start_seq", "Sequence number", "number", "0"),
    )


def edit_form(destination: Destination) -> DestinationForm:
    """The edit form of ``destination``: its settings and filters, never a secret's value."""
    transport = destination.transport
    return DestinationForm(
        name=Field("name", "Name", "text", destination.name, required=True),
        transports=_fieldsets(
            [transport],
            {transport: destination.settings},
            {transport: destination.secret_names()},
        ),
        filters=_filter_fields(destination.filters),
        include_source=destination.include_source,
        chosen=transport.value,
    )


@dataclass(frozen=True)
class Submitted:
    """What a posted form asks for, as the service's arguments."""

    name: str
    transport: str
    settings: dict[str, Any]
    secrets: dict[str, str]
    filters: list[tuple[str, str]]
    include_source: bool
    start_seq: int | None
    paused: bool


# Settings the form always sends that mean the same as leaving them out: they are stored only
# when given another value (or when the destination already had them), so saving an unchanged
# form changes nothing.
_DEFAULTS: dict[str, Any] = {"format": "json", "tls_verify": True}


def read_submitted(
    items: Sequence[tuple[str, str]], *, existing: Destination | None = None
) -> Submitted:
    """The posted form as service arguments (the transport of ``existing`` when editing).
    Values are passed on as typed, so the service's checks name what is wrong; only the
    start's number is checked here, because the page alone has it."""
    form = first_values(list(items))
    chosen = existing.transport.value if existing else form.get("transport", "").strip()
    settings: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    kind = next((t for t in Transport if t.value == chosen), None)
    if kind is not None:
        for key in SETTINGS[kind]:
            raw = form.get(f"{kind.value}.{key}", "")
            if key in BOOLEAN_SETTINGS:
                settings[key] = raw == "on"
                continue
            value = raw if key in PEM_SETTINGS else raw.strip()
            if value.strip():
                settings[key] = int(value) if key == "port" and value.isdigit() else value
        for key in SECRETS[kind]:
            value = form.get(f"{kind.value}.secret.{key}", "")
            if value.strip():
                secrets[key] = value.strip() if key not in PEM_SETTINGS else value
        if kind is Transport.SYSLOG and not settings.get("tls"):
            # Without TLS the TLS fields mean nothing: drop them rather than store them.
            settings = {k: v for k, v in settings.items() if not k.startswith("tls")}
            secrets = {k: v for k, v in secrets.items() if not k.startswith("tls")}
        had = existing.settings if existing is not None else {}
        for key, default in _DEFAULTS.items():
            if settings.get(key) == default and key not in had:
                del settings[key]
    filters = [
        (name, part.strip())
        for name in FILTERS
        for part in form.get(f"filter.{name}", "").split(",")
        if part.strip()
    ]
    if existing is not None:
        # Filters the form does not show (an IP filter set through the API) are kept.
        filters += [(name, value) for name, value in existing.filters if name not in FILTERS]
    start_seq = None
    if form.get("start") == "seq":
        text = form.get("start_seq", "").strip()
        if not text.isdigit():
            raise InvalidInput(
                "bad start",
                [Problem("start_seq", "must be a sequence number (0 for the whole log)")],
            )
        start_seq = int(text)
    return Submitted(
        name=form.get("name", "").strip(),
        transport=chosen,
        settings=settings,
        secrets=secrets,
        filters=filters,
        include_source=form.get("include_source") == "on",
        start_seq=start_seq,
        paused=form.get("paused") == "on",
    )


def refilled(
    items: Sequence[tuple[str, str]],
    problems: Sequence[Problem],
    *,
    destination: Destination | None = None,
) -> DestinationForm:
    """The form as it was posted (secrets left empty), with each problem beside its field."""
    form = first_values(list(items))
    base = edit_form(destination) if destination is not None else blank_form()
    chosen = destination.transport.value if destination else form.get("transport", "webhook")
    errors = _errors_by_field(problems, chosen)

    def again(f: Field) -> Field:
        if f.kind == "secret" or (f.kind == "pem" and ".secret." in f.name):
            value = ""
        elif f.kind == "checkbox":
            value = form.get(f.name, "")
        else:
            value = form.get(f.name, f.value)
        return Field(
            f.name,
            f.label,
            f.kind,
            value,
            f.hint,
            f.required,
            f.options,
            f.is_set,
            errors.get(f.name),
        )

    base.name = again(base.name)
    base.transports = [
        TransportFields(t.transport, [again(f) for f in t.settings], [again(f) for f in t.secrets])
        for t in base.transports
    ]
    base.filters = [again(f) for f in base.filters]
    if base.start_seq is not None:
        base.start_seq = again(base.start_seq)
    base.include_source = form.get("include_source") == "on"
    base.paused = form.get("paused") == "on"
    base.start = "seq" if form.get("start") == "seq" else "now"
    base.chosen = chosen
    base.problems = list(problems)
    base.transport_error = errors.get("transport")
    return base


def _errors_by_field(problems: Sequence[Problem], transport: str) -> dict[str, str]:
    """Problems keyed by the form field they concern (the service names ``settings.url``; the
    form calls it ``webhook.url``)."""
    found: dict[str, str] = {}
    for problem in problems:
        name = problem.field
        if name.startswith("settings."):
            name = f"{transport}.{name.removeprefix('settings.')}"
        elif name.startswith("secrets."):
            name = f"{transport}.secret.{name.removeprefix('secrets.')}"
        elif name in FILTERS:
            name = f"filter.{name}"
        found.setdefault(name, problem.message)
    return found
