"""Reading request bodies with a hard size limit, before any of it is parsed."""

from __future__ import annotations

from fastapi import Request

from auditledger.core.errors import MalformedRequest, TooLarge

MAX_REQUEST_BYTES = 10 * 1024 * 1024
EVENTS_ADVICE = "send events in smaller batches"


async def read_limited(
    request: Request, limit: int = MAX_REQUEST_BYTES, *, advice: str = EVENTS_ADVICE
) -> bytes:
    """The body, or :class:`TooLarge` (its message ending in ``advice``) as soon as it passes
    ``limit`` bytes (not after)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise TooLarge(_too_large(limit, advice))
        except ValueError:
            raise MalformedRequest("the Content-Length header is not a number") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(_too_large(limit, advice))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, advice: str) -> str:
    size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
    return f"the request is larger than {size}; {advice}"


def require_json(request: Request) -> None:
    """Refuse bodies that do not declare JSON, so form posts cannot be mistaken for events."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() not in ("application/json", ""):
        raise MalformedRequest(
            f"send events as application/json (the request said {content_type[:80]!r})"
        )
