"""Invisible characters made visible on pages.

Names are stored exactly as sent, so a name may carry bidirectional controls (``admin\\u202e
gnp.exe`` renders as ``adminexe.png``) or other control and formatting characters that a page
would show as nothing. Every value a template prints passes through :func:`visible`: such a
character is shown as its code point, ``⟨U+202E⟩``. Names are also isolated in ``<bdi>``
elements, so right-to-left text in one cell cannot reorder its neighbours.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

# Bidi embeddings, overrides and isolates, marks, zero-width space, word joiner, BOM, and C0/C1
# controls other than tab and LF (the zero-width joiners stay: emoji and scripts need them).
_INVISIBLE = re.compile(
    "[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b\u2060\ufeff\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def _shown(match: re.Match[str]) -> str:
    return f"⟨U+{ord(match.group(0)):04X}⟩"


def visible(value: Any) -> Any:
    """``value`` with invisible controls written as ``⟨U+XXXX⟩`` (text only; safe markup
    keeps being safe: the replacement holds no markup)."""
    if isinstance(value, Markup):
        # The replacement adds no markup to what was already safe.
        return Markup(_INVISIBLE.sub(_shown, str(value)))  # noqa: S704
    if isinstance(value, str):
        return _INVISIBLE.sub(_shown, value)
    return value
