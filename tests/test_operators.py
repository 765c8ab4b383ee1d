"""Every built-in operator through ``wb.evaluate``: passing, failing and wrong-type values,
Scouter's edge cases, negation, aliases, CamelCase names, the array rule and spec errors."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.assertions import ALIASES, OPERATORS, apply, lookup

P, F, E = "passed", "failed", "error"


def frame(value: Any, *, as_object: bool = False) -> pd.DataFrame:
    """One row, column ``x``. Scalars get their natural dtype (so vectorised paths run)
    unless ``as_object``; lists and dicts are always object cells."""
    if as_object or isinstance(value, (list, dict)) or value is None:
        return pd.DataFrame({"x": pd.Series([value], dtype=object)})
    return pd.DataFrame({"x": [value]})


def outcome(
    value: Any, op: str, expected: Any = None, *, as_object: bool = False, **kw: Any
) -> tuple[str, str]:
    """``(status, text)`` of one cell: the reason, or the error when it errored."""
    task = wb.AssertionTask(id="t", path="x", op=op, expected=expected, **kw)
    run = wb.evaluate(frame(value, as_object=as_object), wb.Suite(name="t", version="1", tasks=[task]))
    cell = run.results.iloc[0]
    text = cell["error"] if cell["status"] == E else cell["reason"]
    return str(cell["status"]), "" if pd.isna(text) else str(text)


def case(op: str, value: Any, expected: Any, status: str, text: str = "", id: str = "") -> Any:
    """A table row; ``text`` must appear in the reason (or, for an error, the message)."""
    return pytest.param(op, value, expected, status, text, id=id or f"{op}-{status}-{value!r}"[:70])


CASES = [
    # --- equality -------------------------------------------------------------------
    case("equals", 8, 8.0, P, id="equals-int-float"),
    case("equals", "300", 300, P, id="equals-numeric-string-vs-number"),
    case("equals", 300, "300", P, id="equals-number-vs-numeric-string"),
    case("equals", "300x", 300, F),
    case("equals", True, 1, F, "true", id="equals-true-is-not-1"),
    case("equals", "abc", "abc", P),
    case("equals", "a", "A", F, "'A'", id="equals-case-sensitive"),
    case("equals", {"a": [1, {"b": 2}]}, {"a": [1, {"b": 2.0}]}, P, id="equals-deep-object"),
    case("equals", {"a": 1}, {"a": 1, "b": 2}, F, id="equals-deep-object-differs"),
    case("equals", [1, 2], [2, 1], F, id="equals-array-order"),
    case("equals", {"id": "1"}, {"id": 1}, F, id="equals-nested-numeric-string-is-not-a-number"),
    case("equals", [1.0, 2], [1, 2.0], P, id="equals-nested-numbers-by-value"),
    case("not_equal", 1, 2, P),
    case("not_equal", 1, 1.0, F, id="not_equal-1-vs-1.0-fails"),
    case("not_equal", "300", 300, F, id="not_equal-normalises"),
    case("not_equal", True, 1, P),
    case("one_of", "no", ["yes", "no"], P),
    case("one_of", 300, ["300", "x"], P, id="one_of-normalises"),
    case("one_of", [1, 2], [[1, 2], [3]], P, id="one_of-array-actual"),
    case("one_of", "maybe", ["yes", "no"], F, "'maybe'"),
    # --- numbers --------------------------------------------------------------------
    case("greater_than", 5, 3, P),
    case("greater_than", 3, 3, F, "greater than 3"),
    case("greater_than", "5", 3, E, "string", id="greater_than-numeric-string-errors"),
    case("greater_than", True, 0, E, "boolean", id="greater_than-bool-is-not-a-number"),
    case("greater_than", None, 3, E, "null"),
    case("greater_than_or_equal", 3, 3, P),
    case("greater_than_or_equal", 2.5, 3, F),
    case("greater_than_or_equal", "3", 3, E, "string"),
    case("less_than", 2, 3, P),
    case("less_than", 3, 3, F),
    case("less_than", {"a": 1}, 3, E, "object"),
    case("less_than_or_equal", 3, 3, P),
    case("less_than_or_equal", 4, 3, F),
    case("less_than_or_equal", "x", 3, E, "string"),
    case("approximately_equals", 10.4, [10, 0.5], P),
    case("approximately_equals", 9.5, [10, 0.5], P, id="approximately_equals-inclusive"),
    case("approximately_equals", 10.6, [10, 0.5], F, "10.6"),
    case("approximately_equals", "10", [10, 0.5], E, "string"),
    case("in_range", 1, [1, 5], P, id="in_range-inclusive-min"),
    case("in_range", 5, [1, 5], P, id="in_range-inclusive-max"),
    case("in_range", 6, [1, 5], F, "[1,5]"),
    case("in_range", "3", [1, 5], E, "string"),
    case("not_in_range", 0, [1, 5], P),
    case("not_in_range", 5, [1, 5], F),
    case("not_in_range", "x", [1, 5], E, "string"),
    case("is_positive", 0.1, None, P),
    case("is_positive", 0, None, F, "positive", id="is_positive-zero-fails"),
    case("is_positive", "1", None, E, "string"),
    case("is_negative", -2, None, P),
    case("is_negative", 0, None, F),
    case("is_negative", "-2", None, E, "string"),
    case("is_zero", 0, None, P),
    case("is_zero", 0.0, None, P),
    case("is_zero", 1, None, F),
    case("is_zero", "0", None, E, "string", id="is_zero-string-0-errors"),
    # --- containment ----------------------------------------------------------------
    case("contains", "hello", "ell", P),
    case("contains", "Hello", "hello", F, "'hello'", id="contains-case-sensitive"),
    case("contains", [1, 2], 2, P),
    case("contains", ["a", "b"], "b", P),
    case("contains", [1, 2], 3, F),
    case("contains", [1, 2], "1", F, id="contains-array-item-types-must-match"),
    case("contains", ["1", "2"], 1, F, id="contains-array-number-is-not-its-text"),
    case("contains", [1.0, 2], 1, P, id="contains-array-numbers-by-value"),
    case("contains", {"a": 1}, "a", E, "object", id="contains-object-errors"),
    case("contains", 5, 5, E, "number", id="contains-number-errors"),
    case("contains", "abc", 3, E, "number", id="contains-string-needs-string-expected"),
    case("not_contains", "hello", "xyz", P),
    case("not_contains", [1, 2], 2, F),
    case("not_contains", {"a": 1}, "a", E, "object"),
    case("not_contains", 12, 1, E, "number"),
    case("contains_all", [2, 1, 3], [1, 2], P),
    case("contains_all", [1, 2], [1, 3], F, "[3]", id="contains_all-names-missing"),
    case("contains_all", {"a": 1, "b": 2}, ["a", "b"], P, id="contains_all-object-keys"),
    case("contains_all", {"a": 1}, ["a", "b"], F, id="contains_all-object-key-missing"),
    case("contains_all", "a b", ["a", "b"], P, id="contains_all-text"),
    case("contains_all", "A b", ["a", "b"], F, 'lacks ["a"]', id="contains_all-text-case-sensitive"),
    case("contains_all", "ab", [1], E, "string expected values", id="contains_all-text-needs-strings"),
    case("contains_all", 5, [5], E, "number"),
    case("contains_any", [1, 2], [2, 9], P),
    case("contains_any", "hello world", ["world", "zzz"], P, id="contains_any-string-substring"),
    case("contains_any", [1, 2], [3], F),
    case("contains_any", "hello", ["xyz"], F),
    case("contains_any", 5, [5], E, "number"),
    case("contains_none", [1, 2], [3], P),
    case("contains_none", [1, 2], [2, 3], F, "[2]"),
    case("contains_none", "Here it is", ["sorry"], P, id="contains_none-text"),
    case(
        "contains_none", "I am sorry", ["sorry", "x"], F, 'contains ["sorry"]', id="contains_none-text-fails"
    ),
    case("contains_none", 5, ["x"], E, "number"),
    case("has_keys", {"id": 1, "name": "a"}, ["id", "name"], P),
    case("has_keys", {"id": 1}, ["id", "name"], F, "name"),
    case("has_keys", "id", ["id"], E, "string"),
    case("has_keys", [1], ["a"], E, "array", id="has_keys-array-errors"),
    case("sequence_matches", ["a", "b"], ["a", "b"], P),
    case("sequence_matches", ["b", "a"], ["a", "b"], F, id="sequence_matches-order"),
    case("sequence_matches", "ab", ["a", "b"], E, "string"),
    case("has_unique_items", [1, 2, {"a": 1}], None, P),
    case("has_unique_items", [{"a": 1}, {"a": 1}], None, F, '{"a":1}', id="has_unique_items-dup-objects"),
    case("has_unique_items", "aa", None, E, "string"),
    # --- strings --------------------------------------------------------------------
    case("starts_with", "Hello", "Hel", P),
    case("starts_with", "hello", "Hel", F, "'Hel'"),
    case("starts_with", 12, "1", E, "number"),
    case("ends_with", "Done.", ".", P),
    case("ends_with", "Done", ".", F),
    case("ends_with", 12, "2", E, "number"),
    case("starts_with_any", "No, thanks", ["Yes", "No"], P),
    case("starts_with_any", "Maybe", ["Yes", "No"], F),
    case("starts_with_any", 5, ["5"], E, "number"),
    case("matches", "abc123", r"\d+", P, id="matches-search-not-anchored"),
    case("matches", "abc", r"\d+", F),
    case("matches", 123, r"\d+", E, "number"),
    case("matches_regex", "Hello", "^[A-Z]", P),
    case("matches_regex", "hello", "^[A-Z]", F),
    case("matches_regex", True, "a", E, "boolean"),
    case("contains_word", "the quick fox", "quick", P),
    case("contains_word", "quickly", "quick", F, id="contains_word-not-a-prefix"),
    case("contains_word", "Quick fox", "quick", F, id="contains_word-case-sensitive"),
    case("contains_word", 5, "quick", E, "number"),
    case(
        "contains_word", "cafe\u0301 au lait", "cafe", F, id="contains_word-combining-accent-is-in-the-word"
    ),
    case("contains_word", "किताब", "क", F, id="contains_word-vowel-sign-is-in-the-word"),
    case("contains_word", "a café here", "café", P, id="contains_word-non-ascii"),
    case("contains_word", "I like C++.", "C++", P, id="contains_word-ends-in-punctuation"),
    case("contains_word", "snake_case", "snake", F, id="contains_word-underscore-joins"),
    case("is_alphabetic", "abcÄ", None, P, id="is_alphabetic-unicode"),
    case("is_alphabetic", "", None, P, id="is_alphabetic-empty-is-vacuous"),
    case("is_alphabetic", "ab c", None, F, id="is_alphabetic-space-fails"),
    case("is_alphabetic", 5, None, E, "number"),
    case("is_alphabetic", "किताब", None, P, id="is_alphabetic-devanagari-vowel-sign"),
    case("is_alphabetic", "বাংলা", None, P, id="is_alphabetic-bengali"),
    case("is_alphabetic", "كِتَاب", None, P, id="is_alphabetic-arabic-harakat"),
    case("is_alphabetic", "हिन्दी", None, P, id="is_alphabetic-virama"),
    case("is_alphabetic", "cafe\u0301", None, P, id="is_alphabetic-combining-accent"),
    case("is_alphabetic", "\u0301a", None, F, id="is_alphabetic-mark-without-a-letter"),
    case("is_alphabetic", "abc1", None, F),
    case("is_alphanumeric", "abc123", None, P),
    case("is_alphanumeric", "abc-123", None, F),
    case("is_alphanumeric", 5, None, E, "number"),
    case("is_alphanumeric", "كِتَاب٣", None, P, id="is_alphanumeric-arabic-digit"),
    case("is_alphanumeric", "किताब१२", None, P, id="is_alphanumeric-devanagari-digits"),
    case("is_alphanumeric", "a b", None, F),
    case("is_lower_case", "hello 123!", None, P, id="is_lower_case-ignores-non-letters"),
    case("is_lower_case", "Hello", None, F),
    case("is_lower_case", "123", None, E, "letters", id="is_lower_case-no-letters-errors"),
    case("is_lower_case", 5, None, E, "number"),
    case("is_upper_case", "OK 200", None, P),
    case("is_upper_case", "Ok", None, F),
    case("is_upper_case", "!!", None, E, "letters", id="is_upper_case-no-letters-errors"),
    case("is_upper_case", None, None, E, "null"),
    case("equals_ignore_case", "PARIS", "paris", P),
    case("equals_ignore_case", "Straße", "STRASSE", P, id="equals_ignore_case-casefold"),
    case("equals_ignore_case", "Paris.", "paris", F),
    case("equals_ignore_case", 5, "5", E, "number"),
    case("contains_ignore_case", "Hello World", "WORLD", P),
    case("contains_ignore_case", ["World"], "world", P, id="contains_ignore_case-array-item"),
    case("contains_ignore_case", "Hello", "x", F),
    case("contains_ignore_case", 5, "5", E, "number"),
    case("starts_with_ignore_case", "YES indeed", "yes", P),
    case("starts_with_ignore_case", "No", "yes", F),
    case("starts_with_ignore_case", True, "t", E, "boolean"),
    case("ends_with_ignore_case", "report.PDF", ".pdf", P),
    case("ends_with_ignore_case", "report.doc", ".pdf", F),
    case("ends_with_ignore_case", 1, "1", E, "number"),
    case("contains_all_ignore_case", "Apples and BANANAS", ["apples", "bananas"], P),
    case("contains_all_ignore_case", ["A", "b"], ["a", "B"], P, id="contains_all_ignore_case-array"),
    case("contains_all_ignore_case", "apples", ["Apples", "pears"], F, "pears"),
    case("contains_all_ignore_case", 5, ["5"], E, "number"),
    case("contains_any_ignore_case", "Ok.", ["YES", "ok"], P),
    case("contains_any_ignore_case", ["Yes"], ["yes"], P, id="contains_any_ignore_case-array"),
    case("contains_any_ignore_case", "nope", ["yes"], F),
    case("contains_any_ignore_case", 5, ["5"], E, "number"),
    case("similarity_gte", "colour", ["color", 0.8], P),
    case("similarity_gte", "cat", ["color", 0.8], F, "similarity"),
    case("similarity_gte", 5, ["color", 0.8], E, "number"),
    case("levenshtein_lte", "color", ["colour", 1], P),
    case("levenshtein_lte", "colr", ["colour", 1], F, "2 edits"),
    case("levenshtein_lte", None, ["colour", 1], E, "null"),
    case("word_count_between", "a short answer", [1, 5], P),
    case("word_count_between", "one  two\nthree", [3, 3], P, id="word_count_between-any-whitespace"),
    case("word_count_between", "", [1, 5], F, "0 words"),
    case("word_count_between", "one two three", [1, 2], F, "3 words"),
    case("word_count_between", 3, [1, 2], E, "number"),
    # --- formats --------------------------------------------------------------------
    case("is_email", "ann@example.com", None, P),
    case("is_email", "user@localhost", None, F, id="is_email-needs-a-tld"),
    case("is_email", 5, None, E, "number"),
    case("is_url", "https://example.com/a?b=1", None, P),
    case("is_url", "http://localhost:8080/x", None, P, id="is_url-port"),
    case("is_url", "http://[::1]:80/", None, P, id="is_url-ipv6"),
    case("is_url", "example.com", None, F, id="is_url-no-scheme"),
    case("is_url", "ftp://example.com", None, F, id="is_url-not-http"),
    case("is_url", "http://", None, F, id="is_url-no-host"),
    case("is_url", "http://example.com:99999/", None, F, id="is_url-bad-port"),
    case("is_url", 5, None, E, "number"),
    case("is_uuid", "123e4567-e89b-12d3-a456-426614174000", None, P),
    case("is_uuid", "123E4567-E89B-12D3-A456-426614174000", None, P, id="is_uuid-upper"),
    case("is_uuid", "123e4567-e89b-12d3-a456-42661417400", None, F),
    case("is_uuid", 123, None, E, "number"),
    case("is_iso8601", "2024-01-08", None, P),
    case("is_iso8601", "2024-01-08T12:00:00Z", None, P),
    case("is_iso8601", "2024-01-08T12:00:00+02:00", None, P),
    case("is_iso8601", "2024-01-08T12:00:00.123456Z", None, P, id="is_iso8601-fraction"),
    case("is_iso8601", "2024-02-29", None, P, id="is_iso8601-leap-day"),
    case("is_iso8601", "2024-13-45", None, F, id="is_iso8601-impossible-month"),
    case("is_iso8601", "2024-02-30", None, F, id="is_iso8601-impossible-day"),
    case("is_iso8601", "2024-01-08T25:00:00Z", None, F, id="is_iso8601-impossible-hour"),
    case("is_iso8601", "08/01/2024", None, F),
    case("is_iso8601", "2016-12-31T23:59:60Z", None, P, id="is_iso8601-leap-second"),
    case("is_iso8601", "2016-12-31T23:59:60.5+00:00", None, P, id="is_iso8601-leap-second-fraction"),
    case("is_iso8601", "2016-12-31T18:59:60-05:00", None, P, id="is_iso8601-leap-second-with-offset"),
    case("is_iso8601", "2016-12-31T12:30:60Z", None, F, id="is_iso8601-leap-second-not-at-day-end"),
    case("is_iso8601", "2016-12-31T23:59:61Z", None, F, id="is_iso8601-second-61"),
    case("is_iso8601", 20240108, None, E, "number"),
    # --- lengths --------------------------------------------------------------------
    case("has_length_equal", "héllo", 5, P, id="has_length_equal-chars-not-bytes"),
    case("has_length_equal", [1, 2, 3], 3, P),
    case("has_length_equal", {"a": 1, "b": 2}, 2, P, id="has_length_equal-object-keys"),
    case("has_length_equal", "abc", 5, F, "has length 3, not 5"),
    case("has_length_equal", 12345, 5, E, "number", id="has_length_equal-number-errors"),
    case("has_length_greater_than", [1, 2, 3], 2, P),
    case("has_length_greater_than", "ab", 2, F, "has length 2, not more than 2"),
    case("has_length_greater_than", 1.5, 1, E, "number"),
    case("has_length_less_than", "ab", 3, P),
    case("has_length_less_than", [1, 2, 3], 3, F),
    case("has_length_less_than", True, 1, E, "boolean"),
    case("has_length_greater_than_or_equal", "ab", 2, P),
    case("has_length_greater_than_or_equal", "a", 2, F),
    case("has_length_greater_than_or_equal", None, 1, E, "null"),
    case("has_length_less_than_or_equal", [1], 2, P),
    case("has_length_less_than_or_equal", "abc", 2, F),
    case("has_length_less_than_or_equal", 7, 2, E, "number"),
    # --- types and emptiness (array-native) ------------------------------------------
    case("is_numeric", 1.5, None, P),
    case("is_numeric", 3, None, P),
    case("is_numeric", "1.5", None, F, id="is_numeric-numeric-string-fails"),
    case("is_numeric", True, None, F, id="is_numeric-bool-fails"),
    case("is_numeric", [1, 2], None, F, id="is_numeric-array-fails"),
    case("is_string", "x", None, P),
    case("is_string", 1, None, F),
    case("is_string", ["x"], None, F),
    case("is_boolean", False, None, P),
    case("is_boolean", "false", None, F),
    case("is_boolean", 0, None, F),
    case("is_null", None, None, P),
    case("is_null", "", None, F),
    case("is_null", 0, None, F),
    case("is_array", [1], None, P),
    case("is_array", [], None, P),
    case("is_array", "[]", None, F),
    case("is_object", {"a": 1}, None, P),
    case("is_object", [], None, F),
    case("is_object", "{}", None, F),
    case("is_integer", 3, None, P),
    case("is_integer", 3.0, None, P, id="is_integer-whole-float"),
    case("is_integer", 3.5, None, F),
    case("is_integer", "3", None, F),
    case("is_integer", True, None, F, id="is_integer-bool-fails"),
    case("is_empty", "", None, P),
    case("is_empty", None, None, P),
    case("is_empty", [], None, P),
    case("is_empty", {}, None, P),
    case("is_empty", "a", None, F),
    case("is_empty", [0], None, F),
    case("is_empty", 0, None, E, "number", id="is_empty-number-errors"),
    case("is_not_empty", "a", None, P),
    case("is_not_empty", [0], None, P),
    case("is_not_empty", "", None, F),
    case("is_not_empty", None, None, F, id="is_not_empty-null-fails"),
    case("is_not_empty", 0, None, E, "number"),
    # --- documents ------------------------------------------------------------------
    case("is_json", "42", None, P, id="is_json-scalar"),
    case("is_json", '{"a": [1, 2]}', None, P),
    case("is_json", "{a: 1}", None, F),
    case("is_json", "", None, F),
    case("is_json", "NaN", None, F, id="is_json-nan-is-not-json"),
    case("is_json", {"a": 1}, None, E, "object", id="is_json-object-errors"),
    case(
        "is_json",
        [1, 2],
        None,
        E,
        "item 0: needs a string holding JSON",
        id="is_json-array-of-numbers-errors",
    ),
    case("is_json", ["{}", "[1]"], None, P, id="is_json-array-of-json-strings"),
    case("is_json", ["{}", "x"], None, F, "item 1 is not valid JSON: 'x'", id="is_json-array-item-fails"),
    case("is_xml", ["<a/>", "<b>"], None, F, "item 1 is not well-formed XML", id="is_xml-array-item-fails"),
    case("contains_json", ['x {"a": 1}', "y [2]"], None, P, id="contains_json-array-of-texts"),
    case("is_xml", "<a><b x='1'/></a>", None, P),
    case("is_xml", "<a>", None, F),
    case("is_xml", 5, None, E, "number"),
    case("contains_json", 'Here you go: {"a": 1}. Done.', None, P, id="contains_json-in-prose"),
    case("contains_json", "```json\n[1, 2]\n```", None, P, id="contains_json-fence"),
    case("contains_json", "no json here", None, F, "no JSON"),
    case("contains_json", "see [a] and {b}", None, F, id="contains_json-brackets-are-not-json"),
    case("contains_json", 'x {"a": 1}', {"type": "object", "required": ["a"]}, P, id="contains_json-schema"),
    case(
        "contains_json",
        'x {"b": 1}',
        {"type": "object", "required": ["a"]},
        F,
        "'a' is a required property",
        id="contains_json-schema-fails",
    ),
    case("contains_json", {"a": 1}, None, E, "object"),
    case("json_schema", '{"a": 1}', {"type": "object", "required": ["a"]}, P, id="json_schema-json-string"),
    case("json_schema", {"a": 1}, {"type": "object", "required": ["a"]}, P, id="json_schema-object"),
    case(
        "json_schema",
        '{"b": 1}',
        {"type": "object", "required": ["a"]},
        F,
        "'a' is a required property",
        id="json_schema-validator-message",
    ),
    case(
        "json_schema",
        {"a": "x"},
        {"properties": {"a": {"type": "integer"}}},
        F,
        "'x' is not of type 'integer' at $.a",
        id="json_schema-message-names-path",
    ),
    case("json_schema", "hello", {"type": "string"}, P, id="json_schema-plain-text"),
]


def _trace_cases() -> list[Any]:
    """The trace operators' own table (tests/test_traces.py): a trace that passes, one that
    fails, and a number, which is no trace."""
    from tests.test_traces import GOOD, OPERATORS, bad_for

    out = []
    for op, expected in OPERATORS:
        out += [
            case(op, GOOD, expected, P, id=f"{op}-passes"),
            case(op, bad_for(op), expected, F, "trace 4bf92f35", id=f"{op}-fails"),
            case(op, 42, expected, E, "needs a trace", id=f"{op}-wrong-type"),
        ]
    return out


CASES += _trace_cases()


def _agent_cases() -> list[Any]:
    """The agent operators' own table (tests/test_agent_operators.py), on a whole OpenAI chat
    completion whose calls are search_kb then get_weather; and a number, which is no response."""
    from tests.test_agent_operators import CASES as AGENT_CASES
    from tests.test_agent_shapes import CALLS, openai_chat

    response = openai_chat(CALLS)
    out = [
        case(op, response, expected, status, id=f"{op}-{status}-{i}")
        for i, (op, expected, status) in enumerate(AGENT_CASES)
    ]
    first = {op: expected for op, expected, _ in reversed(AGENT_CASES)}
    out += [
        case(op, 42, expected, E, "needs tool calls", id=f"{op}-wrong-type") for op, expected in first.items()
    ]
    return out


CASES += _agent_cases()


@pytest.mark.parametrize(("op", "value", "expected", "status", "text"), CASES)
def test_operator(op: str, value: Any, expected: Any, status: str, text: str) -> None:
    got, message = outcome(value, op, expected)
    assert got == status, message
    assert text in message
    if status == E:
        assert lookup(op).name in message  # the engine names the operator
    else:
        assert (message == "") == (status == P)


@pytest.mark.parametrize(("op", "value", "expected", "status", "text"), CASES)
def test_object_column_agrees(op: str, value: Any, expected: Any, status: str, text: str) -> None:
    """An object column takes the per-value path; a typed one may be vectorised: same answer."""
    assert outcome(value, op, expected, as_object=True)[0] == status


@pytest.mark.parametrize(("op", "value", "expected", "status", "text"), CASES)
def test_not_prefix_negates(op: str, value: Any, expected: Any, status: str, text: str) -> None:
    """``not_<op>`` flips passed and failed; a wrong type stays an error."""
    flipped = {P: F, F: P, E: E}[status]
    got, message = outcome(value, f"not_{op}", expected)
    assert got == flipped, message
    if status == E:
        assert lookup(f"not_{op}").name in message


def test_every_operator_has_passing_failing_and_wrong_type_cases() -> None:
    seen: dict[str, set[str]] = {}
    for p in CASES:
        op, _, _, status, _ = p.values
        seen.setdefault(op, set()).add(status)
    accepts_any_json = {
        "equals",
        "not_equal",
        "one_of",
        "json_schema",
        "is_numeric",
        "is_string",
        "is_boolean",
        "is_null",
        "is_array",
        "is_object",
        "is_integer",
    }
    for name in OPERATORS:
        assert {P, F} <= seen.get(name, set()), f"{name} lacks a passing or failing case"
        if name not in accepts_any_json:
            assert E in seen[name], f"{name} lacks a wrong-type case"


# --- negation, aliases, CamelCase ----------------------------------------------------


def test_negated_reason_says_what_held() -> None:
    assert outcome(1, "not_equals", 1) == (F, "is equal to 1: 1")
    assert outcome("abc", "not_starts_with", "a")[1] == "is a string starting with 'a': 'abc'"


LONG_REFUSAL = "I'm sorry, I can't help with that. " * 3


@pytest.mark.parametrize(
    ("op", "value", "expected", "verdict"),
    [
        ("is_json", LONG_REFUSAL, None, "is not valid JSON: 'I'm sorry"),
        ("gt", 2, 3, "is not greater than 3: 2"),
        ("contains", LONG_REFUSAL, "sure", "does not contain 'sure': 'I'm sorry"),
        ("contains_all", ["a"], ["a", "b"], 'lacks ["b"]: ["a"]'),
        ("has_length_less_than", LONG_REFUSAL, 10, "has length 105, not less than 10: 'I'm sorry"),
        ("similarity_gte", "cat", ["color", 0.8], "has similarity 0.200, below 0.8 to 'color': 'cat'"),
        ("levenshtein_lte", "colr", ["colour", 1], "is 2 edits from 'colour', more than 1: 'colr'"),
        ("word_count_between", "one two three", [1, 2], "has 3 words, not between 1 and 2: 'one"),
        ("json_schema", '{"b": 1}', {"required": ["a"]}, "does not match the schema ('a' is a required"),
        ("contains_json", "no json", None, "contains no JSON object or array: 'no json'"),
        ("is_xml", "<a>", None, "is not well-formed XML (no element found"),
        ("is_not_empty", "", None, "is empty: ''"),
        ("approximately_equals", 10.6, [10, 0.5], "is not within 0.5 of 10: 10.6"),
        ("has_unique_items", [1, 1], None, "repeats 1: [1,1]"),
        ("has_keys", {"id": 1}, ["id", "name"], 'lacks the keys ["name"]: {'),
        ("gt", [5, 2], 3, "item 1 is not greater than 3: 2"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 25 else None,
)
def test_a_reason_leads_with_the_verdict_then_the_value(
    op: str, value: Any, expected: Any, verdict: str
) -> None:
    """What failed shows in the first characters of a cell, however long the value is."""
    for as_object in (False, True):  # typed columns may take a fast path: same reason
        status, reason = outcome(value, op, expected, as_object=as_object)
        assert status == F and reason.startswith(verdict), reason


def test_double_negation_of_a_not_operator() -> None:
    assert outcome(1, "not_not_equal", 1.0)[0] == P


@pytest.mark.parametrize(
    ("alias", "value", "expected", "status"),
    [
        ("eq", 3, 3.0, P),
        ("eq", 3, 4, F),
        ("ne", 3, 4, P),
        ("ne", 3, 3, F),
        ("gt", 4, 3, P),
        ("gt", 3, 3, F),
        ("gte", 3, 3, P),
        ("gte", 2, 3, F),
        ("lt", 2, 3, P),
        ("lt", 3, 3, F),
        ("lte", 3, 3, P),
        ("lte", 4, 3, F),
        ("not_gt", 3, 3, P),
        ("NotGt", 4, 3, F),
    ],
)
def test_aliases(alias: str, value: Any, expected: Any, status: str) -> None:
    assert outcome(value, alias, expected)[0] == status


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_camel_case_name_resolves(name: str) -> None:
    camel = "".join(part.capitalize() for part in name.split("_"))
    assert lookup(camel).op is OPERATORS[name]
    assert ALIASES[camel] == name
    assert lookup("Not" + camel).name == f"not_{name}"


@pytest.mark.parametrize(
    ("camel", "value", "expected", "status"),
    [
        ("GreaterThan", 5, 3, P),
        ("HasLengthGreaterThanOrEqual", "abc", 3, P),
        ("IsUrl", "https://a.io", None, P),
        ("IsUuid", "nope", None, F),
        ("IsJson", "{}", None, P),
        ("IsIso8601", "2024-02-30", None, F),
        ("NotStartsWith", "abc", "a", F),
        ("NotContains", "abc", "z", P),
        ("ContainsAll", [1, 2], [1], P),
    ],
)
def test_camel_case_names_evaluate(camel: str, value: Any, expected: Any, status: str) -> None:
    assert outcome(value, camel, expected)[0] == status


def test_task_stores_canonical_snake_name() -> None:
    assert wb.AssertionTask(id="t", path="x", op="HasLengthLessThan", expected=3).op == "has_length_less_than"
    assert wb.AssertionTask(id="t", path="x", op="NotIsJson").op == "not_is_json"


# --- the array rule --------------------------------------------------------------------


def test_array_every_item_must_hold_and_failure_names_the_item() -> None:
    assert outcome([5, 6, 7], "gt", 3) == (P, "")
    assert outcome([5, 2, 7], "gt", 3) == (F, "item 1 is not greater than 3: 2")


def test_array_of_strings_checked_item_by_item() -> None:
    assert outcome(["ab", "ac"], "starts_with", "a")[0] == P
    status, reason = outcome(["ab", "b", "c"], "starts_with", "a")
    assert status == F and reason == "item 1 is not a string starting with 'a': 'b'"


def test_array_item_with_wrong_type_errors_naming_the_item() -> None:
    status, message = outcome([1, "x"], "gt", 0)
    assert status == E and "item 1" in message and "string" in message


def test_empty_array_passes_a_per_item_operator() -> None:
    assert outcome([], "gt", 3)[0] == P


def test_negated_array_rule() -> None:
    assert outcome([5, 2, 7], "not_gt", 3)[0] == P  # not every item is > 3
    status, reason = outcome([5, 6], "not_gt", 3)
    assert status == F and reason == "every item is greater than 3: [5,6]"


def test_item_path_selects_a_field_of_each_item() -> None:
    value = [{"score": 5}, {"score": 2}]
    assert outcome(value, "gt", 3, item_path="score") == (F, "item 1 is not greater than 3: 2")
    assert outcome(value, "gt", 1, item_path="score")[0] == P
    assert outcome([{"a": {"b": "xy"}}], "starts_with", "x", item_path="a.b")[0] == P
    # an array-native operator sees the selected fields as one array
    assert outcome([{"a": 1}, {"a": 2}], "sequence_matches", [1, 2], item_path="a")[0] == P


def test_item_path_missing_in_an_item_errors() -> None:
    status, message = outcome([{"score": 5}, {"other": 1}], "gt", 3, item_path="score")
    assert status == E and "item 1" in message and "score" in message


@pytest.mark.parametrize(
    ("op", "value", "expected", "status"),
    [
        ("has_length_equal", [1, 2], 2, P),
        ("contains", [1, 2], 2, P),
        ("is_array", [1], None, P),
        ("is_numeric", [1], None, F),
        ("equals", [1, 2], [1, 2], P),
        ("is_empty", [], None, P),
    ],
)
def test_array_native_operators_see_the_whole_array(op: str, value: Any, expected: Any, status: str) -> None:
    assert outcome(value, op, expected)[0] == status


# --- templates -------------------------------------------------------------------------


def test_similarity_to_a_reference_column() -> None:
    df = pd.DataFrame(
        {
            "answer": ["The capital is Paris.", "No idea"],
            "ref": ["The capital is Paris", "Paris"],
        }
    )
    task = wb.AssertionTask(id="sim", path="answer", op="similarity_gte", expected=["${ref}", 0.8])
    run = wb.evaluate(df, wb.Suite(name="t", version="1", tasks=[task]))
    assert run.results["status"].tolist() == [P, F]


# --- spec errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "expected", "text"),
    [
        ("in_range", {"min": 1, "max": 2}, "needs [min, max] as expected, got object"),
        ("in_range", [5, 1], "min <= max"),
        ("approximately_equals", 10, "[value, tolerance"),
        ("matches", "(unclosed", "missing ), unterminated subpattern"),
        ("matches_regex", "[a-", "unterminated character set"),
        ("is_json", 5, "takes no expected value"),
        ("greater_than", "3", "needs a number"),
        ("has_length_equal", -1, "whole number"),
        ("contains_all", "abc", "needs a list"),
        ("has_keys", [1], "list of strings"),
        ("json_schema", {"type": "nope"}, "valid JSON Schema"),
        ("json_schema", None, "JSON Schema"),
        ("similarity_gte", ["ref", 1.5], "[reference text, min similarity"),
        ("word_count_between", [1.5, 3], "[min, max] whole numbers"),
        ("contains_word", "", "needs a non-empty word"),
    ],
)
def test_bad_expected_is_a_spec_error(op: str, expected: Any, text: str) -> None:
    with pytest.raises(wb.SpecError) as info:  # a task keeps its problems; its suite raises them
        wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="x", op=op, expected=expected)])
    assert text in str(info.value)
    assert op in str(info.value)


# --- the registry and apply ------------------------------------------------------------


def test_there_are_at_least_60_base_operators() -> None:
    assert len(OPERATORS) >= 60


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_operator_is_documented_with_an_example(name: str) -> None:
    op = OPERATORS[name]
    assert op.doc and "\n" not in op.doc
    assert "passes" in op.doc or "fails" in op.doc or "expected=" in op.doc
    assert op.phrase and op.phrase.format(expected="X")


def test_apply_uses_a_message_from_check() -> None:
    rop = lookup("json_schema")
    prepared = rop.op.prepare({"type": "object", "required": ["a"]})
    ok, reason = apply(rop, '{"b": 1}', prepared)
    assert not ok and reason is not None and "'a' is a required property" in reason
    assert apply(lookup("not_json_schema"), '{"b": 1}', prepared) == (True, None)


def test_apply_item_reason_uses_the_check_message() -> None:
    rop = lookup("has_length_less_than")
    assert apply(rop, "abcd", 3) == (False, "has length 4, not less than 3: 'abcd'")
    rop = lookup("levenshtein_lte")
    ok, reason = apply(rop, ["color", "colr"], rop.op.prepare(["colour", 1]))
    assert not ok and reason == "item 1 is 2 edits from 'colour', more than 1: 'colr'"


@pytest.mark.parametrize(
    ("op", "expected", "status"),
    [
        ("has_length_equal", 1_000_000, P),
        ("contains", "needle", F),
        ("matches", r"\d", F),
        ("is_json", None, F),
        ("contains_json", None, F),
        ("word_count_between", [0, 10], P),
        ("is_lower_case", None, E),
    ],
)
@pytest.mark.parametrize(
    "text", ["[" * 1_000_000, "{" * 1_000_000, '["' * 500_000], ids=["brackets", "braces", "quotes"]
)
def test_a_megabyte_of_brackets(text: str, op: str, expected: Any, status: str) -> None:
    """Pathological text stays fast (no quadratic search for embedded JSON) and correct."""
    assert outcome(text, op, expected)[0] == status
