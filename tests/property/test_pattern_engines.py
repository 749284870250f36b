"""RE2 and Python's re agree on the patterns people write in Alertmanager-style matchers, over
ASCII label values: moving new inputs to RE2 changes no decision about such patterns.

Where they differ (back-references, look-around, ``\\d``/``\\w`` on non-ASCII values, ``{,n}``)
is listed in docs/domain.md; old records keep Python's reading on replay."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from helios.domain.patterns import RegexEngine, full_match, pattern_problem

ALPHABET = "ab01-_.:/"
"""Label values: a few letters, digits and the punctuation of host names, paths and versions."""

_literal = st.text(alphabet=ALPHABET, min_size=1, max_size=4).map(re.escape)
_class = st.sampled_from(["[a-z]", "[ab]", "[0-9]", "[^-]", r"\d", r"\w", r"[\w.-]", "[a-b0]"])
_atom = st.one_of(_literal, _class, st.just("."))
_quantified = st.tuples(_atom, st.sampled_from(["", "*", "+", "?", "{1,3}", "{2}"])).map("".join)


def _sequence(parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(parts, min_size=1, max_size=4).map("".join)


_simple = _sequence(_quantified)
_alternation = st.lists(_simple, min_size=2, max_size=4).map(lambda xs: "(" + "|".join(xs) + ")")
# No quantifier on a group: nested quantifiers are exactly what makes Python's re backtrack
# exponentially (bench/regex.py), and would make this test slow, not wrong.
_grouped = st.tuples(_alternation, st.sampled_from(["", "?"])).map("".join)
PATTERNS = st.tuples(
    st.sampled_from(["", "(?i)"]),
    _sequence(st.one_of(_quantified, _grouped, st.just(".*"), st.just(".+"))),
).map("".join)
VALUES = st.text(alphabet=ALPHABET + "AB", max_size=12)


@given(pattern=PATTERNS, values=st.lists(VALUES, min_size=1, max_size=8))
def test_re2_and_python_re_agree_on_simple_patterns_over_ascii_values(
    pattern: str, values: list[str]
) -> None:
    """Same full-match answer from both engines; RE2 accepts every such pattern."""
    assert pattern_problem(pattern) is None
    for value in values:
        old = full_match(pattern, value, RegexEngine.PYTHON_RE)
        new = full_match(pattern, value, RegexEngine.RE2)
        assert old is not None and old == new, (pattern, value)


@given(
    prefix=st.text(alphabet="abc-", min_size=1, max_size=6),
    value=st.text(alphabet="abc-", max_size=12),
)
def test_both_engines_anchor_at_both_ends(prefix: str, value: str) -> None:
    """``prefix.*`` is a prefix test and ``prefix`` alone an equality test, as in Alertmanager."""
    pattern = re.escape(prefix)
    for engine in RegexEngine:
        assert full_match(pattern + ".*", value, engine) == value.startswith(prefix)
        assert full_match(pattern, value, engine) == (value == prefix)
