"""Strict JSON reading for request bodies.

Python's ``json`` module quietly accepts things an audit log must not: duplicate keys (two
parsers may disagree on which one wins, so what is stored could differ from what was meant),
``NaN`` and ``Infinity`` (not JSON at all) and invalid UTF-8 in the body. This module refuses
each with a message that says what was wrong.
"""

from __future__ import annotations

import json
from typing import Any

from auditledger.core.errors import MalformedRequest


class _DuplicateKey(ValueError):
    pass


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def _reject_constant(name: str) -> Any:
    raise MalformedRequest(f"{name} is not valid JSON; send numbers as finite values")


def parse_json(body: bytes) -> Any:
    """Decode ``body`` as strict JSON, raising :class:`MalformedRequest` with a clear message."""
    if not body.strip():
        raise MalformedRequest("the request body is empty; send a JSON document")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRequest(
            f"the request body is not valid UTF-8 (bad byte at offset {exc.start})"
        ) from None
    try:
        return json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except _DuplicateKey as exc:
        raise MalformedRequest(f"duplicate key {str(exc)!r} in a JSON object") from None
    except json.JSONDecodeError as exc:
        raise MalformedRequest(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise MalformedRequest("the request body is nested too deeply") from None
