"""wb.compare: paired version comparison, checked against scipy on runs the engine produced."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import workbench as wb
from workbench.compare._stats import holm
from workbench.testing import JudgeServer

C = wb.Criterion
N = 300
BROKEN = {i for i in range(N) if i % 50 == 7}
"""Rows whose v2 verdict is unparseable: error cells, excluded from every criterion."""


def truth(i: int) -> dict[str, dict[str, int]]:
    """The scripted scores of row ``i`` in both versions: accuracy gains 1 point half the
    time (+0.5 on average), clarity gets symmetric noise, tone is unchanged."""
    rng = np.random.default_rng(1000 + i)
    acc, bump = int(rng.integers(1, 5)), bool(rng.random() < 0.5)
    clarity, noise = int(rng.integers(2, 5)), int(rng.choice([-1, 0, 1], p=[0.25, 0.5, 0.25]))
    tone = int(rng.integers(1, 6))
    return {
        "v1": {"accuracy": acc, "clarity": clarity, "tone": tone},
        "v2": {"accuracy": acc + bump, "clarity": clarity + noise, "tone": tone},
    }


def quality() -> wb.JudgeTask:
    return wb.JudgeTask(
        id="quality",
        prompt="Case ${case}\nAnswer: ${answer}",
        threshold=3,
        criteria=[
            C(name="accuracy", description="Correct."),
            C(name="clarity", description="Clear."),
            C(name="tone", description="Polite."),
        ],
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[wb.Run, wb.Run]:
    """Two judge runs of the same 300 rows through litellm and the local judge server."""
    state = {"version": "v1"}

    def script(body: dict[str, Any]) -> str:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        i = int(re.search(r"case-(\d+)", user).group(1))
        if state["version"] == "v2" and i in BROKEN:
            return "I cannot decide."
        scores = truth(i)[state["version"]]
        return json.dumps(
            {c: {"reason": f"{state['version']} row {i} {c}={s}", "score": s} for c, s in scores.items()}
        )

    df = pd.DataFrame({"case": [f"case-{i}" for i in range(N)], "answer": ["some answer"] * N})
    suite = wb.Suite(name="s", version="1", tasks=[quality()])
    out = []
    with JudgeServer(script=script) as server:
        for version in ("v1", "v2"):
            state["version"] = version
            out.append(
                wb.evaluate(
                    df,
                    suite,
                    model=server.model,
                    **server.litellm_kwargs,
                    progress=False,
                    cache_dir=tmp_path_factory.mktemp("cache"),
                    backoff_s=0.0,
                )
            )
    return out[0], out[1]


def paired(a: wb.Run, b: wb.Run, criterion: str) -> pd.DataFrame:
    """The scored cells of one criterion, side by side, straight from the results frames."""
    pick = lambda r: r.results[r.results["criterion"] == criterion].set_index("row")
    x = pick(a).merge(pick(b), left_index=True, right_index=True, suffixes=("_a", "_b"))
    ok = x["status_a"].isin(["passed", "failed"]) & x["status_b"].isin(["passed", "failed"])
    return x[ok]


def test_a_shifted_criterion_is_flagged_and_the_statistics_agree_with_scipy(
    runs: tuple[wb.Run, wb.Run],
) -> None:
    a, b = runs
    c = wb.compare(a, b)
    t = c.table.set_index("criterion")
    assert list(t.index) == ["accuracy", "clarity", "tone"] and (t["metric"] == "score").all()
    assert (t["kind"] == "judge").all() and (t["task"] == "quality").all()
    assert (t["n"] == N - len(BROKEN)).all() and (t["excluded"] == len(BROKEN)).all()

    acc = t.loc["accuracy"]
    assert acc["significant"] and 0 < acc["ci_low"] < 0.5 < acc["ci_high"] < 1
    assert 0.35 < acc["delta"] < 0.65 and acc["losses"] == 0
    assert (
        not t.loc["clarity", "significant"] and t.loc["clarity", "ci_low"] < 0 < t.loc["clarity", "ci_high"]
    )
    tone = t.loc["tone"]
    assert (tone["delta"], tone["p_wilcoxon"], tone["p_mcnemar"], tone["ties"]) == (0, 1.0, 1.0, tone["n"])
    assert (tone["ci_low"], tone["ci_high"]) == (0, 0) and not tone["significant"]

    for name in ("accuracy", "clarity"):
        x = paired(a, b, name)
        expected = np.array([truth(int(i))["v2"][name] - truth(int(i))["v1"][name] for i in x.index])
        d = (x["score_b"] - x["score_a"]).to_numpy(dtype=float)
        np.testing.assert_array_equal(d, expected)  # the engine carried the scripted scores
        row = t.loc[name]
        assert row["n"] == len(d)
        assert row["delta"] == pytest.approx(d.mean())
        assert row["mean_a"] == pytest.approx(x["score_a"].mean()) and row["mean_b"] == pytest.approx(
            x["score_b"].mean()
        )
        assert row["p_wilcoxon"] == pytest.approx(stats.wilcoxon(d).pvalue, rel=1e-12)
        pa, pb = x["passed_a"].to_numpy(dtype=bool), x["passed_b"].to_numpy(dtype=bool)
        to_pass, to_fail = int((~pa & pb).sum()), int((pa & ~pb).sum())
        assert row["p_mcnemar"] == pytest.approx(
            stats.binomtest(to_pass, to_pass + to_fail, 0.5).pvalue, rel=1e-12
        )
        assert row["p_value"] == row["p_wilcoxon"]
        assert (row["wins"], row["ties"], row["losses"]) == ((d > 0).sum(), (d == 0).sum(), (d < 0).sum())
        assert (row["pass_rate_a"], row["pass_rate_b"]) == (
            pytest.approx(pa.mean()),
            pytest.approx(pb.mean()),
        )
        boot = stats.bootstrap((d,), np.mean, n_resamples=4000, method="percentile", random_state=1)
        interval = boot.confidence_interval
        assert row["ci_low"] == pytest.approx(interval.low, abs=0.02)
        assert row["ci_high"] == pytest.approx(interval.high, abs=0.02)
    assert t.loc["accuracy", "p_wilcoxon"] < 1e-10

    p = t["p_value"].to_numpy(dtype=float)
    order = np.argsort(p)
    expected_holm = np.empty(3)
    expected_holm[order] = np.minimum(np.maximum.accumulate([(3 - j) * p[i] for j, i in enumerate(order)]), 1)
    np.testing.assert_allclose(t["p_holm"].to_numpy(dtype=float), expected_holm)

    flips = c.flips[c.flips["criterion"] == "accuracy"]
    assert set(flips["direction"]) == {"fail_to_pass"}  # 2 -> 3 crosses the threshold, never back
    x = paired(a, b, "accuracy")
    assert sorted(flips["row"]) == sorted(x.index[(x["score_a"] == 2) & (x["score_b"] == 3)])
    first = flips.iloc[0]
    assert first["reason_a"] == f"v1 row {first['row']} accuracy=2" and first["reason_b"].startswith("v2 row")

    assert "quality.accuracy (score)" in repr(c) and "B better" in repr(c)
    assert "no significant change: quality.clarity, quality.tone" in repr(c)
    summary = c.summary()
    assert summary.loc[0, "criterion"] == "accuracy" and summary.loc[0, "change"] == "better"
    assert summary.loc[0, "fail_to_pass"] == len(flips)


def test_plain_frames_give_the_same_comparison(runs: tuple[wb.Run, wb.Run]) -> None:
    a, b = runs
    from_runs = wb.compare(a, b)
    required = ["row", "task", "criterion", "status", "passed", "score"]
    from_frames = wb.compare(a.results, b.results[required].sample(frac=1, random_state=0))
    pd.testing.assert_frame_equal(
        from_frames.table.drop(columns="kind"), from_runs.table.drop(columns="kind")
    )
    assert (from_frames.name_a, from_frames.name_b) == ("A", "B")
    assert len(from_frames.flips) == len(from_runs.flips) and from_frames.flips["reason_b"].isna().all()

    # object columns, as a hand-built frame would have them
    plain = a.results.astype(
        {"task": object, "criterion": object, "status": object, "passed": object, "score": object}
    )
    pd.testing.assert_frame_equal(wb.compare(plain, b).table, from_runs.table)


def test_same_seed_same_interval_and_a_criterion_keeps_its_interval(runs: tuple[wb.Run, wb.Run]) -> None:
    a, b = runs
    full = wb.compare(a, b).table.set_index("criterion")
    acc_only = lambda r: r.results[r.results["criterion"] == "accuracy"]
    alone = wb.compare(acc_only(a), acc_only(b)).table.set_index("criterion")
    assert alone.loc["accuracy", "ci_low"] == full.loc["accuracy", "ci_low"]
    other = wb.compare(a, b, seed=1, confidence=0.99).table.set_index("criterion")
    assert other.loc["accuracy", "ci_low"] < full.loc["accuracy", "ci_low"]


SHORT = wb.AssertionTask(id="short", path="answer", op="has_length_less_than", expected=10)


def test_flips_on_a_hand_made_example() -> None:
    suite = wb.Suite(name="s", tasks=[SHORT])
    v1 = wb.evaluate(
        pd.DataFrame({"answer": ["ok", "a very long answer", "fine", "x" * 20]}, index=list("pqrs")), suite
    )
    v2 = wb.evaluate(
        pd.DataFrame({"answer": ["a long answer now", "short", "fine too", "y" * 30]}, index=list("pqrs")),
        suite,
    )
    c = wb.compare(v1, v2)
    f = c.flips
    assert f["row"].tolist() == ["p", "q"]
    assert f["direction"].tolist() == ["pass_to_fail", "fail_to_pass"]
    assert (f["task"] == "short").all() and (f["criterion"] == "").all() and f["score_a"].isna().all()
    reasons = lambda run: run.results.set_index("row")["reason"]
    assert f["reason_a"].tolist() == [reasons(v1)["p"], reasons(v1)["q"]]
    assert f["reason_b"].tolist() == [reasons(v2)["p"], reasons(v2)["q"]]
    assert "'a long answer now'" in f.loc[0, "reason_b"] and pd.isna(f.loc[0, "reason_a"])
    assert str(f["direction"].dtype) == "string" and str(f["reason_a"].dtype) == "string"
    row = c.table.iloc[0]
    assert (row["metric"], row["n"], row["wins"], row["ties"], row["losses"]) == ("pass_rate", 4, 1, 2, 1)
    assert (row["mean_a"], row["mean_b"], row["delta"]) == (0.5, 0.5, 0.0)
    assert row["p_mcnemar"] == 1.0 and pd.isna(row["p_wilcoxon"]) and row["p_value"] == 1.0
    assert "1 pass->fail, 1 fail->pass" in repr(c)


def test_flips_hold_both_reasons_whole_and_the_display_cuts_none(tmp_path: Path) -> None:
    policy = "Refunds are granted within 14 days of purchase and reach the card within ten business days."
    drifted = (
        "Yes, refunds are possible within 30 days of purchase, and reach your card within a week or two."
    )
    verdict = "Fails: the answer promises a 30-day refund window; the policy grants 14 days. "
    long_reason = verdict + " ".join(["The rest of the policy is quoted correctly."] * 50)

    def script(body: dict[str, Any]) -> str:
        if drifted in body["messages"][-1]["content"]:
            return json.dumps({"policy": {"reason": long_reason, "score": 1}})
        return json.dumps({"policy": {"reason": "Passes: matches the policy.", "score": 5}})

    close = wb.AssertionTask(id="close", path="answer", op="similarity_gte", expected=["${policy}", 0.8])
    judge = wb.JudgeTask(
        id="judge", prompt="${answer}", threshold=3, criteria=[C(name="policy", description="Matches.")]
    )
    suite = wb.Suite(name="s", tasks=[close, judge])
    with JudgeServer(script=script) as server:
        before, after = (
            wb.evaluate(
                pd.DataFrame({"answer": [answer], "policy": policy}),
                suite,
                model=server.model,
                **server.litellm_kwargs,
                cache_dir=tmp_path,
                progress=False,
            )
            for answer in (policy, drifted)
        )
    c = wb.compare(before, after)
    flips = c.flips.set_index("task")
    reasons = after.results.set_index("task")["reason"]
    assert flips["direction"].tolist() == ["pass_to_fail", "pass_to_fail"]
    assert reasons["close"].count("[... ") == 2 and flips.loc["close", "reason_b"] == reasons["close"]
    assert flips.loc["judge", "reason_b"] == long_reason == reasons["judge"]
    assert "[..." not in repr(c) and "[..." not in c._repr_html_()


def test_unmatched_rows_are_reported_not_dropped() -> None:
    suite = wb.Suite(name="s", tasks=[SHORT])
    v1 = wb.evaluate(pd.DataFrame({"answer": ["a"] * 5}, index=[0, 1, 2, 3, 4]), suite)
    v2 = wb.evaluate(pd.DataFrame({"answer": ["b"] * 5}, index=[2, 3, 4, 5, 6]), suite)
    c = wb.compare(v1, v2)
    assert c.unmatched.to_dict("list") == {"row": [0, 1, 5, 6], "side": ["a", "a", "b", "b"]}
    assert c.table.loc[0, "n"] == 3 and c.table.loc[0, "excluded"] == 0
    assert "unmatched rows: 2 only in A, 2 only in B" in repr(c)


def test_a_missing_row_label_is_a_row_of_its_own() -> None:
    def results(rows: list[float], passed: list[bool]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "row": rows,
                "task": "t",
                "criterion": "",
                "status": ["passed" if p else "failed" for p in passed],
                "passed": pd.array(passed, dtype="boolean"),
                "score": pd.array([None] * len(rows), dtype="Float64"),
            }
        )

    c = wb.compare(results([1.0, 2.0, np.nan], [True, True, False]), results([1.0, 3.0, np.nan], [True] * 3))
    assert c.unmatched.to_dict("list") == {"row": [2.0, 3.0], "side": ["a", "b"]}
    assert (c.table.loc[0, "n"], c.table.loc[0, "excluded"]) == (2, 0)
    assert c.flips["direction"].tolist() == ["fail_to_pass"] and c.flips["row"].isna().all()


def test_a_cell_missing_on_one_side_of_a_matched_row_is_counted_as_excluded() -> None:
    df = pd.DataFrame({"answer": ["yes", "no", "maybe"], "x": [1, 2, 3]})
    suite = wb.Suite(name="s", tasks=[SHORT, wb.AssertionTask(id="pos", path="x", op="is_positive")])
    v1, v2 = wb.evaluate(df, suite), wb.evaluate(df, suite)
    partial = v2.results[~((v2.results["task"] == "short") & (v2.results["row"] == 1))]
    c = wb.compare(v1, partial)
    t = c.table.set_index("task")
    assert (t.loc["short", "n"], t.loc["short", "excluded"]) == (2, 1)
    assert (t.loc["pos", "n"], t.loc["pos", "excluded"]) == (3, 0) and len(c.unmatched) == 0


def test_different_suite_versions_compare_on_what_they_share() -> None:
    df = pd.DataFrame({"answer": ["yes", "a long answer"], "x": [1, 2]})
    pos = wb.AssertionTask(id="pos", path="x", op="is_positive")
    big = wb.AssertionTask(id="big", path="x", op="gt", expected=1)
    v1 = wb.evaluate(df, wb.Suite(name="s", version="1", tasks=[SHORT, pos]))
    v2 = wb.evaluate(df, wb.Suite(name="s", version="2", tasks=[pos, big]))
    c = wb.compare(v1, v2)
    assert c.table["task"].tolist() == ["pos"]
    assert c.only_a.to_dict("list") == {"task": ["short"], "criterion": [""]}
    assert c.only_b.to_dict("list") == {"task": ["big"], "criterion": [""]}
    assert "only in A: short" in repr(c) and "only in B: big" in repr(c)


def test_errors_and_skips_are_excluded_and_counted() -> None:
    gate = wb.AssertionTask(id="has_x", path="x", op="is_numeric", gate=True)
    big = wb.AssertionTask(id="big", path="x", op="gt", expected=1, depends_on=["has_x"])
    suite = wb.Suite(name="s", tasks=[gate, big])
    v1 = wb.evaluate(pd.DataFrame({"x": [2, 3, 4, 5, 0]}), suite)
    v2 = wb.evaluate(pd.DataFrame({"x": [2, "n/a", 4, 0, 0]}), suite)
    assert v2.results.set_index(["task", "row"]).loc[("big", 1), "status"] == "skipped"
    t = wb.compare(v1, v2).table.set_index("task")
    assert (t.loc["big", "n"], t.loc["big", "excluded"], t.loc["big", "losses"]) == (4, 1, 1)
    assert (t.loc["has_x", "n"], t.loc["has_x", "excluded"], t.loc["has_x", "losses"]) == (5, 0, 1)

    # error cells (not just skips) on side a, read from a frame
    errors = v1.results.copy()
    errors.loc[errors["row"] == 0, ["status", "passed"]] = ["error", pd.NA]
    t = wb.compare(errors, v2).table.set_index("task")
    assert (t.loc["big", "n"], t.loc["big", "excluded"]) == (3, 2)


def test_no_difference_gives_p_one_not_a_crash() -> None:
    frame = pd.DataFrame(
        {
            "row": range(6),
            "task": "q",
            "criterion": "c",
            "kind": "judge",
            "status": "scored",
            "passed": pd.array([pd.NA] * 6, dtype="boolean"),
            "score": pd.array([1.0, 2, 3, 4, 5, 5], dtype="Float64"),
        }
    )
    t = wb.compare(frame, frame).table
    assert (t.loc[0, "p_wilcoxon"], t.loc[0, "p_value"], t.loc[0, "p_holm"]) == (1.0, 1.0, 1.0)
    assert pd.isna(t.loc[0, "p_mcnemar"]) and pd.isna(t.loc[0, "pass_rate_a"]) and t.loc[0, "ties"] == 6


def test_holm_is_a_monotone_step_down_capped_at_one() -> None:
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03, 0.005])), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm(np.array([0.5, np.nan, 0.9])), [1.0, np.nan, 1.0])
    assert len(holm(np.array([]))) == 0


def test_table_dtypes_are_real_dtypes(runs: tuple[wb.Run, wb.Run]) -> None:
    t = wb.compare(*runs).table
    dtypes = {c: str(d) for c, d in t.dtypes.items()}
    assert dtypes == {
        "task": "string",
        "criterion": "string",
        "kind": "string",
        "metric": "string",
        "n": "Int64",
        **dict.fromkeys(
            (
                "mean_a",
                "mean_b",
                "delta",
                "ci_low",
                "ci_high",
                "pass_rate_a",
                "pass_rate_b",
                "p_wilcoxon",
                "p_mcnemar",
                "p_value",
                "p_holm",
            ),
            "Float64",
        ),
        "significant": "boolean",
        "wins": "Int64",
        "ties": "Int64",
        "losses": "Int64",
        "excluded": "Int64",
    }


def test_bad_inputs_get_clear_errors() -> None:
    suite = wb.Suite(name="s", tasks=[SHORT])
    run = wb.evaluate(pd.DataFrame({"answer": ["a", "b"]}), suite)
    with pytest.raises(wb.CompareError, match=r"cannot use b of type int: pass a wb\.Run"):
        wb.compare(run, 3)
    with pytest.raises(
        wb.ColumnsError, match=r"lacks the columns \['status', 'score'\]; did you mean 'statu'"
    ):
        wb.compare(run.results.drop(columns="score").rename(columns={"status": "statu"}), run)
    other = wb.evaluate(
        pd.DataFrame({"x": [1, 2]}),
        wb.Suite(name="s", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")]),
    )
    with pytest.raises(
        wb.CompareError, match=r"share no \(task, criterion\): A has \['short'\], B has \['pos'\]"
    ):
        wb.compare(run, other)
    moved = wb.evaluate(pd.DataFrame({"answer": ["a", "b"]}, index=["0", "1"]), suite)
    with pytest.raises(
        wb.CompareError,
        match=f"no row of '{run.id}' is in '{moved.id}'.*A has rows \\[0, 1\\], B has \\['0', '1'\\]",
    ):
        wb.compare(run, moved)
    with pytest.raises(wb.CompareError, match=r"2 repeated .* e\.g\. row 0 of 'short'"):
        wb.compare(pd.concat([run.results, run.results]), run)
    with pytest.raises(wb.CompareError, match="unknown statuses \\['pass'\\]; did you mean 'passed'"):
        wb.compare(run.results.astype({"status": object}).assign(status="pass"), run)
    with pytest.raises(wb.CompareError, match=r"confidence=95 must be between 0 and 1.*n_boot=0"):
        wb.compare(run, run, confidence=95, n_boot=0)


def test_repr_html_escapes_names(runs: tuple[wb.Run, wb.Run]) -> None:
    a, b = runs
    c = wb.compare(a, b)
    c.name_b = "<script>alert(1)</script>"
    html = c._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("<tr") == 1 + 3 and "better" in html


def test_ten_thousand_rows_by_ten_criteria_compare_fast() -> None:
    rng = np.random.default_rng(0)
    n_rows, n_crit = 10_000, 10

    def frame(shift: float) -> pd.DataFrame:
        score = rng.integers(1, 6, size=(n_crit, n_rows)).astype(float)
        score[0] = np.clip(score[0] + (rng.random(n_rows) < shift), 1, 5)
        status = np.where(rng.random(score.shape) < 0.01, "error", np.where(score >= 3, "passed", "failed"))
        err = status == "error"
        return pd.DataFrame(
            {
                "row": np.tile(np.arange(n_rows), n_crit),
                "task": pd.Categorical(np.full(n_rows * n_crit, "quality")),
                "criterion": pd.Categorical(np.repeat([f"c{i}" for i in range(n_crit)], n_rows)),
                "kind": "judge",
                "status": pd.Categorical(status.ravel()),
                "passed": pd.arrays.BooleanArray((score >= 3).ravel(), err.ravel()),
                "score": pd.arrays.FloatingArray(score.ravel(), err.ravel()),
                "reason": pd.array(np.full(n_rows * n_crit, "why"), dtype="string"),
            }
        )

    a, b = frame(0.0), frame(0.5)
    wb.compare(a.iloc[:1000], b.iloc[:1000])  # warm up imports
    start = time.perf_counter()
    c = wb.compare(a, b)
    elapsed = time.perf_counter() - start
    assert len(c.table) == n_crit and c.table["n"].sum() > 0.97 * n_rows * n_crit
    assert c.table.loc[0, "significant"]
    assert elapsed < 1.5, f"compare took {elapsed:.2f}s"


def test_continuous_scores_use_index_resampling(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 2000
    a_score, b_score = rng.normal(3, 1, n), rng.normal(3, 1, n)
    b_score[:] = a_score + rng.normal(0.1, 0.5, n)

    def frame(score: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "row": np.arange(n),
                "task": "q",
                "criterion": "c",
                "status": "scored",
                "passed": pd.array([pd.NA] * n, dtype="boolean"),
                "score": score,
            }
        )

    t = wb.compare(frame(a_score), frame(b_score)).table
    d = b_score - a_score
    interval = stats.bootstrap((d,), np.mean, method="percentile", random_state=0).confidence_interval
    assert t.loc[0, "ci_low"] == pytest.approx(interval.low, abs=0.005)
    assert t.loc[0, "ci_high"] == pytest.approx(interval.high, abs=0.005)
    assert t.loc[0, "p_wilcoxon"] == pytest.approx(stats.wilcoxon(d).pvalue, rel=1e-12)


def test_runs_are_compared_by_label_or_id_from_the_store(tmp_path: Path) -> None:
    suite = wb.Suite(name="s", tasks=[SHORT])
    df = pd.DataFrame({"answer": ["ok", "a very long answer", "fine"]})
    v1 = wb.evaluate(df, suite, label="baseline", store=tmp_path)
    v2 = wb.evaluate(
        df.assign(answer=["a very long answer", "short", "fine"]), suite, label="candidate", store=tmp_path
    )
    by_label = wb.compare("baseline", "candidate", store=tmp_path)
    assert (by_label.name_a, by_label.name_b) == ("baseline", "candidate")
    assert repr(by_label).startswith("Comparison of 'baseline' (A) and 'candidate' (B): 1 shared criterion")
    direct = wb.compare(v1, v2)
    assert (direct.name_a, direct.name_b) == ("baseline", "candidate")
    pd.testing.assert_frame_equal(by_label.table, direct.table)
    pd.testing.assert_frame_equal(by_label.flips, direct.flips)
    assert wb.compare(v1.id, v2, store=tmp_path).flips["direction"].tolist() == [
        "pass_to_fail",
        "fail_to_pass",
    ]
    with pytest.raises(wb.WorkbenchError, match="no run with id or label 'nightly'"):
        wb.compare("nightly", v2, store=tmp_path)
