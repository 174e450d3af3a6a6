"""A witness's configuration: its name, key and state files, and the logs it follows.

A TOML file::

    name = "witness.example.com/w1"      # the witness's key name (a schema-less URL)
    key_file = "witness.key"             # Ed25519 PKCS#8 PEM, created by `witness init`
    state_file = "witness-state.db"      # SQLite: the latest cosigned checkpoint per log
    host = "127.0.0.1"
    port = 8100

    [[log]]
    origin = "audit.example.com/acme"    # the checkpoint origin line, exactly
    public_key = "audit.example.com+1a2b3c4d+AU..."   # the log's verifier key (repeatable:
                                                      # a list of vkeys also works)

Relative paths are relative to the configuration file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditledger.core.errors import InvalidInput, Problem
from auditledger.core.keys import VerifierKey, check_key_name, parse_vkey


@dataclass(frozen=True)
class WitnessConfig:
    """What one witness process needs."""

    name: str
    key_file: Path
    state_file: Path
    host: str
    port: int
    logs: dict[str, tuple[VerifierKey, ...]]  # origin -> the keys trusted to sign it


def _bad(field: str, why: str) -> InvalidInput:
    return InvalidInput("invalid witness configuration", [Problem(field, why)])


def _path(base: Path, raw: Any, field: str) -> Path:
    if not isinstance(raw, str) or not raw:
        raise _bad(field, "expected a file path")
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base / path


def parse_config(data: dict[str, Any], base: Path) -> WitnessConfig:
    """The configuration in parsed TOML ``data``; relative paths resolve against ``base``."""
    allowed = {"name", "key_file", "state_file", "host", "port", "log"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _bad(unknown[0], f"unknown setting; allowed: {', '.join(sorted(allowed))}")
    name = data.get("name")
    if not isinstance(name, str):
        raise _bad("name", "expected the witness's name, e.g. witness.example.com/w1")
    check_key_name(name, "name")
    port = data.get("port", 8100)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise _bad("port", "expected a TCP port (1-65535)")
    host = data.get("host", "127.0.0.1")
    if not isinstance(host, str) or not host:
        raise _bad("host", "expected a listen address")
    logs: dict[str, tuple[VerifierKey, ...]] = {}
    entries = data.get("log", [])
    if not isinstance(entries, list):
        raise _bad("log", "expected [[log]] tables")
    for index, entry in enumerate(entries):
        field = f"log[{index}]"
        if not isinstance(entry, dict) or set(entry) - {"origin", "public_key"}:
            raise _bad(field, "each [[log]] has an origin and a public_key, nothing else")
        origin = entry.get("origin")
        if not isinstance(origin, str) or not origin or "\n" in origin:
            raise _bad(f"{field}.origin", "expected the log's origin line")
        raw_keys = entry.get("public_key")
        texts = [raw_keys] if isinstance(raw_keys, str) else raw_keys
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise _bad(f"{field}.public_key", "expected the log's verifier key (or a list)")
        keys = tuple(parse_vkey(text, f"{field}.public_key") for text in texts)
        logs[origin] = logs.get(origin, ()) + keys
    return WitnessConfig(
        name=name,
        key_file=_path(base, data.get("key_file", "witness.key"), "key_file"),
        state_file=_path(base, data.get("state_file", "witness-state.db"), "state_file"),
        host=host,
        port=port,
        logs=logs,
    )


def load_config(path: Path) -> WitnessConfig:
    """The configuration in the TOML file ``path``; :class:`InvalidInput` if it is not valid,
    OSError if it cannot be read."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise _bad(str(path), f"not valid TOML: {exc}") from None
    return parse_config(data, path.parent)
