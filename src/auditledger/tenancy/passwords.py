"""Password rules (OWASP ASVS 4.0 level 2, 2.1.1 and 2.1.7): at least 12 characters, and not
one of the commonest passwords.

The list is bundled (``data/common-passwords.txt.gz``: the 30,000 commonest passwords from
zxcvbn 4.5.0's frequency lists, MIT licensed, see the licence file next to it); nothing is
downloaded at run time. A password is refused when it, in lower case, is on the list, or when
it is a listed password followed by digits and punctuation (``password123456!``), or a single
character repeated.
"""

from __future__ import annotations

import functools
import gzip
import re
from importlib import resources

from auditledger.core.errors import InvalidInput, Problem

MIN_LENGTH = 12
_SUFFIX = re.compile(r"[\d\W_]+$")


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list, lower case (read once)."""
    raw = resources.files("auditledger.tenancy").joinpath("data/common-passwords.txt.gz")
    text = gzip.decompress(raw.read_bytes()).decode("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problem(password: str) -> str | None:
    """Why ``password`` may not be used, or None."""
    if len(password) < MIN_LENGTH:
        return f"use at least {MIN_LENGTH} characters (a few words make a good one)"
    lowered = password.lower()
    common = common_passwords()
    base = _SUFFIX.sub("", lowered)
    if lowered in common or (len(base) >= 4 and base in common) or len(set(lowered)) == 1:
        return "is one of the most common passwords; choose another (a few words make a good one)"
    return None


def check_password(password: str) -> None:
    """Raise :class:`InvalidInput` naming the ``password`` field if it breaks the rules."""
    problem = password_problem(password)
    if problem is not None:
        raise InvalidInput("the password is not acceptable", [Problem("password", problem)])
