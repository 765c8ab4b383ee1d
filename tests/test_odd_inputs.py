"""Inputs that must never hang, crash or abort an assertion run: lone surrogates, JSON and
Python objects nested thousands deep, megabyte texts compared by edit distance."""

from __future__ import annotations

import random
import time

import pandas as pd
import pytest

import workbench as wb
from tests.conftest import cells, suite_of
from workbench.context import Context
from workbench.engine import run_assertions
from workbench.run import results_frame

A = wb.AssertionTask
SURROGATE = "\ud800"


def assertion_results(df: pd.DataFrame, *tasks: wb.AssertionTask) -> pd.DataFrame:
    """The results frame of an assertion run, from the engine (without evaluate's saving)."""
    return results_frame(run_assertions(suite_of(*tasks), Context(df)), df.index)


def nested_list(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


# --- lone surrogates -------------------------------------------------------------------

SURROGATE_TASKS = [
    A(id="contains", path="x", op="contains", expected="z"),
    A(id="matches", path="x", op="matches", expected="z"),
    A(id="equals", path="x", op="equals", expected="ok"),
    A(id="json", path="x", op="is_json"),
    A(id="xml", path="x", op="is_xml"),
    A(id="word", path="x", op="contains_word", expected="a"),
    A(id="alpha", path="x", op="is_alphabetic"),
    A(id="short", path="x", op="has_length_less_than", expected=2),
    A(id="key", path="x.b", op="is_string"),
]


def surrogate_frame() -> pd.DataFrame:
    # an object column: pandas cannot even build an Arrow string column holding one
    return pd.DataFrame(
        {"x": pd.Series([SURROGATE, "ok", f"<a>{SURROGATE}</a>", {SURROGATE: 1}], dtype=object)}
    )


def test_a_lone_surrogate_is_a_value_like_any_other() -> None:
    r = assertion_results(surrogate_frame(), *SURROGATE_TASKS).set_index(["task", "row"])
    assert r.loc[("contains", 0), "status"] == "failed"
    assert r.loc[("contains", 0), "reason"] == "does not contain 'z': '\\ud800'"  # escaped, valid UTF-8
    assert r.loc[("equals", 1), "status"] == "passed"  # the other rows are untouched
    assert r.loc[("matches", 2), "reason"] == "is not a string matching 'z': '<a>\\ud800</a>'"
    assert r.loc[("json", 0), "status"] == "failed"
    assert r.loc[("xml", 2), "reason"].startswith("is not well-formed XML (it holds a lone surrogate")
    assert r.loc[("alpha", 0), "status"] == "failed" and r.loc[("short", 0), "status"] == "passed"
    assert r.loc[("key", 3), "status"] == "error" and "\\ud800" in r.loc[("key", 3), "error"]
    assert r.loc[("contains", 3), "status"] == "error"  # an object: the operator's own type error
    assert set(r["status"]) <= {"passed", "failed", "error"}


def test_a_lone_surrogate_through_evaluate() -> None:
    run = wb.evaluate(surrogate_frame(), suite_of(*SURROGATE_TASKS), save=False)
    assert cells(run, "contains").loc[0, "reason"] == "does not contain 'z': '\\ud800'"


# --- nesting ---------------------------------------------------------------------------


@pytest.mark.parametrize("typed", [True, False], ids=["string-column", "object-column"])
def test_json_nested_too_deeply_says_so(typed: bool) -> None:
    deep = "[" * 2500 + "]" * 2500
    values = [deep, "[1]", "{oops"]
    column = pd.array(values, dtype="string") if typed else pd.Series(values, dtype=object)
    run = wb.evaluate(
        pd.DataFrame({"x": column}),
        suite_of(A(id="json", path="x", op="is_json"), A(id="first", path="x.0", op="is_array")),
    )
    json_cells, first = cells(run, "json"), cells(run, "first")
    assert json_cells["status"].tolist() == ["failed", "passed", "failed"]
    assert json_cells.loc[0, "reason"].startswith(
        "is nested too deeply to parse (more than 1,024 levels of arrays and objects): '[[[["
    )
    assert json_cells.loc[2, "reason"] == "is not valid JSON: '{oops'"
    assert first.loc[0, "status"] == "error"
    assert "column 'x' holds a string nested too deeply to parse" in first.loc[0, "error"]
    assert "not valid JSON" not in first.loc[0, "error"]


def test_a_python_object_nested_10000_deep_is_an_error_cell() -> None:
    df = pd.DataFrame({"x": pd.Series([nested_list(10_000), [1]], dtype=object)})
    r = assertion_results(
        df,
        A(id="equals", path="x", op="equals", expected=[1]),
        A(id="schema", path="x", op="json_schema", expected={"type": "array"}),
        A(id="unique", path="x", op="has_unique_items"),
        A(id="array", path="x", op="is_array"),
        A(id="length", path="x", op="has_length_equal", expected=1),
        A(id="object", path="x", op="is_object"),
    ).set_index(["task", "row"])
    assert r.loc[("equals", 0), "reason"].startswith("is not equal to [1]: [[[[")  # decided at depth 2
    assert r.loc[("unique", 0), "status"] == "error"
    assert r.loc[("unique", 0), "error"].startswith(
        "has_unique_items at path 'x': the value is nested too deeply to check"
    )
    assert r.loc[("unique", 0), "error"].endswith("... (nested too deeply to show)")
    assert r.loc[("unique", 1), "status"] == "passed"
    assert r.loc[("schema", 0), "status"] == "passed"  # the schema looks at the top only
    assert r.loc[("array", 0), "status"] == "passed" and r.loc[("length", 0), "status"] == "passed"
    assert r.loc[("object", 0), "reason"].startswith("is not an object: [[[[[[")  # described, not crashed


def test_a_python_object_nested_10000_deep_through_evaluate() -> None:
    df = pd.DataFrame({"x": pd.Series([nested_list(10_000)], dtype=object)})
    run = wb.evaluate(df, suite_of(A(id="equals", path="x", op="equals", expected=[1])), save=False)
    got = cells(run, "equals").loc[0]  # decided at depth 2, as above; nothing raised out of evaluate
    assert got["status"] == "failed" and got["reason"].startswith("is not equal to [1]: [[[[")
    assert run.data_fingerprint is not None


# --- bounded work per cell -------------------------------------------------------------


def megabyte(seed: int) -> str:
    return "".join(random.Random(seed).choices("abcdefgh ", k=1_000_000))


def test_edit_distance_on_megabyte_texts_is_bounded() -> None:
    text = megabyte(1)
    near = text[:1000] + "X" + text[1001:500_000] + "YZ" + text[500_002:]  # 3 edits
    other = megabyte(2)
    df = pd.DataFrame({"answer": [text, text, text], "ref": [near, other, "a short reference"]})
    started = time.perf_counter()
    run = wb.evaluate(
        df,
        suite_of(
            A(id="close", path="answer", op="levenshtein_lte", expected=["${ref}", 5]),
            A(id="similar", path="answer", op="similarity_gte", expected=["${ref}", 0.8]),
        ),
        save=False,
    )
    elapsed = time.perf_counter() - started
    assert elapsed < 15, f"{elapsed:.1f} s"  # unbounded, the 1 MB pairs took 34-56 s a cell
    close, similar = cells(run, "close"), cells(run, "similar")
    assert close["status"].tolist() == ["passed", "failed", "failed"]
    assert close.loc[0, "reason"] is pd.NA or pd.isna(close.loc[0, "reason"])
    assert close.loc[1, "reason"].startswith("is more than 5 edits from '")
    assert similar.loc[0, "status"] == "passed"
    assert similar.loc[1, "status"] == "error"  # 1 MB x 200,000 allowed edits: too much for one cell
    assert "within the work bound of one cell" in similar.loc[1, "error"]
    assert "compare a shorter field or a part of the text, or allow fewer edits" in similar.loc[1, "error"]
    assert similar.loc[2, "status"] == "failed"  # the lengths alone decide it
    assert similar.loc[2, "reason"].startswith("has similarity below 0.8 to 'a short reference'")


def test_edit_distance_reasons_stay_exact_on_ordinary_texts() -> None:
    run = wb.evaluate(
        pd.DataFrame({"a": ["colr", "the capital is Paris"]}),
        suite_of(
            A(id="close", path="a", op="levenshtein_lte", expected=["colour", 1]),
            A(id="similar", path="a", op="similarity_gte", expected=["The capital is Paris.", 0.95]),
        ),
        save=False,
    )
    assert cells(run, "close").loc[0, "reason"] == "is 2 edits from 'colour', more than 1: 'colr'"
    assert cells(run, "similar").loc[1, "reason"] == (
        "has similarity 0.905, below 0.95 to 'The capital is Paris.': 'the capital is Paris'"
    )


# --- references ------------------------------------------------------------------------


def test_a_frame_without_columns_does_not_suggest_the_tasks_own_id() -> None:
    with pytest.raises(wb.ColumnsError) as e:
        wb.evaluate(
            pd.DataFrame(index=[0, 1]),
            suite_of(A(id="answer_len", path="answer", op="has_length_less_than", expected=5)),
        )
    message = str(e.value)
    assert "path 'answer' starts with 'answer', which is neither a column nor a task" in message
    assert "did you mean" not in message


def test_another_tasks_id_is_still_suggested() -> None:
    with pytest.raises(wb.ColumnsError, match=r"did you mean 'answer_len'"):
        wb.evaluate(
            pd.DataFrame({"x": [1]}),
            suite_of(
                A(id="answer_len", path="x", op="gt", expected=0),
                A(id="next", path="answer_le.passed", op="equals", expected=True, depends_on=["answer_len"]),
            ),
        )
