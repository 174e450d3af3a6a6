"""Every setting in one table: name, environment variable, default and help.

The table drives the configuration loader (environment variables), the CLI's ``serve`` options
and the configuration section of the README (a test fails when the README lacks one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from auditledger.core.cosignature import WitnessKey, parse_witness_vkey
from auditledger.core.errors import InvalidInput, Problem


@dataclass(frozen=True)
class Setting:
    """One configurable value."""

    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str

    @property
    def env(self) -> str:
        """Its environment variable."""
        return "AUDITLEDGER_" + self.name.upper()

    def default_text(self) -> str:
        """The default as the docs show it."""
        if self.default is None:
            return "(none)"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("use true or false")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _path(text: str) -> Path:
    return Path(text).expanduser()


def _optional_path(text: str) -> Path | None:
    return Path(text).expanduser() if text.strip() else None


def _networks(text: str) -> tuple[str, ...]:
    import ipaddress

    items = tuple(part.strip() for part in text.split(",") if part.strip())
    for item in items:
        ipaddress.ip_network(item, strict=False)
    return items


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness this deployment asks to cosign its checkpoints: where, and its public key."""

    url: str  # the submission prefix; requests go to <url>/add-checkpoint
    key: WitnessKey


def _witnesses(text: str) -> tuple[WitnessEndpoint, ...]:
    found = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        parts = entry.split()
        if len(parts) != 2 or not parts[0].startswith(("http://", "https://")):
            raise ValueError(
                f"{entry[:80]!r} is not '<http(s) URL> <witness vkey>' (entries separated by ',')"
            )
        try:
            key = parse_witness_vkey(parts[1], "witness")
        except InvalidInput as exc:
            raise ValueError("; ".join(p.message for p in exc.problems)) from None
        found.append(WitnessEndpoint(parts[0].rstrip("/"), key))
    return tuple(found)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        "sqlite:///auditledger.db",
        "Where events are stored: `sqlite:///path/to/file.db` or a PostgreSQL URL "
        "(`postgresql://user:password@host:5432/dbname`).",
    ),
    Setting(
        "sqlite_busy_seconds",
        10,
        "SQLite only: how long a write waits for another process's lock before the request "
        "fails with 503.",
        _positive_int,
    ),
    Setting("host", "127.0.0.1", "Address `auditledger serve` listens on."),
    Setting("port", 8000, "Port `auditledger serve` listens on.", _positive_int),
    Setting(
        "public_url",
        None,
        "The URL people use to reach the service, if not http://host:port (links, cookies).",
    ),
    Setting(
        "signing_key_file",
        "auditledger-signing.key",
        "Ed25519 private key that signs checkpoints; created by `auditledger init`. "
        "Every server process of a deployment uses the same file.",
        _path,
    ),
    Setting(
        "log_origin",
        "auditledger.local",
        "Prefix of every checkpoint's origin line; an organization's log is "
        "`<log_origin>/<org slug>`. Use a name you control, e.g. your host name.",
    ),
    Setting(
        "checkpoint_interval",
        5,
        "Seconds between automatic checkpoints of organizations that received events.",
        _positive_int,
    ),
    Setting(
        "checkpoint_witness_dir",
        None,
        "Where each server keeps a copy of the newest checkpoint it signed per organization, "
        "outside the database, to refuse signing a rolled-back log. Default: a `checkpoints` "
        "directory next to the signing key file.",
        _optional_path,
    ),
    Setting(
        "witnesses",
        "",
        "Witnesses (C2SP tlog-witness) asked to cosign every new checkpoint: comma-separated "
        "entries `<URL> <witness vkey>`, e.g. `https://w1.example/ w1.example+1a2b3c4d+BA...`. "
        "A witness that fails never holds up ingestion; see `auditledger_witness_*` metrics.",
        _witnesses,
    ),
    Setting(
        "witnesses_required",
        1,
        "Cosignatures a checkpoint needs to count as witnessed (the "
        "`auditledger_witness_quorum_missing` gauge counts logs whose newest checkpoint has "
        "fewer); verifiers choose their own number with `verify --witnesses-required`.",
        _count,
    ),
    Setting(
        "witness_timeout_seconds",
        5,
        "How long one request to a witness may take, from connecting to the answer's last "
        "byte, before it counts as failed.",
        _positive_int,
    ),
    Setting(
        "geoip_database",
        None,
        "MaxMind-format (.mmdb) city or country database for source locations. Without it, "
        "the country of registration comes from the bundled `iptocc` data.",
        _optional_path,
    ),
    Setting(
        "retention_days",
        180,
        "Default number of days events are kept, counted from the date they occurred.",
        _positive_int,
    ),
    Setting(
        "retention_floor_days",
        180,
        "No organization's retention may be set below this many days.",
        _positive_int,
    ),
    Setting(
        "purge_interval",
        86400,
        "Seconds between automatic retention purges inside the server (0 turns them off).",
        int,
    ),
    Setting(
        "ingest_queue_events",
        20000,
        "Events that may wait for a commit; beyond it ingestion answers 503 with Retry-After.",
        _positive_int,
    ),
    Setting(
        "commit_max_events",
        2000,
        "Most events written in one group commit.",
        _positive_int,
    ),
    Setting(
        "trusted_proxies",
        "127.0.0.1/32,::1/128",
        "Comma-separated networks whose X-Forwarded-For / Forwarded headers are believed when "
        "recording the address of people using the audit log.",
        _networks,
    ),
    Setting("session_hours", 12, "How long a sign-in lasts at most.", _positive_int),
    Setting(
        "header_timeout_seconds",
        10,
        "How long a client may take to send a request's headers before it is disconnected "
        "(slow-header denial of service); `auditledger serve` only.",
        _positive_int,
    ),
    Setting(
        "session_idle_minutes",
        30,
        "A sign-in unused for this many minutes ends (ASVS 3.3.2), whatever its lifetime.",
        _positive_int,
    ),
    Setting(
        "credential_cache_seconds",
        5,
        "How long a process trusts a credential or organization it has looked up; a revocation "
        "made in another process takes effect within this time (at once in its own).",
        int,
    ),
    Setting(
        "secure_cookies",
        False,
        "Mark session cookies Secure (set when served over HTTPS; implied by an https public_url).",
        _bool,
    ),
    Setting(
        "catalog_extensions",
        None,
        "A TOML file of extra event categories and types (catalog extensions, see "
        "docs/events.md); checked at start, and `auditledger serve` refuses to start when it is "
        "not valid.",
        _optional_path,
    ),
    Setting(
        "stream_allowed_networks",
        "",
        "Comma-separated networks streaming destinations may connect to; empty means public "
        "addresses only (never loopback, private or link-local ones).",
        _networks,
    ),
    Setting("stream_batch_events", 200, "Most events in one streamed batch.", _positive_int),
    Setting(
        "stream_max_attempts",
        8,
        "Failed deliveries of one batch (with exponential backoff) before a destination is "
        "dead-lettered and waits for an administrator's retry.",
        _positive_int,
    ),
    Setting(
        "stream_lease_seconds",
        5,
        "How long a process holds a destination's delivery lease without renewing it; a process "
        "that dies hands its destinations over after this.",
        _positive_int,
    ),
    Setting(
        "stream_workers",
        True,
        "Whether `auditledger serve` delivers streaming destinations.",
        _bool,
    ),
    Setting("log_level", "info", "Log level: debug, info, warning or error."),
    Setting("log_format", "json", "Log format: json (one object per line) or console."),
)

