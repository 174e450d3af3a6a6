"""The search box's syntax: free text and qualifiers, parsed into plain data.

``churn "bad credentials" actor:grace type:model.delete after:2026-05-01`` means: events whose
text holds the word ``churn`` and the phrase "bad credentials", by the actor grace, of type
``model.delete``, after 1 May 2026. Rules:

* words are matched whole, case-insensitively, against the subject's id and name, its parent's
  name, the project's name, the actor's id and name and every property value; a word ending in
  ``*`` matches as a prefix (``churn*`` finds "churned");
* ``"..."`` is a phrase: its words in that order;
* ``name:value`` is a qualifier (``name:"two words"`` quotes a value); the names are
  :data:`QUALIFIERS`. Several values of one qualifier combine with OR, everything else with AND;
* text is split into words at anything that is not a letter or a digit, the same way on both
  engines' indexes (``churn-model`` is the phrase "churn model"; ``grace@northwind.example``
  the phrase "grace northwind example").

Sources never appear in the searched text: a member's search cannot reveal an address, and
``ip:`` is for administrators only (the query refuses it otherwise).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditledger.core.errors import InvalidInput, Problem

MAX_LENGTH = 1000
MAX_PARTS = 32

# Qualifier names, in the order the documentation lists them.
QUALIFIERS = ("actor", "project", "model", "type", "category", "ip", "before", "after")

_WORD = re.compile(r"[^\W_]+")
_QUALIFIER = re.compile(r"([A-Za-z_]+):")


@dataclass(frozen=True)
class Term:
    """Words that must appear in this order; the last one as a prefix when ``prefix``."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class SearchQuery:
    """What the search box asked for: text terms (all must match) and qualifiers."""

    terms: tuple[Term, ...] = ()
    qualifiers: tuple[tuple[str, str], ...] = ()

    def values(self, name: str) -> list[str]:
        """The values given for qualifier ``name``, in order."""
        return [v for k, v in self.qualifiers if k == name]


def words(text: str) -> list[str]:
    """``text`` as the indexes see it: lower-case runs of letters and digits."""
    return _WORD.findall(text.lower())


def _problem(message: str) -> InvalidInput:
    return InvalidInput("the search is not valid", [Problem("q", message)])


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The text of a quoted part starting at ``text[start] == '"'``, and where it ends."""
    end = text.find('"', start + 1)
    if end < 0:
        raise _problem(f'the quote at character {start + 1} is not closed; add a closing "')
    return text[start + 1 : end], end + 1


def _bare(text: str, start: int) -> tuple[str, int]:
    end = start
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end], end


def hide_sources(text: str) -> str:
    """``text`` with the value of every ``ip:`` qualifier replaced by ``(hidden)``.

    Descriptions of a search are recorded in the log's own events, which members read; a source
    address an administrator searched for must not reach them that way. The text is walked as
    :func:`parse_search` walks it, so a quoted phrase holding ``ip:`` stays as it is.
    """
    out: list[str] = []
    at = 0
    while at < len(text):
        if text[at].isspace():
            out.append(text[at])
            at += 1
            continue
        qualifier = _QUALIFIER.match(text, at)
        if qualifier is not None:
            start, at = at, qualifier.end()
            if at < len(text) and text[at] == '"':
                end = text.find('"', at + 1)
                at = len(text) if end < 0 else end + 1
            else:
                _, at = _bare(text, at)
            hidden = qualifier.group(1).lower() == "ip"
            out.append(qualifier.group(0) + "(hidden)" if hidden else text[start:at])
            continue
        if text[at] == '"':
            end = text.find('"', at + 1)
            stop = len(text) if end < 0 else end + 1
        else:
            _, stop = _bare(text, at)
        out.append(text[at:stop])
        at = stop
    return "".join(out)


def parse_search(text: str) -> SearchQuery:
    """Parse the search box's text, or raise :class:`InvalidInput` naming the problem."""
    if len(text) > MAX_LENGTH:
        raise _problem(f"at most {MAX_LENGTH} characters")
    terms: list[Term] = []
    qualifiers: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        if len(terms) + len(qualifiers) >= MAX_PARTS:
            raise _problem(f"at most {MAX_PARTS} words, phrases and qualifiers")
        qualifier = _QUALIFIER.match(text, at)
        if qualifier is not None:
            name = qualifier.group(1).lower()
            if name not in QUALIFIERS:
                raise _problem(
                    f"{qualifier.group(0)[:40]!r} is not a qualifier; qualifiers are: "
                    + ", ".join(f"{q}:" for q in QUALIFIERS)
                    + ' (quote text that holds a colon: "a:b")'
                )
            at = qualifier.end()
            if at < len(text) and text[at] == '"':
                value, at = _quoted(text, at)
            else:
                value, at = _bare(text, at)
            if not value.strip():
                raise _problem(f"{name}: needs a value, e.g. {_EXAMPLES[name]}")
            qualifiers.append((name, value.strip()))
            continue
        if text[at] == '"':
            phrase, at = _quoted(text, at)
            found = words(phrase)
            if not found:
                raise _problem(f"the phrase {phrase[:40]!r} has no letters or digits to look for")
            terms.append(Term(tuple(found)))
            continue
        part, at = _bare(text, at)
        if part.startswith("-") and len(part) > 1:
            raise _problem(f"{part[:40]!r}: excluding words is not supported")
        prefix = part.endswith("*")
        found = words(part)
        if not found:
            if part.strip("*"):
                raise _problem(f"{part[:40]!r} has no letters or digits to look for")
            raise _problem("'*' must end a word (churn*)")
        terms.append(Term(tuple(found), prefix))
    return SearchQuery(tuple(terms), tuple(qualifiers))


