"""Reading the small urlencoded forms the pages post (no JavaScript, no multipart)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request

from auditledger.core.errors import MalformedRequest, TooLarge
from auditledger.web.body import read_limited


async def form_items(request: Request, *, max_bytes: int, max_fields: int) -> list[tuple[str, str]]:
    """Every (name, value) pair of the form in order, repeated names kept; a form that is not
    urlencoded, too large, has too many fields or is not UTF-8 is refused (4xx, never a 500)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise MalformedRequest("send the form as application/x-www-form-urlencoded")
    try:
        body = await read_limited(request, max_bytes)
    except TooLarge:
        raise TooLarge(f"the form is larger than {max_bytes // 1024} KiB") from None
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        raise MalformedRequest("the form could not be read") from None


def first_values(items: list[tuple[str, str]]) -> dict[str, str]:
    """The first value of each field (forms whose fields appear once)."""
    form: dict[str, str] = {}
    for name, value in items:
        form.setdefault(name, value)
    return form
