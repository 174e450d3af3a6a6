"""Destinations as the rest of the service sees them, and the checks on their settings.

A destination's settings are split in two: ``settings`` (shown to administrators) and
``secrets`` (HMAC keys, tokens: stored so delivery can use them, never returned by any interface
and replaced by ``"(set)"`` wherever a destination is described).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from auditledger.core.errors import InvalidInput, Problem
from auditledger.query.filters import EventFilter, parse_filters
from auditledger.streaming.tls import TlsConfigError, client_context


class Transport(StrEnum):
    """How a destination receives batches."""

    WEBHOOK = "webhook"
    SYSLOG = "syslog"
    NATS = "nats"


class State(StrEnum):
    """Whether a destination is being delivered."""

    ACTIVE = "active"
    PAUSED = "paused"
    DEAD = "dead"  # retries exhausted: waits for an administrator's retry


# Per transport: the settings it accepts (name -> required) and its secret names.
SETTINGS: dict[Transport, dict[str, bool]] = {
    Transport.WEBHOOK: {"url": True, "format": False},
    Transport.SYSLOG: {
        "host": True,
        "port": True,
        "app_name": False,
        "tls": False,
        "tls_ca": False,
        "tls_verify": False,
        "tls_client_cert": False,
    },
    Transport.NATS: {"url": True, "subject_prefix": False},
}
SECRETS: dict[Transport, tuple[str, ...]] = {
    Transport.WEBHOOK: ("hmac_key", "token"),
    Transport.SYSLOG: ("tls_client_key",),
    Transport.NATS: ("token",),
}
WEBHOOK_FORMATS = ("json", "splunk_hec")
# Settings that are true or false, and settings (and secrets) that hold PEM text.
BOOLEAN_SETTINGS = frozenset({"tls", "tls_verify"})
PEM_SETTINGS = frozenset({"tls_ca", "tls_client_cert", "tls_client_key"})
MAX_PEM = 64 * 1024
MAX_SECRET = 1024


@dataclass(frozen=True)
class Destination:
    """One destination and where its delivery stands."""

    id: uuid.UUID
    org_id: int
    name: str
    transport: Transport
    settings: dict[str, Any]
    secrets: dict[str, str]
    filters: tuple[tuple[str, str], ...]
    include_source: bool
    state: State
    next_seq: int
    batch_from: int
    last_tree_size: int | None
    delivered: int
    failed: int
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_delivered_at: datetime | None
    lease_owner: str | None
    lease_expires: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def event_filter(self) -> EventFilter:
        """The view's filter this destination delivers."""
        return parse_filters(self.filters, allow_search=False)

    def secret_names(self) -> list[str]:
        """Which secrets are set (their values never leave the service)."""
        return sorted(k for k, v in self.secrets.items() if v)


def check_transport(value: str) -> Transport:
    """``value`` as a transport, or :class:`InvalidInput` naming the allowed ones."""
    try:
        return Transport(value)
    except ValueError:
        allowed = ", ".join(t.value for t in Transport)
        raise InvalidInput(
            "unknown transport", [Problem("transport", f"must be one of: {allowed}")]
        ) from None


