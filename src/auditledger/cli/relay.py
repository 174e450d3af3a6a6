"""``auditledger relay``: ship a platform database's outbox table to the service."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from auditledger.cli.common import console, fail


def relay(
    source_database: Annotated[
        str,
        typer.Option(
            "--source-database",
            envvar="AUDITLEDGER_RELAY_SOURCE_DATABASE",
            help="The platform's database holding the outbox table (SQLAlchemy URL).",
            show_default=False,
        ),
    ],
    server: Annotated[
        str,
        typer.Option(
            envvar="AUDITLEDGER_SERVER",
            help="The auditledger service, e.g. http://127.0.0.1:8000.",
            show_default=False,
        ),
    ],
    token: Annotated[
        str,
        typer.Option(
            envvar="AUDITLEDGER_TOKEN",
            help="Ingest credential (prefer the environment variable: it stays out of `ps`).",
            show_default=False,
        ),
    ],
    org: Annotated[str | None, typer.Option(help="Ship only this organization's events.")] = None,
    table: Annotated[str, typer.Option(help="Name of the outbox table.")] = "auditledger_outbox",
    batch_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Most events per request.")
    ] = 500,
    poll_interval: Annotated[
        float, typer.Option(min=0.05, help="Seconds between looks at an empty outbox.")
    ] = 1.0,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Ship what is pending now and exit (status 1 if the service could not be "
            "reached), e.g. from cron.",
        ),
    ] = False,
) -> None:
    """Ship outbox rows to the service, in order and at least once, and mark them sent.

    Runs until interrupted (SIGINT or SIGTERM end it after the batch in progress). On
    PostgreSQL several relays may run at once: rows are claimed with FOR UPDATE SKIP LOCKED.
    """
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import SQLAlchemyError

    from auditledger.store.engine import normalise_url
    from auditledger_client.relay import Relay

    engine = create_engine(normalise_url(source_database))
    where = engine.url.render_as_string(hide_password=True)
    try:
        present = inspect(engine).has_table(table)
    except SQLAlchemyError as exc:
        engine.dispose()
        fail(f"cannot open {where}: {str(exc).splitlines()[0]}")
    if not present:
        engine.dispose()
        fail(f"no table {table!r} in {where}; create it with Outbox.create()")
    shipper = Relay(engine, server, token, table=table, org=org, batch_size=batch_size)
    try:
        if once:
            stats = shipper.run_once()
            console.print(
                f"relayed {stats.created} new, {stats.duplicates} already stored, "
                f"{stats.rejected} rejected"
            )
            for line in stats.rejections:
                console.print(f"  rejected {line}")
            if stats.last_error:
                fail(f"events remain in the outbox: {stats.last_error}")
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        console.print(f"relaying {table} to {server} (Ctrl-C to stop)")
        shipper.run(stop, poll_interval)
        console.print(
            f"stopped: relayed {shipper.stats.created} new, {shipper.stats.duplicates} already "
            f"stored, {shipper.stats.rejected} rejected"
        )
    except SQLAlchemyError as exc:
        fail(f"cannot read the outbox {table!r}: {str(exc).splitlines()[0]}")
    finally:
        shipper.close()
        engine.dispose()
