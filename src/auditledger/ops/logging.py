"""Structured logs: one JSON object per line, carrying the request id of the request at hand."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import msgspec
import structlog

ACCESS_LOGGER = "auditledger.access"
_ENCODE = msgspec.json.Encoder().encode


class AccessLineFormatter(logging.Formatter):
    """The access log's line: the same JSON object structlog would render for it (event,
    request_id, level, timestamp, then the request's fields), built in one step.

    Every request writes one, so it skips structlog's processor chain, which cost ~0.1 ms of
    CPU per line; the fields come from the record's ``extra``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line."""
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat()
        fields = record.__dict__
        return _ENCODE(
            {
                "event": record.getMessage(),
                "request_id": fields.get("request_id"),
                "level": record.levelname.lower(),
                "timestamp": stamp.replace("+00:00", "Z"),
                "method": fields.get("method"),
                "path": fields.get("path"),
                "status": fields.get("status"),
                "ms": fields.get("ms"),
            }
        ).decode()


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """Route stdlib and structlog output through one structlog renderer on stderr."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    access = logging.getLogger(ACCESS_LOGGER)
    access.handlers.clear()
    access.propagate = True
    if fmt == "json":
        fast = logging.StreamHandler(sys.stderr)
        fast.setFormatter(AccessLineFormatter())
        access.handlers[:] = [fast]
        access.propagate = False
    # The access log is ours (with request ids); uvicorn's would repeat it without them.
    logging.getLogger("uvicorn.access").disabled = True
    # Migrations announce every step at INFO; only problems matter at startup.
    logging.getLogger("alembic").setLevel(logging.WARNING)
