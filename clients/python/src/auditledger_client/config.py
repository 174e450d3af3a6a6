"""Client settings from environment variables: ``AuditClient.from_env()``.

One table (name, environment variable, parser, help) drives :func:`options_from_env` and the
settings table of ``docs/integration.md`` (a test checks the docs list every setting). A
variable that is set but unreadable is a :class:`~auditledger_client.errors.ConfigurationError`
naming it; an argument passed to ``from_env`` wins over the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigurationError

MEMORY = "memory"


@dataclass(frozen=True)
class ClientSetting:
    """One option of the client and the environment variable that sets it."""

    name: str
    env: str
    parse: Callable[[str], Any]
    help: str
    required: bool = False


def _spool_path(value: str) -> Path | None:
    return None if value == MEMORY else Path(value)


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be a positive number of seconds")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a positive integer")
    return number


def _durability(value: str) -> str:
    if value not in ("full", "normal"):
        raise ValueError("must be 'full' or 'normal'")
    return value


def _catalog(value: str) -> Any:
    from .core.catalog.extensions import CatalogExtensionError, load_extensions

    try:
        return load_extensions(Path(value))
    except CatalogExtensionError as exc:
        details = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
        raise ValueError(f"{exc.message} ({details})") from None


CLIENT_SETTINGS: tuple[ClientSetting, ...] = (
    ClientSetting("server", "AUDITLEDGER_SERVER", str, "Base URL of the service.", True),
    ClientSetting("token", "AUDITLEDGER_TOKEN", str, "An ingest credential.", True),
    ClientSetting(
        "spool_path",
        "AUDITLEDGER_SPOOL_PATH",
        _spool_path,
        f"The spool file (one per process); `{MEMORY}` keeps events in memory only.",
        True,
    ),
    ClientSetting("org", "AUDITLEDGER_ORG", str, "The organization events belong to."),
    ClientSetting(
        "catalog",
        "AUDITLEDGER_CATALOG_EXTENSIONS",
        _catalog,
        "A catalog extension file (TOML) whose types the client accepts too.",
    ),
    ClientSetting("batch_size", "AUDITLEDGER_BATCH_SIZE", _positive_int, "Events per request."),
    ClientSetting(
        "linger", "AUDITLEDGER_LINGER", _positive_float, "Seconds a batch waits to fill."
    ),
    ClientSetting(
        "max_spool_events",
        "AUDITLEDGER_MAX_SPOOL_EVENTS",
        _positive_int,
        "Events the spool holds before recording raises SpoolFull.",
    ),
    ClientSetting(
        "max_spool_bytes",
        "AUDITLEDGER_MAX_SPOOL_BYTES",
        _positive_int,
        "Bytes the spool holds before recording raises SpoolFull.",
    ),
    ClientSetting(
        "durability",
        "AUDITLEDGER_SPOOL_DURABILITY",
        _durability,
        "`full` (fsync each append) or `normal` (survives the process, not power loss).",
    ),
    ClientSetting(
        "timeout", "AUDITLEDGER_TIMEOUT", _positive_float, "Seconds one HTTP request may take."
    ),
    ClientSetting(
        "ack_timeout",
        "AUDITLEDGER_ACK_TIMEOUT",
        _positive_float,
        "Seconds `wait=True` waits for the service's receipt.",
    ),
)


def options_from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    """The client's keyword arguments from ``environ`` (default: ``os.environ``), with
    ``overrides`` taking precedence."""
    env = os.environ if environ is None else environ
    options: dict[str, Any] = {}
    for setting in CLIENT_SETTINGS:
        if setting.name in overrides:
            continue
        raw = env.get(setting.env)
        if raw is None or raw == "":
            if setting.required:
                raise ConfigurationError(
                    f"{setting.env} is not set ({setting.help.rstrip('.').lower()}); "
                    f"set it or pass {setting.name}="
                )
            continue
        try:
            options[setting.name] = setting.parse(raw)
        except ConfigurationError:
            raise
        except (ValueError, OSError) as exc:
            raise ConfigurationError(f"{setting.env}={raw[:80]!r} is not usable: {exc}") from None
    options.update(overrides)
    return options
