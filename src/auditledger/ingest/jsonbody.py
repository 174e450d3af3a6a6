"""Strict JSON reading for request bodies.

Python's ``json`` module quietly accepts things an audit log must not: duplicate keys (two
parsers may disagree on which one wins, so what is stored could differ from what was meant),
``NaN`` and ``Infinity`` (not JSON at all) and invalid UTF-8 in the body. This module refuses
each with a message that says what was wrong.

Numbers are bounded while they are read: Python refuses to convert an integer of more than
4,300 digits (CVE-2020-10735) with a plain ``ValueError``, and a float literal that large
quietly becomes infinity. Nothing the catalog holds needs more than :data:`MAX_NUMBER_DIGITS`.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from auditledger.core.errors import InvalidInput, MalformedRequest, Problem

# An IEEE double has at most 17 significant digits and 2**53 has 16; the bound leaves room for
# leading zeros in fractions and exponents but stays far below Python's 4,300-digit limit.
MAX_NUMBER_DIGITS = 100


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


class _TooLongNumber(ValueError):
    def __init__(self, digits: int) -> None:
        super().__init__(digits)
        self.digits = digits


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise _TooLongNumber(len(text))
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise _TooLongNumber(len(text))
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _TooLongNumber(len(text))
    return value


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
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_int=_int,
            parse_float=_float,
        )
    except _TooLongNumber as exc:
        # Readable JSON whose value is out of range: a 422 like any other value out of range.
        raise InvalidInput(
            "the request is not valid",
            [
                Problem(
                    "body",
                    f"holds a number of {exc.digits} characters (or one too large for a "
                    f"double); numbers may have at most {MAX_NUMBER_DIGITS} characters and "
                    "must be finite",
                )
            ],
        ) from None
    except _DuplicateKey as exc:
        raise MalformedRequest(f"duplicate key {str(exc)!r} in a JSON object") from None
    except json.JSONDecodeError as exc:
        raise MalformedRequest(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise MalformedRequest("the request body is nested too deeply") from None


# A surrogate as JSON text spells it: ``\ud83d`` (half of a pair, or a lone one).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class JsonBody(NamedTuple):
    """A decoded body, and the length validation may take as the size of its text."""

    value: Any
    # None when the text spells a surrogate as an escape: validation then measures the value
    # itself, since re-encoding it is what finds a lone surrogate (which no UTF-8 can hold).
    source_bytes: int | None


def parse_json_body(body: bytes) -> JsonBody:
    """:func:`parse_json`, with the size validation may rely on (see :class:`JsonBody`)."""
    value = parse_json(body)
    return JsonBody(value, None if _SURROGATE_ESCAPE.search(body) else len(body))