def check_settings(
    transport: Transport, settings: Mapping[str, Any], secrets: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validated copies of a transport's settings and secrets."""
    problems: list[Problem] = []
    allowed = SETTINGS[transport]
    for key in settings:
        if key not in allowed:
            problems.append(
                Problem(f"settings.{key}", f"not a {transport} setting; use: {', '.join(allowed)}")
            )
    for key, required in allowed.items():
        if required and settings.get(key) in (None, ""):
            problems.append(Problem(f"settings.{key}", f"required for the {transport} transport"))
    for key, value in secrets.items():
        if key not in SECRETS[transport]:
            names = ", ".join(SECRETS[transport]) or "none"
            problems.append(Problem(f"secrets.{key}", f"not a {transport} secret; use: {names}"))
        elif not isinstance(value, str) or not value:
            problems.append(Problem(f"secrets.{key}", "must be a non-empty string"))
        elif len(value) > (MAX_PEM if key in PEM_SETTINGS else MAX_SECRET):
            limit = MAX_PEM if key in PEM_SETTINGS else MAX_SECRET
            problems.append(Problem(f"secrets.{key}", f"must be at most {limit} characters"))
    clean = {k: v for k, v in settings.items() if k in allowed}
    if not problems:
        problems.extend(_check_values(transport, clean))
    if not problems and transport is Transport.SYSLOG:
        problems.extend(check_tls(clean, secrets))
    if problems:
        raise InvalidInput("the destination's settings are not valid", problems)
    return clean, {k: str(v) for k, v in secrets.items()}


def _check_values(transport: Transport, settings: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for key, value in settings.items():
        if key == "port":
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
                problems.append(Problem("settings.port", "must be an integer from 1 to 65535"))
        elif key in BOOLEAN_SETTINGS:
            if not isinstance(value, bool):
                problems.append(Problem(f"settings.{key}", "must be true or false"))
        elif key in PEM_SETTINGS:
            if not isinstance(value, str) or len(value) > MAX_PEM:
                problems.append(
                    Problem(f"settings.{key}", f"must be PEM text (at most {MAX_PEM} characters)")
                )
        elif not isinstance(value, str) or len(value) > 2048:
            problems.append(Problem(f"settings.{key}", "must be a string (at most 2048)"))
    if problems:
        return problems
    if transport is Transport.WEBHOOK:
        parts = urlsplit(settings["url"])
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(Problem("settings.url", "must be an http:// or https:// URL"))
        elif parts.username or parts.password:
            # Credentials in a URL would be shown and logged: they belong in the secrets.
            problems.append(
                Problem("settings.url", "must not hold credentials; set secrets.token instead")
            )
        if settings.get("format", "json") not in WEBHOOK_FORMATS:
            problems.append(
                Problem("settings.format", "must be one of: " + ", ".join(WEBHOOK_FORMATS))
            )
    if transport is Transport.NATS:
        parts = urlsplit(settings["url"])
        if parts.scheme not in ("nats", "tls") or not parts.hostname:
            problems.append(Problem("settings.url", "must be a nats:// URL"))
    return problems


def secret_in_use(key: str, settings: Mapping[str, Any]) -> bool:
    """Whether ``settings`` still use the stored secret ``key``: a TLS client key only with
    TLS and a client certificate. A change that stops using one drops it, or turning TLS off
    would be refused forever for the key kept behind it."""
    if key == "tls_client_key":
        return bool(settings.get("tls") and settings.get("tls_client_cert"))
    return True


def check_tls(settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> list[Problem]:
    """Problems with a syslog destination's TLS settings: certificates that do not load, a
    client certificate without its key (or the reverse), TLS fields without ``tls``."""
    used = [k for k in (*settings, *secrets) if k in PEM_SETTINGS]
    if not settings.get("tls"):
        return [
            Problem(f"settings.{k}" if k in settings else f"secrets.{k}", "needs settings.tls")
            for k in used
        ]
    if bool(settings.get("tls_client_cert")) != bool(secrets.get("tls_client_key")):
        return [
            Problem(
                "settings.tls_client_cert",
                "a client certificate needs its key (secrets.tls_client_key), and the reverse",
            )
        ]
    try:
        client_context(settings, secrets)
    except TlsConfigError as exc:
        return [Problem(exc.field, exc.reason)]
    return []


def target_host(transport: Transport, settings: Mapping[str, Any]) -> tuple[str, int]:
    """The host and port a destination connects to."""
    if transport is Transport.SYSLOG:
        return str(settings["host"]), int(settings["port"])
    parts = urlsplit(str(settings["url"]))
    default = {"https": 443, "http": 80, "nats": 4222, "tls": 4222}.get(parts.scheme, 0)
    return parts.hostname or "", parts.port or default


def check_allowed_target(
    transport: Transport, settings: Mapping[str, Any], allowed: Sequence[str]
) -> None:
    """Refuse a target whose addresses are not all inside the operator's allowed networks
    (with none configured: public addresses only, never loopback or private networks).

    Every address the name resolves to must be allowed, so a name cannot smuggle an internal
    address next to a public one; delivery checks again before each connection (DNS changes).
    """
    host, port = target_host(transport, settings)
    field = "settings.host" if transport is Transport.SYSLOG else "settings.url"
    networks = [ipaddress.ip_network(n, strict=False) for n in allowed]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise InvalidInput(
            "unreachable target", [Problem(field, f"cannot resolve: {exc}")]
        ) from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        permitted = (
            any(address in network for network in networks) if networks else address.is_global
        )
        if not permitted:
            raise InvalidInput(
                "target not allowed",
                [
                    Problem(
                        field,
                        f"{host} resolves to {address}, outside the networks the operator "
                        "allows (AUDITLEDGER_STREAM_ALLOWED_NETWORKS)",
                    )
                ],
            )


def dumps(value: Any) -> str:
    """Compact, stable JSON for the stored columns."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
