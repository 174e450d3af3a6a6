"""The witness's HTTP interface: ``POST /add-checkpoint`` (C2SP tlog-witness) and
``GET /healthz``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from auditledger.core.add_checkpoint import SIZE_MEDIA_TYPE, size_body
from auditledger.core.errors import MalformedRequest, TooLarge
from auditledger.web.body import read_limited
from auditledger.witness.service import Refused, SizeMismatch, WitnessService

# A checkpoint note with a hundred signatures and a full proof stays far below this.
MAX_BODY = 64 * 1024
ADVICE = "an add-checkpoint request is a checkpoint note and at most 63 proof lines"


def create_witness_app(service: WitnessService) -> Starlette:
    """The application serving ``service``."""

    async def add_checkpoint(request: Request) -> Response:
        try:
            body = await read_limited(request, MAX_BODY, advice=ADVICE)
        except TooLarge as exc:
            return PlainTextResponse(exc.message + "\n", status_code=413)
        except MalformedRequest as exc:
            return PlainTextResponse(exc.message + "\n", status_code=400)
        try:
            lines = await run_in_threadpool(service.add_checkpoint, body)
        except SizeMismatch as exc:
            return PlainTextResponse(
                size_body(exc.held), status_code=409, media_type=SIZE_MEDIA_TYPE
            )
        except Refused as exc:
            return PlainTextResponse(exc.message + "\n", status_code=exc.status)
        return PlainTextResponse(lines, media_type="text/plain; charset=utf-8")

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse(service.public_key.vkey() + "\n")

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
