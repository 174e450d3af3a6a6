"""``auditledger witness``: run a C2SP witness that cosigns other logs' checkpoints."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from auditledger.cli.common import console, err_console, fail
from auditledger.core.cosignature import witness_key_of
from auditledger.core.errors import AuditLedgerError
from auditledger.core.keys import SigningKey, generate_key, read_key_file
from auditledger.integrity.files import write_new_file
from auditledger.witness.config import WitnessConfig, load_config

witness = typer.Typer(
    help="A witness for other logs (C2SP tlog-witness): it cosigns a checkpoint only if it is "
    "consistent with the last one it cosigned of that log.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The witness's TOML file (see docs/integrity.md).")
]


def _config(path: Path) -> WitnessConfig:
    try:
        return load_config(path)
    except OSError as exc:
        fail(f"cannot read {path}: {exc}")
    except AuditLedgerError as exc:
        fail(exc)


def _key(config: WitnessConfig) -> SigningKey:
    try:
        return read_key_file(config.key_file, config.name)
    except FileNotFoundError:
        fail(f"no witness key at {config.key_file}: run `auditledger witness init` first")
    except (OSError, ValueError) as exc:
        fail(f"the witness key {config.key_file} cannot be read: {exc}")


@witness.command("init")
def witness_init(config: ConfigOption) -> None:
    """Create the witness's key (if missing) and print its public key for logs to configure."""
    settings = _config(config)
    created = False
    if not settings.key_file.exists():
        settings.key_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_new_file(settings.key_file, generate_key(settings.name).pem())
            created = True
        except FileExistsError:
            pass
        except OSError as exc:
            fail(f"cannot create {settings.key_file}: {exc}")
    key = _key(settings)
    state = "created" if created else "using"
    err_console.print(f"{state} witness key {settings.key_file}", highlight=False)
    console.print(witness_key_of(key).vkey(), soft_wrap=True, highlight=False)


@witness.command("public")
def witness_public(config: ConfigOption) -> None:
    """Print the witness's public key (`<name>+<key id>+<base64(0x04 || key)>`)."""
    console.print(witness_key_of(_key(_config(config))).vkey(), soft_wrap=True, highlight=False)


@witness.command("serve")
def witness_serve(
    config: ConfigOption,
    host: Annotated[str | None, typer.Option(help="Listen address (default: the file's).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: the file's).")] = None,
) -> None:
    """Serve `POST /add-checkpoint` until interrupted."""
    import uvicorn

    from auditledger.witness.app import create_witness_app
    from auditledger.witness.service import WitnessService
    from auditledger.witness.state import WitnessState

    settings = _config(config)
    key = _key(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    state = WitnessState(settings.state_file)
    service = WitnessService(settings, key, state, now=lambda: int(time.time()))
    listen_host, listen_port = host or settings.host, port or settings.port
    console.print(
        f"witness {witness_key_of(key).vkey()} following {len(settings.logs)} logs on "
        f"http://{listen_host}:{listen_port}/",
        soft_wrap=True,
        highlight=False,
    )
    try:
        uvicorn.run(
            create_witness_app(service),
            host=listen_host,
            port=listen_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    finally:
        state.close()