SETTING_INDEX: dict[str, Setting] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one process."""

    database_url: str
    sqlite_busy_seconds: int
    host: str
    port: int
    public_url: str | None
    signing_key_file: Path
    log_origin: str
    checkpoint_interval: int
    checkpoint_witness_dir: Path | None
    witnesses: tuple[WitnessEndpoint, ...]
    witnesses_required: int
    witness_timeout_seconds: int
    geoip_database: Path | None
    retention_days: int
    retention_floor_days: int
    purge_interval: int
    ingest_queue_events: int
    commit_max_events: int
    trusted_proxies: tuple[str, ...]
    session_hours: int
    session_idle_minutes: int
    header_timeout_seconds: int
    credential_cache_seconds: int
    secure_cookies: bool
    catalog_extensions: Path | None
    stream_allowed_networks: tuple[str, ...]
    stream_batch_events: int
    stream_max_attempts: int
    stream_lease_seconds: int
    stream_workers: bool
    log_level: str
    log_format: str

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed (given as parsed values, or None to keep)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update({k: v for k, v in changes.items() if v is not None})
        return Settings(**values)

    @property
    def witness_dir(self) -> Path:
        """Where witness copies of checkpoints live (next to the key file unless set)."""
        if self.checkpoint_witness_dir is not None:
            return self.checkpoint_witness_dir
        return self.signing_key_file.parent / "checkpoints"


def _default(setting: Setting) -> Any:
    default = setting.default
    if default is None or not isinstance(default, str) or setting.parse is str:
        return default
    return setting.parse(default)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from defaults, then environment variables, then explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems = []
    for setting in SETTINGS:
        raw = env.get(setting.env)
        if raw is None:
            values[setting.name] = _default(setting)
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            problems.append(Problem(setting.env, f"{raw!r} is not valid: {exc}"))
    if problems:
        raise InvalidInput("invalid configuration", problems)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
