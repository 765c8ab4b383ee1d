"""evaluate(): the task graph, errors as data, subsets, dtypes, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

import workbench as wb
from tests.conftest import cells, suite_of

A = wb.AssertionTask


@pytest.fixture
def support() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "question": ["What is 2+2?", "Capital of France?", "Tallest mountain?", "Largest ocean?"],
            "response": [
                '{"answer": "4", "sources": [{"url": "https://a.org"}], "confidence": 0.9}',
                "not json at all",
                (
                    '{"answer": "Everest is the tallest mountain above sea level", "sources": [], '
                    '"confidence": 0.4}'
                ),
                '{"answer": 12, "sources": [{"url": "nope"}, {"url": "https://b.org"}], "confidence": 1.5}',
            ],
            "latency_ms": [120.0, np.nan, 900.0, 3000.0],
        },
        index=pd.Index(["q1", "q2", "q3", "q4"], name="id"),
    )


def test_results_have_the_public_columns_and_dtypes(support: pd.DataFrame) -> None:
    run = wb.evaluate(support, suite_of(A(id="j", path="response", op="is_json")))
    r = run.results
    assert list(r.columns) == list(wb.RESULT_COLUMNS)
    assert r["row"].tolist() == ["q1", "q2", "q3", "q4"]
    assert {
        c: str(r[c].dtype)
        for c in [
            "task",
            "criterion",
            "kind",
            "status",
            "passed",
            "score",
            "cached",
            "tokens",
            "cost_usd",
            "latency_s",
        ]
    } == {
        "task": "category",
        "criterion": "category",
        "kind": "category",
        "status": "category",
        "passed": "boolean",
        "score": "Float64",
        "cached": "bool",
        "tokens": "Int64",
        "cost_usd": "Float64",
        "latency_s": "Float64",
    }
    for c in ("label", "reason", "error"):
        assert isinstance(r[c].dtype, pd.StringDtype), c
    assert r["status"].tolist() == ["passed", "failed", "passed", "passed"]
    assert r["passed"].tolist() == [True, False, True, True]
    assert r["criterion"].tolist() == [""] * 4 and r["kind"].tolist() == ["assertion"] * 4
    assert r["score"].isna().all()  # assertions are pass/fail, never a made-up score


def test_input_is_never_mutated(support: pd.DataFrame) -> None:
    before = support.copy(deep=True)
    wb.evaluate(support, suite_of(A(id="c", path="response.confidence", op="lte", expected=1)))
    pd.testing.assert_frame_equal(support, before)


def test_one_erroring_task_keeps_the_rows_other_cells(support: pd.DataFrame) -> None:
    run = wb.evaluate(
        support,
        suite_of(
            A(id="conf", path="response.confidence", op="lte", expected=1),
            A(id="fast", path="latency_ms", op="lt", expected=1000),
        ),
    )
    conf, fast = cells(run, "conf"), cells(run, "fast")
    assert conf.loc["q2", "status"] == "error"
    assert "response" in conf.loc["q2", "error"] and "not valid JSON" in conf.loc["q2", "error"]
    assert pd.isna(conf.loc["q2", "passed"]) and pd.isna(conf.loc["q2", "score"])
    assert fast.loc["q1", "status"] == "passed" and fast.loc["q4", "status"] == "failed"
    assert fast.loc["q2", "status"] == "error"  # NaN latency is a missing value, not a number
    assert "greater" not in fast.loc["q2", "error"] and "null" in fast.loc["q2", "error"]
    assert conf.loc["q4", "status"] == "failed" and "1.5" in conf.loc["q4", "reason"]


def test_a_path_missing_at_one_row_is_an_error_for_that_row_only(support: pd.DataFrame) -> None:
    df = support.copy()
    df.loc["q3", "response"] = '{"sources": []}'
    run = wb.evaluate(df, suite_of(A(id="has", path="response.answer", op="is_not_empty")))
    c = cells(run, "has")
    assert c["status"].tolist() == ["passed", "error", "error", "error"]
    assert "has no key 'answer'" in c.loc["q3", "error"]
    assert "number (12)" in c.loc["q4", "error"]  # the value is there but has the wrong type
    assert "is_not_empty at path 'response.answer'" in c.loc["q3", "error"]


def test_gates_skip_dependents_transitively_and_say_why(support: pd.DataFrame) -> None:
    run = wb.evaluate(
        support,
        suite_of(
            A(id="json", path="response", op="is_json", gate=True),
            A(
                id="conf",
                path="response.confidence",
                op="in_range",
                expected=[0, 1],
                depends_on=["json"],
                gate=True,
            ),
            A(id="cited", path="response.sources", op="is_not_empty", depends_on=["conf"]),
            A(id="after", path="cited.passed", op="equals", expected=True, depends_on=["cited"]),
        ),
    )
    assert cells(run, "conf").loc["q2", "reason"] == "skipped: gate 'json' failed"
    for task in ("cited", "after"):
        c = cells(run, task)
        assert c.loc["q2", "status"] == "skipped" and c.loc["q2", "reason"] == "skipped: gate 'json' failed"
        assert c.loc["q4", "status"] == "skipped" and c.loc["q4", "reason"] == "skipped: gate 'conf' failed"
    assert cells(run, "cited")["status"].tolist() == ["passed", "skipped", "failed", "skipped"]
    assert cells(run, "after")["status"].tolist() == ["passed", "skipped", "failed", "skipped"]
    # results keep the suite's declaration order
    assert list(run.results["task"].unique()) == ["json", "conf", "cited", "after"]


def test_a_gate_that_errors_skips_too(support: pd.DataFrame) -> None:
    run = wb.evaluate(
        support,
        suite_of(
            A(id="conf", path="response.confidence", op="lte", expected=1, gate=True),
            A(id="next", path="question", op="is_not_empty", depends_on=["conf"]),
        ),
    )
    assert cells(run, "next").loc["q2", "reason"] == "skipped: gate 'conf' errored"
    assert cells(run, "next").loc["q4", "reason"] == "skipped: gate 'conf' failed"


def test_a_non_gate_dependency_runs_whatever_its_upstream_did(support: pd.DataFrame) -> None:
    run = wb.evaluate(
        support,
        suite_of(
            A(id="json", path="response", op="is_json"),
            A(id="q", path="question", op="ends_with", expected="?", depends_on=["json"]),
            A(id="echo", path="json.passed", op="equals", expected=False, depends_on=["json"]),
            A(id="val", path="json.value", op="is_string", depends_on=["json"]),
        ),
    )
    assert cells(run, "q")["status"].tolist() == ["passed"] * 4
    assert cells(run, "echo")["status"].tolist() == ["failed", "passed", "failed", "failed"]
    assert cells(run, "val")["status"].tolist() == ["passed"] * 4


def test_reading_an_errored_upstream_output_is_an_error_not_a_value(support: pd.DataFrame) -> None:
    run = wb.evaluate(
        support,
        suite_of(
            A(id="conf", path="response.confidence", op="lte", expected=1),
            A(id="dep", path="conf.passed", op="is_boolean", depends_on=["conf"]),
        ),
    )
    dep = cells(run, "dep")
    assert (
        dep.loc["q2", "status"] == "error"
        and "task 'conf' has no passed here because it errored" in dep.loc["q2", "error"]
    )
    assert dep.loc["q1", "status"] == "passed"


def test_templates_in_expected_are_substituted_per_row() -> None:
    df = pd.DataFrame(
        {
            "answer": ["Paris", "Lyon", "Rome"],
            "ref": ["Paris", "Paris", "${ref}"],
            "limit": [3, 10, 2],
            "n": [5, 5, 5],
        }
    )
    run = wb.evaluate(
        df,
        suite_of(
            A(id="same", path="answer", op="equals", expected="${ref}"),
            A(id="under", path="n", op="lt", expected="${limit}"),
            A(id="text", path="answer", op="not_equal", expected="city ${answer}"),
        ),
    )
    assert cells(run, "same")["status"].tolist() == ["passed", "failed", "failed"]
    assert cells(run, "under")["status"].tolist() == ["failed", "passed", "failed"]
    assert cells(run, "text")["status"].tolist() == ["passed"] * 3


def test_a_template_missing_at_one_row_errors_that_row() -> None:
    df = pd.DataFrame({"answer": ["a", "b"], "meta": ['{"ref": "a"}', "{}"]})
    run = wb.evaluate(df, suite_of(A(id="same", path="answer", op="equals", expected="${meta.ref}")))
    c = cells(run, "same")
    assert c["status"].tolist() == ["passed", "error"]
    assert "${meta.ref}" in c.loc[1, "error"] and "has no key 'ref'" in c.loc[1, "error"]


def test_bad_input_values_are_cells_not_crashes() -> None:
    big = "x" * 1_000_000
    df = pd.DataFrame(
        {"v": pd.Series(["héllo wörld ✓ 日本", None, np.nan, 42, big, ["a"], {"k": 1}], dtype=object)}
    )
    run = wb.evaluate(
        df,
        suite_of(
            A(id="len", path="v", op="has_length_less_than", expected=20),
            A(id="word", path="v", op="contains", expected="wörld"),
            A(id="lower", path="v", op="is_lower_case"),
        ),
    )
    assert cells(run, "len")["status"].tolist() == [
        "passed",
        "error",
        "error",
        "error",
        "failed",
        "passed",
        "passed",
    ]
    assert "null" in cells(run, "len").loc[1, "error"] and "number" in cells(run, "len").loc[3, "error"]
    assert cells(run, "word")["status"].tolist() == [
        "passed",
        "error",
        "error",
        "error",
        "failed",
        "failed",
        "error",
    ]
    assert len(cells(run, "len").loc[4, "reason"]) < 200  # a 1 MB value is shortened in the reason


FAST_PATH_CASES = [
    ("gt", 4, "v"),
    ("in_range", [2, 8], "v"),
    ("is_positive", None, "v"),
    ("not_equal", 5, "v"),
    ("equals", 5, "v"),
    ("is_numeric", None, "v"),
    ("approximately_equals", [5, 1], "v"),
    ("gt", 4, "f"),
    ("lte", 2.5, "f"),
    ("is_zero", None, "f"),
    ("has_length_greater_than", 1, "s"),
    ("has_length_equal", 3, "s"),
    ("starts_with", "b", "s"),
    ("contains_ignore_case", "B", "s"),
    ("matches", "^b+$", "s"),
    ("not_contains", "c", "s"),
    ("equals", "bb", "s"),
    ("is_empty", None, "s"),
    ("contains_word", "bb", "s"),
    ("is_json", None, "j"),
    ("not_is_json", None, "j"),
    ("ends_with_ignore_case", "B", "s"),
    ("is_string", None, "s"),
    ("one_of", ["a", "bb"], "s"),
    ("one_of", [1, 7.0], "v"),
    ("matches", r"\d", "s"),
    ("matches", r"[A-Z]{2}", "s"),
    ("equals_ignore_case", "ÄBB ǅ BB STRASSE ٣", "s"),
    ("contains_word", "bb", "s"),
    ("not_matches", "b+", "s"),
]


@pytest.mark.parametrize(
    ("op", "expected", "col"), FAST_PATH_CASES, ids=[f"{c}-{o}" for o, _, c in FAST_PATH_CASES]
)
def test_vectorised_fast_paths_agree_with_the_per_value_path(
    op: str, expected: object, col: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench import _vector

    typed = pd.DataFrame(
        {
            "v": pd.array([1, 5, 10, None, 7, 2], dtype="Int64"),
            "f": [0.0, 2.5, np.nan, -1.0, 3.25, 7.0],
            "s": pd.array(["a", "bb", None, "", "Bb bb", "ÄBB ǅ bb straße ٣"], dtype="string"),
            "j": ['{"a": 1}', "[1, 2", None, "42", "nope", "NaN"],
        }
    )
    suite = suite_of(A(id="t", path=col, op=op, expected=expected))
    fast = {
        "typed": wb.evaluate(typed, suite).results,
        "object": wb.evaluate(typed.astype(object), suite).results,
    }
    monkeypatch.setattr(_vector, "ENABLED", False)
    slow = wb.evaluate(typed.astype(object), suite).results
    for name, r in fast.items():
        for c in ("status", "reason", "error"):
            pd.testing.assert_series_equal(r[c], slow[c], obj=f"{name} {op} {c}")


def test_rows_selects_a_subset_by_labels_or_mask(support: pd.DataFrame) -> None:
    suite = suite_of(A(id="j", path="response", op="is_json"))
    assert wb.evaluate(support, suite, rows=["q4", "q2"]).results["row"].tolist() == ["q4", "q2"]
    mask = support["latency_ms"] > 500
    assert wb.evaluate(support, suite, rows=mask).results["row"].tolist() == ["q3", "q4"]
    with pytest.raises(
        wb.ColumnsError, match=r"rows= names 1 label\(s\) not in the DataFrame's index: \['q9'\]"
    ):
        wb.evaluate(support, suite, rows=["q1", "q9"])


def test_non_unique_index_is_a_clear_error() -> None:
    df = pd.DataFrame({"x": [1, 2, 3]}, index=[0, 0, 1])
    with pytest.raises(wb.ColumnsError, match=r"duplicate labels \[0\].*reset_index"):
        wb.evaluate(df, suite_of(A(id="t", path="x", op="gt", expected=0)))


def test_unknown_roots_are_reported_before_any_work_with_suggestions(support: pd.DataFrame) -> None:
    with pytest.raises(wb.ColumnsError) as e:
        wb.evaluate(
            support,
            suite_of(
                A(id="a", path="respons.answer", op="is_string"),
                A(id="b", path="question", op="equals", expected="${questoin}"),
                A(id="c", path="a.passed", op="equals", expected=True),
            ),
        )
    msg = str(e.value)
    assert msg.startswith("3 problems between suite 't' and the DataFrame")
    assert (
        "task 'a': path 'respons.answer' starts with 'respons', which is neither a column nor a task; "
        "did you mean 'response'" in msg
    )
    assert "task 'b': template '${questoin}'" in msg and "did you mean 'question'" in msg
    assert "task 'c': path 'a.passed' reads task 'a''s output; add 'a' to depends_on" in msg
    assert "Columns in the DataFrame: ['question', 'response', 'latency_ms']" in msg


def test_columns_mapping_and_dotted_column_names() -> None:
    df = pd.DataFrame({"answer": ["hi"], "meta.lang": ["en"]})
    run = wb.evaluate(
        df,
        suite_of(
            A(id="r", path="response", op="equals", expected="hi"),
            A(id="l", path="meta.lang", op="equals", expected="en"),
        ),
        columns={"response": "answer"},
    )
    assert run.results["status"].tolist() == ["passed", "passed"]
    assert list(df.columns) == ["answer", "meta.lang"]


def test_strict_raises_on_the_first_error(support: pd.DataFrame) -> None:
    suite = suite_of(A(id="conf", path="response.confidence", op="lte", expected=1))
    with pytest.raises(wb.EvaluationError, match=r"task 'conf' errored at row 'q2'"):
        wb.evaluate(support, suite, strict=True)


def test_whole_row_is_checked_when_path_is_omitted() -> None:
    df = pd.DataFrame({"a": [1], "b": ["x"]})
    run = wb.evaluate(
        df, suite_of(A(id="keys", op="has_keys", expected=["a", "b"]), A(id="obj", op="is_object"))
    )
    assert run.results["status"].tolist() == ["passed", "passed"]


def test_accessor_matches_the_function(support: pd.DataFrame) -> None:
    suite = suite_of(A(id="j", path="response", op="is_json"))
    pd.testing.assert_frame_equal(support.wb.evaluate(suite).results, wb.evaluate(support, suite).results)


def test_summary_counts_and_wilson_interval_match_scipy() -> None:
    df = pd.DataFrame({"x": [*range(-3, 17), None]}, dtype=object)
    run = wb.evaluate(df, suite_of(A(id="pos", path="x", op="is_positive")))
    s = run.summary().iloc[0]
    assert (s["n"], s["passed"], s["failed"], s["errors"], s["skipped"]) == (21, 16, 4, 1, 0)
    ci = binomtest(16, 20).proportion_ci(method="wilson")
    assert s["pass_rate"] == pytest.approx(0.8)
    assert (s["pass_rate_low"], s["pass_rate_high"]) == pytest.approx((ci.low, ci.high))
    assert pd.isna(s["mean"])


def test_wide_has_one_row_per_input_row(support: pd.DataFrame) -> None:
    run = wb.evaluate(
        support,
        suite_of(
            A(id="j", path="response", op="is_json"), A(id="fast", path="latency_ms", op="lt", expected=1000)
        ),
    )
    w = run.wide()
    assert list(w.columns) == ["j", "fast"] and list(w.index) == ["q1", "q2", "q3", "q4"]
    assert str(w["j"].dtype) == "boolean" and pd.isna(w.loc["q2", "fast"])
    both = run.wide(["status", "passed"])
    assert list(both.columns) == ["j.status", "j.passed", "fast.status", "fast.passed"]
    joined = support.join(w)
    assert joined.loc["q4", "fast"] == False  # noqa: E712 - a numpy bool is never `is False`
    with pytest.raises(wb.ColumnsError, match="cannot spread"):
        run.wide("nope")


def test_empty_dataframe_gives_empty_results() -> None:
    run = wb.evaluate(
        pd.DataFrame({"x": pd.Series([], dtype=float)}), suite_of(A(id="t", path="x", op="gt", expected=1))
    )
    assert len(run.results) == 0 and list(run.results.columns) == list(wb.RESULT_COLUMNS)
    assert run.summary().empty or run.summary()["n"].sum() == 0


def test_judge_tasks_without_a_model_are_refused_before_any_work() -> None:
    suite = suite_of(wb.JudgeTask(id="q", prompt="${x}", criteria=[wb.Criterion(name="c", description="d")]))
    with pytest.raises(wb.WorkbenchError, match=r"judge tasks \['q'\] need a model: pass model="):
        wb.evaluate(pd.DataFrame({"x": [1]}), suite)


def test_dependents_read_an_upstream_status_as_text(support: pd.DataFrame) -> None:
    run = wb.evaluate(
        support,
        suite_of(
            A(id="conf", path="response.confidence", op="lte", expected=1),
            A(id="st", path="conf.status", op="one_of", expected=["failed", "error"], depends_on=["conf"]),
        ),
    )
    assert cells(run, "st")["status"].tolist() == ["failed", "passed", "failed", "passed"]


def test_wilson_intervals_equal_scipys() -> None:
    from scipy.stats import binomtest

    from workbench.run import wilson

    for n in (1, 2, 7, 30, 301):
        k = np.arange(n + 1)
        rate, low, high = wilson(k, np.full(n + 1, n))
        for i in range(n + 1):
            ci = binomtest(int(k[i]), n).proportion_ci(confidence_level=0.95, method="wilson")
            assert rate[i] == k[i] / n
            assert abs(low[i] - ci.low) < 1e-12 and abs(high[i] - ci.high) < 1e-12, (k[i], n)
    assert all(np.isnan(x[0]) for x in wilson(np.array([0]), np.array([0])))


def test_wide_gives_a_multiindex_back_so_join_lines_up(tmp_path: Path) -> None:
    index = pd.MultiIndex.from_tuples([("d1", 0), ("d1", 1), ("d2", 0)], names=["doc", "turn"])
    df = pd.DataFrame({"x": [1, -2, 3]}, index=index)
    suite = suite_of(A(id="pos", path="x", op="is_positive"))
    run = wb.evaluate(df, suite, store=tmp_path)
    joined = df.join(run.wide())
    assert joined.index.equals(df.index) and joined["pos"].tolist() == [True, False, True]
    again = wb.load_run(run.id, store=tmp_path).wide()  # the level names come back from the store
    assert again.index.names == ["doc", "turn"] and again.equals(run.wide())