_EXAMPLES = {
    "actor": "actor:grace",
    "project": "project:fraud",
    "model": "model:churn-model",
    "type": "type:model.delete",
    "category": "category:model",
    "ip": "ip:193.166.3.*",
    "before": "before:2026-06-01",
    "after": "after:2026-05-01",
}


def _property_texts(value: object) -> Iterable[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _property_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _property_texts(item)
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif value is not None:
        yield str(value)


def searched_words(
    texts: Sequence[str | None], properties: str | Mapping[str, Any] | None
) -> set[str]:
    """The words of an event as the search sees them: ``texts`` (ids and names) and the
    values (not the keys) of ``properties``: the stored canonical JSON, or decoded."""
    parts = [t for t in texts if t]
    parts.extend(_property_values(properties))
    return set(words(" ".join(parts)))


def terms_hold(terms: Sequence[Term], found: set[str]) -> bool:
    """Whether an event with the words ``found`` has every word of every term.

    The check on the real row after an index narrowed the search: an index is derived data,
    so a row it names is kept only if the row itself holds the words.
    """
    for term in terms:
        *whole, last = term.words
        if any(word not in found for word in whole):
            return False
        if term.prefix:
            if not any(word.startswith(last) for word in found):
                return False
        elif last not in found:
            return False
    return True


class TermCheck:
    """:func:`terms_hold` over :func:`searched_words`, compiled once per search for checking
    many rows: the same answer, several times faster.

    Each word of the terms becomes a pattern that finds it as a whole word (or, for a prefix,
    at the start of one) in lower-cased text, so no row's word set is built; the row's ids and
    names are looked at first, and its properties are decoded only for words those lack.
    Words never span the space that joins two texts, so a word is among a row's words exactly
    when it is found in its texts or in its property values.
    """

    def __init__(self, terms: Sequence[Term]) -> None:
        patterns: dict[tuple[str, bool], re.Pattern[str]] = {}
        for term in terms:
            *whole, last = term.words
            for word, prefix in [*((w, False) for w in whole), (last, term.prefix)]:
                # Not preceded (nor, for a whole word, followed) by a letter or digit.
                end = "" if prefix else r"(?![^\W_])"
                patterns[word, prefix] = re.compile(r"(?<![^\W_])" + re.escape(word) + end)
        self._patterns = list(patterns.values())

    def holds(
        self, texts: Sequence[str | None], properties: str | Mapping[str, Any] | None
    ) -> bool:
        """Whether a row with these ids and names and these properties holds every term."""
        text = " ".join(t for t in texts if t).lower()
        missing = [p for p in self._patterns if p.search(text) is None]
        if not missing:
            return True
        values = " ".join(_property_values(properties)).lower()
        return all(p.search(values) is not None for p in missing)


def _property_values(properties: str | Mapping[str, Any] | None) -> list[str]:
    if isinstance(properties, str):
        try:
            # Numbers as written: the indexes see the stored text, not a float's repr.
            return list(_property_texts(json.loads(properties, parse_float=str, parse_int=str)))
        except ValueError:
            return [properties]
    return list(_property_texts(properties)) if properties else []
