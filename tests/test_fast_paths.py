"""The vectorised fast paths against the per-value path, on generated patterns and values.

Python's ``re`` decides what a regex means (the README promises Python regex semantics);
the RE2 fast path may only answer where it agrees. Each example runs one task twice through
``wb.evaluate``: on a typed string column (fast paths on) and with the fast paths off.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench import _vector

# ASCII only: that is where RE2 answers (other rows always go to Python's re). The odd
# whitespace \x0b and \x1c-\x1f is whitespace to re but not to RE2.
TEXT = st.text(alphabet="abAB0_ -.,{}\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f", max_size=8)
TOKENS = [
    *"abA0 -.,{}|^*+?()[]",
    r"\s",
    r"\S",
    r"\d",
    r"\w",
    r"\W",
    r"\.",
    r"\t",
    r"\x0b",
    "\x0b",
    "\x1c",
    "[ab]",
    "[^a]",
    r"[\s]",
    r"[^\s]",
    "[a-c]",
    "[]a]",
    "{,2}",
    "{1,2}",
    "{2}",
    "{1,}",
    "{ 1}",
    "{,}",
    "*?",
    "(?:",
    "(?i)",
    "(?s)",
    "(?m)",
]
PATTERNS = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=6).map("".join)


@contextlib.contextmanager
def fast_paths(enabled: bool) -> Iterator[None]:
    before = _vector.ENABLED
    _vector.ENABLED = enabled
    try:
        yield
    finally:
        _vector.ENABLED = before


def both_ways(op: str, expected: str, values: list[str | None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    suite = wb.Suite(
        name="t", version="1", tasks=[wb.AssertionTask(id="t", path="x", op=op, expected=expected)]
    )
    typed = pd.DataFrame({"x": pd.array(values, dtype="string")})
    fast = wb.evaluate(typed, suite, save=False, progress=False).results
    with fast_paths(False):
        slow = wb.evaluate(typed.astype(object), suite, save=False, progress=False).results
    return fast, slow


def compiles(pattern: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # re's FutureWarning on '[[' and the like
        try:
            re.compile(pattern)
        except re.error:
            return False
    return True


def assert_same(fast: pd.DataFrame, slow: pd.DataFrame, label: str) -> None:
    for column in ("status", "reason", "error"):
        pd.testing.assert_series_equal(fast[column], slow[column], obj=f"{label} {column}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(pattern=PATTERNS.filter(compiles), values=st.lists(TEXT | st.none(), min_size=1, max_size=6))
@example(pattern=r"\s", values=["a\x0bb", "a\x1cb", "a\x1fb", "ab", "a b"])
@example(pattern=r"\S+$", values=["\x0b"])
@example(pattern=r"[^\s]", values=["\x1d", "x"])
@example(pattern="a{,2}b", values=["b", "aab", "a{,2}b"])
@example(pattern="^a{ 1}", values=["a{ 1}", "a"])
def test_matches_agrees_with_pythons_re(pattern: str, values: list[str | None]) -> None:
    fast, slow = both_ways("matches", pattern, values)
    assert_same(fast, slow, f"matches {pattern!r} on {values!r}")
    expected = ["passed" if v is not None and re.search(pattern, v) else "failed" for v in values]
    assert [s if s != "error" else "failed" for s in slow["status"]] == expected  # None is an error


WORDS = st.text(alphabet="abA0_ -.+", min_size=1, max_size=4)


@settings(max_examples=150, deadline=None)
@given(word=WORDS, values=st.lists(st.text(alphabet="abA0_ -.+é\u0301", max_size=10), min_size=1, max_size=6))
@example(word="C++", values=["I like C++.", "C++x", "xC++"])
@example(word="ab", values=["ab_", "_ab", "ab-", "ab\u0301", "éab"])
def test_contains_word_agrees_with_the_per_value_path(word: str, values: list[str]) -> None:
    fast, slow = both_ways("contains_word", word, values)
    assert_same(fast, slow, f"contains_word {word!r} on {values!r}")


def test_odd_whitespace_is_whitespace_as_pythons_re_says() -> None:
    """The two disagreements the fast path had: RE2's \\s lacks \\x0b and \\x1c-\\x1f, and
    RE2 reads 'a{,2}' as text where re reads 'a{0,2}'."""
    values = ["a\x0bb", "a\x1cb", "a\x1fb", "ab"]
    fast, _ = both_ways("matches", r"a\sb", values)
    assert fast["status"].tolist() == ["passed", "passed", "passed", "failed"]
    fast, _ = both_ways("matches", "^xa{,2}y$", ["xy", "xaay", "xa{,2}y"])
    assert fast["status"].tolist() == ["passed", "passed", "failed"]
