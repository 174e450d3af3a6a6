"""The search box's syntax, parsed without a database: every text either parses or is refused
with a problem naming ``q``; never another exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditledger.core.errors import InvalidInput
from auditledger.query.search_syntax import (
    QUALIFIERS,
    SearchQuery,
    Term,
    TermCheck,
    parse_search,
    searched_words,
    terms_hold,
    words,
)


def test_words_phrases_prefixes_and_qualifiers() -> None:
    parsed = parse_search('churn "Bad  Credentials" prod* actor:grace model:"churn model" x-y')
    assert parsed.terms == (
        Term(("churn",)),
        Term(("bad", "credentials")),
        Term(("prod",), prefix=True),
        Term(("x", "y")),
    )
    assert parsed.qualifiers == (("actor", "grace"), ("model", "churn model"))
    assert parsed.values("actor") == ["grace"]


def test_text_holding_a_colon_that_is_no_qualifier_is_text() -> None:
    parsed = parse_search("auditledger-user:admin@northwind.example")
    assert parsed.terms == (Term(("auditledger", "user", "admin", "northwind", "example")),)
    assert parse_search('"a:b"').terms == (Term(("a", "b")),)


def test_a_qualifier_name_is_any_case_its_value_kept() -> None:
    assert parse_search("TYPE:Model.Delete").qualifiers == (("type", "Model.Delete"),)


def test_empty_text_is_an_empty_search() -> None:
    assert parse_search("  \t ") == SearchQuery()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('"open', "not closed"),
        ("colour:red", "not a qualifier"),
        ("actor:", "needs a value"),
        ('actor:""', "needs a value"),
        ("-churn", "excluding words"),
        ("@@", "no letters or digits"),
        ("*", "must end a word"),
        ('"..."', "no letters or digits"),
        (" ".join(["w"] * 33), "at most 32"),
        ("x" * 1001, "at most 1000"),
    ],
)
def test_mistakes_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_search(text)
    (problem,) = caught.value.problems
    assert problem.field == "q"
    assert fragment in problem.message


@pytest.mark.slow
@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_naming_q(text: str) -> None:
    problems: list[str] = []
    try:
        parsed = parse_search(text)
    except InvalidInput as exc:
        problems = [p.field for p in exc.problems]
        parsed = SearchQuery()
    assert problems in ([], ["q"])
    for term in parsed.terms:
        assert term.words
        assert all(w == w.lower() and words(w) == [w] for w in term.words)
    for name, value in parsed.qualifiers:
        assert name in QUALIFIERS
        assert value.strip() == value
        assert value


@given(st.lists(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=6))
def test_a_phrase_of_an_events_own_words_holds(found: list[str]) -> None:
    event_words = searched_words([" ".join(found)], '{"k":"' + "-".join(found) + '"}')
    query = parse_search(" ".join(f'"{w}"' for w in found))
    assert terms_hold(query.terms, event_words)
    assert not terms_hold(parse_search("zz9zz9zz9").terms, event_words)


def test_property_values_count_and_keys_do_not() -> None:
    found = searched_words([], '{"reason":"Bad credentials","n":12,"ok":true,"x":null}')
    assert found == {"bad", "credentials", "12", "true"}


# Pieces of text: words, letters that lower-case in unusual ways (final sigma, dotted capital
# I), an accent, a digit, the underscore (not a word character), separators and JSON escapes.
_PIECE = st.sampled_from(["a", "b", "ab", "Σ", "σ", "ας", "İ", "i", "é", "e", "1"])
_SEPARATOR = st.sampled_from(["", " ", "_", "-", ":", "\\", '"', "'"])
_TEXT = st.lists(st.tuples(_PIECE, _SEPARATOR).map("".join), max_size=4).map("".join)
_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)


@given(
    st.lists(st.none() | _TEXT, max_size=4),
    st.dictionaries(_TEXT, _VALUE, max_size=3),
    st.lists(
        st.lists(
            st.sampled_from(["a", "b", "ab", "σ", "ας", "i", "é", "1"]), min_size=1, max_size=2
        ),
        min_size=1,
        max_size=2,
    ),
    st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_the_compiled_check_agrees_with_the_words_of_the_row(
    texts: list[str | None],
    properties: dict[str, object],
    phrases: list[list[str]],
    prefixes: list[bool],
) -> None:
    terms = [Term(tuple(w), p) for w, p in zip(phrases, prefixes, strict=False)]
    for stored in (json.dumps(properties), json.dumps(properties, ensure_ascii=False), properties):
        expected = terms_hold(terms, searched_words(texts, stored))
        assert TermCheck(terms).holds(texts, stored) == expected
    # Properties that are not JSON count as their raw text, on both sides.
    raw = "{" + " ".join(t or "" for t in texts)
    assert TermCheck(terms).holds([], raw) == terms_hold(terms, searched_words([], raw))
