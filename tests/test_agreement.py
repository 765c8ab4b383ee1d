"""wb.agreement: a judge against human labels, every figure checked against a direct
computation written here (scipy where scipy has the statistic, loops otherwise).

The judge runs through litellm against the local judge server. On the bundled SummEval
sample it is scripted to answer each criterion with the experts' rating of *another*
criterion, rounded: one expert criterion, rounded, treated as the "judge" of another."""

from __future__ import annotations

import copy
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
from workbench.agreement import LABEL_COLUMNS, TABLE_COLUMNS, krippendorff_alpha, labels_frame
from workbench.agreement._stats import kendall_of_tables, spearman_of_tables
from workbench.testing import JudgeServer

ROOT = Path(__file__).resolve().parents[1]
CRITERIA = ["coherence", "consistency", "fluency", "relevance"]
STAND_IN = {c: CRITERIA[(i + 1) % 4] for i, c in enumerate(CRITERIA)}
"""The judge's score for each criterion is the experts' mean rating of this one, rounded."""


def half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=float) + 0.5)


@pytest.fixture(scope="module")
def summeval() -> pd.DataFrame:
    df = wb.load_dataset(ROOT / "datasets" / "summeval_sample.jsonl")
    df["rid"] = df.index
    return df


def judge_suite(threshold: int | None = 4) -> wb.Suite:
    return wb.Suite(
        name="summeval",
        tasks=[
            wb.JudgeTask(
                id="summary",
                prompt="Summary ${rid}\n\n${output}",
                threshold=threshold,
                criteria=[wb.Criterion(name=c, description=f"The summary's {c}.") for c in CRITERIA],
            )
        ],
    )


@pytest.fixture(scope="module")
def run(summeval: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> wb.Run:
    def script(body: dict[str, Any]) -> str:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        rid = re.search(r"\n(\S+::M\d+)\n", user).group(1)
        row = summeval.loc[rid]
        return json.dumps(
            {
                c: {"reason": f"{c} of {rid} read as {STAND_IN[c]}", "score": int(half_up(row[STAND_IN[c]]))}
                for c in CRITERIA
            }
        )

    with JudgeServer(script=script) as server:
        return wb.evaluate(
            summeval,
            judge_suite(),
            model=server.model,
            **server.litellm_kwargs,
            progress=False,
            save=False,
            cache_dir=tmp_path_factory.mktemp("cache"),
        )


def experts(summeval: pd.DataFrame) -> pd.DataFrame:
    return summeval[CRITERIA]


def expert_columns() -> dict[str, str]:
    return {c: f"summary.{c}" for c in CRITERIA}


def kappa_by_hand(a: np.ndarray, b: np.ndarray, categories: list[float], weighted: bool) -> float:
    k = len(categories)
    observed = np.zeros((k, k))
    for x, y in zip(a, b):
        observed[categories.index(x), categories.index(y)] += 1
    n = observed.sum()
    num = den = 0.0
    for i in range(k):
        for j in range(k):
            w = (i - j) ** 2 / (k - 1) ** 2 if weighted else float(i != j)
            num += w * observed[i, j]
            den += w * observed[i, :].sum() * observed[:, j].sum() / n
    return 1 - num / den


def pass_rates_by_hand(judge: np.ndarray, human: np.ndarray) -> dict[str, float]:
    tp = sum(1 for j, h in zip(judge, human) if j and h)
    fp = sum(1 for j, h in zip(judge, human) if j and not h)
    fn = sum(1 for j, h in zip(judge, human) if not j and h)
    tn = sum(1 for j, h in zip(judge, human) if not j and not h)
    return {
        "mcc": (tp * tn - fp * fn) / ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) ** 0.5,
        "f1": 2 * tp / (2 * tp + fp + fn),
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "false_pass_rate": fp / (fp + tn),
        "false_fail_rate": fn / (fn + tp),
    }


# --- SummEval: every figure against a direct computation --------------------------------


def test_summeval_figures_equal_direct_computations(run: wb.Run, summeval: pd.DataFrame) -> None:
    ag = wb.agreement(run, experts(summeval), columns=expert_columns())
    t = ag.table.set_index("criterion")
    assert list(t.index) == CRITERIA and (t["scale"] == "ordinal").all() and (t["n"] == 160).all()
    assert (t["excluded"] == 0).all() and (t["annotators"] == 1).all() and t["alpha"].isna().all()
    points = [1.0, 2.0, 3.0, 4.0, 5.0]
    for c in CRITERIA:
        judge = half_up(summeval[STAND_IN[c]])
        human = summeval[c].to_numpy(dtype=float)
        np.testing.assert_array_equal(  # the engine carried the scripted scores
            run.results.query("criterion == @c")
            .set_index("row")
            .loc[summeval.index, "score"]
            .to_numpy(float),
            judge,
        )
        row = t.loc[c]
        human_point = half_up(human)  # a mean between two points counts as the nearer one
        assert row["exact"] == pytest.approx(np.mean(judge == human_point))
        assert row["within_one"] == pytest.approx(np.mean(np.abs(judge - human_point) <= 1))
        assert row["kappa"] == pytest.approx(kappa_by_hand(judge, human_point, points, weighted=True))
        assert row["spearman"] == pytest.approx(stats.spearmanr(judge, human).statistic, rel=1e-12)
        assert row["kendall"] == pytest.approx(stats.kendalltau(judge, human).statistic, rel=1e-12)
        rates = pass_rates_by_hand(judge >= 4, human_point >= 4)
        assert row["n_pass_fail"] == 160
        for name, value in rates.items():
            assert row[name] == pytest.approx(value), name
        boot = stats.bootstrap(
            (judge, human),
            lambda a, b: stats.spearmanr(a, b).statistic,
            paired=True,
            vectorized=False,
            n_resamples=1500,
            method="percentile",
            rng=np.random.default_rng(7),
        ).confidence_interval
        assert row["spearman_low"] == pytest.approx(boot.low, abs=0.03)
        assert row["spearman_high"] == pytest.approx(boot.high, abs=0.03)
        assert row["kendall_low"] < row["kendall"] < row["kendall_high"]


def test_grouped_correlation_equals_a_per_document_loop(run: wb.Run, summeval: pd.DataFrame) -> None:
    ag = wb.agreement(run, experts(summeval), columns=expert_columns(), by=summeval["doc_id"])
    t = ag.table.set_index("criterion")
    for c in CRITERIA:
        rhos, taus = [], []
        for _, doc in summeval.groupby("doc_id"):
            judge, human = half_up(doc[STAND_IN[c]]), doc[c].to_numpy(dtype=float)
            if len(set(judge)) > 1 and len(set(human)) > 1:
                rhos.append(stats.spearmanr(judge, human).statistic)
                taus.append(stats.kendalltau(judge, human).statistic)
        row = t.loc[c]
        assert row["groups"] == len(rhos)
        assert row["spearman_grouped"] == pytest.approx(np.mean(rhos), rel=1e-12)
        assert row["kendall_grouped"] == pytest.approx(np.mean(taus), rel=1e-12)
        assert row["spearman_grouped_low"] <= row["spearman_grouped"] <= row["spearman_grouped_high"]
        # the pooled figure is still there
        assert row["spearman"] == pytest.approx(
            stats.spearmanr(half_up(summeval[STAND_IN[c]]), summeval[c]).statistic
        )
    assert set(ag.pairs["group"]) == set(summeval["doc_id"])


def test_groups_of_every_size_equal_a_loop_over_the_groups() -> None:
    rng = np.random.default_rng(8)
    sizes = [1, 2, 2, 3, 5, 5, 5, 16, 16, 40, 250]  # one row, pairs, equal sizes, one big group
    group = np.repeat(np.arange(len(sizes)), sizes)
    n = len(group)
    judge = rng.integers(1, 6, n).astype(float)
    human = np.clip(judge + rng.integers(-1, 2, n), 1, 5)
    human[group == 4] = 3  # a constant side: no correlation in that group
    ag = wb.agreement(frame(score=judge), people(score=human), by=pd.Series(group))
    rhos, taus = [], []
    for k in range(len(sizes)):
        j, h = judge[group == k], human[group == k]
        if len(j) > 1 and len(set(j)) > 1 and len(set(h)) > 1:
            rhos.append(stats.spearmanr(j, h).statistic)
            taus.append(stats.kendalltau(j, h).statistic)
    row = ag.table.iloc[0]
    assert row["groups"] == len(rhos) and len(rhos) >= 7
    assert row["spearman_grouped"] == pytest.approx(np.mean(rhos), rel=1e-12)
    assert row["kendall_grouped"] == pytest.approx(np.mean(taus), rel=1e-12)


def test_grouping_by_a_column_of_the_labels_is_the_same(run: wb.Run, summeval: pd.DataFrame) -> None:
    a = wb.agreement(run, summeval[[*CRITERIA, "doc_id"]], columns=expert_columns(), by="doc_id")
    b = wb.agreement(run, experts(summeval), columns=expert_columns(), by=summeval["doc_id"].to_dict())
    pd.testing.assert_frame_equal(a.table, b.table)
    long = labels_frame(experts(summeval), expert_columns()).merge(
        summeval["doc_id"], left_on="row", right_index=True
    )
    c = wb.agreement(run, long, by="doc_id")
    pd.testing.assert_frame_equal(a.table, c.table)


def test_confusion_and_disagreements(run: wb.Run, summeval: pd.DataFrame) -> None:
    ag = wb.agreement(run, experts(summeval), columns=expert_columns())
    judge = pd.Series(half_up(summeval[STAND_IN["coherence"]]), index=summeval.index).astype(int)
    human = pd.Series(half_up(summeval["coherence"]), index=summeval.index).astype(int)
    expected = pd.crosstab(judge, human).reindex(index=range(1, 6), columns=range(1, 6), fill_value=0)
    got = ag.confusion("summary", "coherence")
    assert list(got.index) == ["1", "2", "3", "4", "5"] and list(got.columns) == list(got.index)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    assert (got.index.name, got.columns.name) == ("judge", "human")
    pf = ag.confusion("summary", "coherence", passed=True)
    assert pf.loc["pass", "pass"] == int(((judge >= 4) & (human >= 4)).sum())

    d = ag.disagreements
    coherence = d[d["criterion"] == "coherence"]
    assert len(coherence) == int((judge != human).sum())
    diffs = coherence["difference"].to_numpy(dtype=float)
    assert diffs[0] == pytest.approx(np.abs(judge - summeval["coherence"]).max())
    assert list(d["difference"]) == sorted(d["difference"], reverse=True)
    top = coherence.iloc[0]
    assert top["reason"] == f"coherence of {top['row']} read as {STAND_IN['coherence']}"
    assert top["human_score"] == pytest.approx(summeval.loc[top["row"], "coherence"])
    assert top["judge_score"] == judge[top["row"]]
    assert "disagrees" not in d.columns and ag.pairs["disagrees"].sum() == len(d)


def test_table_bootstrap_statistics_equal_scipy_on_the_expanded_rows() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        k1, k2 = rng.integers(2, 6), rng.integers(2, 9)
        table = rng.integers(0, 5, size=(k1, k2)).astype(float)
        x = np.repeat(np.arange(k1), table.sum(axis=1).astype(int))
        y = np.concatenate([np.repeat(np.arange(k2), table[a].astype(int)) for a in range(k1)])
        rho = spearman_of_tables(table[None])[0]
        tau = kendall_of_tables(table[None])[0]
        if len(set(x)) < 2 or len(set(y)) < 2:
            assert np.isnan(rho) and np.isnan(tau)
            continue
        assert rho == pytest.approx(stats.spearmanr(x, y).statistic, rel=1e-10)
        assert tau == pytest.approx(stats.kendalltau(x, y).statistic, rel=1e-10)


def test_continuous_values_fall_back_to_resampling_rows() -> None:
    rng = np.random.default_rng(11)
    n = 700
    judge = rng.normal(0, 1, n)
    human = judge + rng.normal(0, 1, n)
    ag = wb.agreement(frame(score=judge), people(score=human), n_resamples=400)
    row = ag.table.iloc[0]
    assert row["scale"] == "interval" and pd.isna(row["exact"]) and pd.isna(row["kappa"])
    boot = stats.bootstrap(
        (judge, human),
        lambda a, b: stats.spearmanr(a, b).statistic,
        paired=True,
        vectorized=False,
        n_resamples=400,
        method="percentile",
        rng=np.random.default_rng(0),
    ).confidence_interval
    assert row["spearman_low"] == pytest.approx(boot.low, abs=0.03)
    assert row["spearman_high"] == pytest.approx(boot.high, abs=0.03)


def test_same_seed_same_interval_and_a_criterion_keeps_it_when_others_are_added(
    run: wb.Run, summeval: pd.DataFrame
) -> None:
    one = wb.agreement(run, summeval[["coherence"]], columns={"coherence": "summary.coherence"})
    all_four = wb.agreement(run, experts(summeval), columns=expert_columns())
    again = wb.agreement(run, experts(summeval), columns=expert_columns())
    other_seed = wb.agreement(run, experts(summeval), columns=expert_columns(), seed=1)
    cols = ["spearman_low", "spearman_high", "kendall_low", "kendall_high"]
    assert one.table[cols].iloc[0].tolist() == all_four.table[cols].iloc[0].tolist()
    pd.testing.assert_frame_equal(all_four.table, again.table)
    assert other_seed.table["spearman_low"].tolist() != all_four.table["spearman_low"].tolist()


# --- several annotators: Krippendorff's alpha and the human ceiling ----------------------


def alpha_by_coincidence(units: list[list[float]], level: str) -> float:
    """Krippendorff's alpha from the coincidence matrix, as his 2011 paper computes it."""
    values = sorted({v for u in units for v in u})
    index = {v: i for i, v in enumerate(values)}
    o = np.zeros((len(values), len(values)))
    for u in units:
        if len(u) < 2:
            continue
        for i, a in enumerate(u):
            for j, b in enumerate(u):
                if i != j:
                    o[index[a], index[b]] += 1 / (len(u) - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    delta = np.zeros_like(o)
    for c in range(len(values)):
        for k in range(len(values)):
            if level == "nominal":
                delta[c, k] = float(c != k)
            elif level == "interval":
                delta[c, k] = (values[c] - values[k]) ** 2
            else:
                lo, hi = min(c, k), max(c, k)
                delta[c, k] = (n_c[lo : hi + 1].sum() - (n_c[c] + n_c[k]) / 2) ** 2
    observed = (o * delta).sum() / n
    expected = (np.outer(n_c, n_c) * delta).sum() / (n * (n - 1))
    return 1 - observed / expected


KRIPPENDORFF_2011 = [  # observers A-D (columns) over 12 units (rows); None = not coded
    [1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
    [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5], [None, None, 1, 1], [None, 3, None, None],
]  # fmt: skip


@pytest.mark.parametrize(
    ("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_krippendorff_alpha_on_his_worked_example(level: str, published: float) -> None:
    table = pd.DataFrame(KRIPPENDORFF_2011, dtype="Float64")
    units = [[float(v) for v in row if v is not None] for row in KRIPPENDORFF_2011]
    alpha = krippendorff_alpha(table, level)
    assert round(alpha, 3) == published
    assert alpha == pytest.approx(alpha_by_coincidence(units, level), rel=1e-12)


def test_krippendorff_alpha_takes_labels_and_edge_cases() -> None:
    labels = [["a", "a", "b"], ["b", "b", None], ["c", "c", "c"], [None, "a", None]]
    units = [[v for v in row if v is not None] for row in labels]
    codes = {"a": 0.0, "b": 1.0, "c": 2.0}
    expected = alpha_by_coincidence([[codes[v] for v in u] for u in units], "nominal")
    assert krippendorff_alpha(labels, "nominal") == pytest.approx(expected)
    assert np.isnan(krippendorff_alpha([[1, 1], [1, 1]], "ordinal"))  # no disagreement possible
    assert np.isnan(krippendorff_alpha([[1, None], [None, 2]], "ordinal"))  # nothing pairable
    with pytest.raises(wb.AgreementError, match="level='ratio' is not one of"):
        krippendorff_alpha(labels, "ratio")  # type: ignore[arg-type]
    with pytest.raises(wb.AgreementError, match="needs numbers, but the table holds 'a'"):
        krippendorff_alpha(labels, "ordinal")
    with pytest.raises(wb.AgreementError, match="not an array of 1 dimension"):
        krippendorff_alpha([1, 2, 3])


def three_experts(summeval: pd.DataFrame, criteria: list[str]) -> pd.DataFrame:
    """Three integer ratings per row with the published mean (the sample ships means only):
    the most even split of 3 x mean, rotated so no annotator is always the highest."""
    parts = []
    for c in criteria:
        for i, (rid, mean) in enumerate(summeval[c].items()):
            q, r = divmod(round(3 * mean), 3)
            triple = np.roll([q + 1] * r + [q] * (3 - r), i % 3)
            for a, score in enumerate(triple):
                parts.append(
                    {"row": rid, "task": "summary", "criterion": c, "annotator": f"e{a}", "score": score}
                )
    return pd.DataFrame(parts)


def test_alpha_and_the_leave_one_out_ceiling_on_the_summeval_data(
    run: wb.Run, summeval: pd.DataFrame
) -> None:
    raw = three_experts(summeval, CRITERIA)
    drop = raw.index[(raw["annotator"] == "e2") & (np.arange(len(raw)) % 7 == 0)]
    raw.loc[drop, "score"] = np.nan  # an expert skipped a few rows
    ag = wb.agreement(run, raw)
    h = ag.humans.set_index("criterion")
    t = ag.table.set_index("criterion")
    for c in CRITERIA:
        part = raw[raw["criterion"] == c].dropna(subset=["score"])
        wide = part.pivot(index="row", columns="annotator", values="score")
        units = [[float(v) for v in row if not np.isnan(v)] for row in wide.to_numpy()]
        for level in ("nominal", "ordinal", "interval"):
            assert h.loc[c, f"alpha_{level}"] == pytest.approx(alpha_by_coincidence(units, level), rel=1e-9)
        assert t.loc[c, "alpha"] == h.loc[c, "alpha_ordinal"] and t.loc[c, "annotators"] == 3
        assert h.loc[c, "units"] == len(wide)

        judge = run.results.query("criterion == @c").set_index("row")["score"].astype(float)
        human_rho, judge_rho = [], []
        for a in wide.columns:
            others = wide.drop(columns=a).mean(axis=1)
            ok = wide[a].notna() & others.notna()
            human_rho.append(stats.spearmanr(wide[a][ok], others[ok]).statistic)
            judge_rho.append(stats.spearmanr(judge[wide.index[ok]], others[ok]).statistic)
        assert h.loc[c, "human_spearman"] == pytest.approx(np.mean(human_rho), rel=1e-12)
        assert h.loc[c, "human_spearman_min"] == pytest.approx(min(human_rho))
        assert h.loc[c, "human_spearman_max"] == pytest.approx(max(human_rho))
        assert h.loc[c, "judge_spearman_loo"] == pytest.approx(np.mean(judge_rho), rel=1e-12)
        assert t.loc[c, "human_spearman"] == h.loc[c, "human_spearman"]

        # the judge is set against the experts' mean per row
        mean = wide.mean(axis=1)
        assert t.loc[c, "spearman"] == pytest.approx(stats.spearmanr(judge[mean.index], mean).statistic)


def test_human_kappa_against_the_majority_of_the_others() -> None:
    rows = [f"r{i}" for i in range(40)]
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 3, 40)
    names = ["rude", "neutral", "warm"]
    raw = []
    for a in range(3):
        noisy = np.where(rng.random(40) < 0.3, rng.integers(0, 3, 40), truth)
        raw += [
            {"row": r, "task": "style", "criterion": "tone", "annotator": f"p{a}", "label": names[v]}
            for r, v in zip(rows, noisy)
        ]
    raw = pd.DataFrame(raw)
    judge_labels = [names[v] for v in np.where(rng.random(40) < 0.2, (truth + 1) % 3, truth)]
    ag = wb.agreement(frame(label=judge_labels, rows=rows, task="style", criterion="tone"), raw)
    h = ag.humans.iloc[0]
    wide = raw.pivot(index="row", columns="annotator", values="label").loc[rows]
    human_k, judge_k = [], []
    for a in wide.columns:
        own, ref, jud = [], [], []
        for r in rows:
            others = wide.loc[r].drop(a).tolist()
            counts = pd.Series(others).value_counts()
            if len(counts) > 1 and counts.iloc[0] == counts.iloc[1]:
                continue  # the others tie: no majority
            own.append(wide.loc[r, a])
            ref.append(counts.index[0])
            jud.append(judge_labels[rows.index(r)])
        human_k.append(kappa_by_hand(np.array(own), np.array(ref), sorted(names), weighted=False))
        judge_k.append(kappa_by_hand(np.array(jud), np.array(ref), sorted(names), weighted=False))
    assert h["human_kappa"] == pytest.approx(np.mean(human_k))
    assert h["judge_kappa_loo"] == pytest.approx(np.mean(judge_k))
    assert ag.table.iloc[0]["scale"] == "nominal"


# --- scales other than ranges: labels, mapped labels, pass/fail, assertions ---------------

N_STYLE = 40
TONES = ["rude", "neutral", "warm"]
GRADES = {"bad": 0.0, "ok": 0.5, "good": 1.0}


def style_truth(i: int) -> dict[str, str]:
    r = np.random.default_rng(500 + i)
    return {"tone": TONES[int(r.integers(0, 3))], "verdict": ["fail", "pass"][int(r.integers(0, 2))],
            "grade": list(GRADES)[int(r.integers(0, 3))]}  # fmt: skip


@pytest.fixture(scope="module")
def style_run(tmp_path_factory: pytest.TempPathFactory) -> wb.Run:
    def script(body: dict[str, Any]) -> str:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        i = int(re.search(r"case-(\d+)", user).group(1))
        return json.dumps({c: {"reason": f"case {i} {c}", "label": v} for c, v in style_truth(i).items()})

    suite = wb.Suite(
        name="style",
        tasks=[
            wb.AssertionTask(id="short", path="answer", op="has_length_less_than", expected=12),
            wb.JudgeTask(
                id="style",
                prompt="Case ${case}: ${answer}",
                criteria=[
                    wb.Criterion(name="tone", description="Polite.", scale=TONES, threshold="neutral"),
                    wb.Criterion(name="verdict", description="Right.", scale="binary"),
                    wb.Criterion(name="grade", description="Good.", scale=GRADES, threshold=0.5),
                ],
            ),
        ],
    )
    df = pd.DataFrame(
        {"case": [f"case-{i}" for i in range(N_STYLE)], "answer": ["x" * (i % 20) for i in range(N_STYLE)]}
    )
    with JudgeServer(script=script) as server:
        return wb.evaluate(
            df, suite, model=server.model, **server.litellm_kwargs, progress=False, save=False,
            cache_dir=tmp_path_factory.mktemp("cache"),
        )  # fmt: skip


def style_people() -> pd.DataFrame:
    """One person's labels: the judge's, changed on every fifth row."""
    rows = []
    for i in range(N_STYLE):
        t = style_truth(i)
        if i % 5 == 0:
            t = {
                "tone": TONES[(TONES.index(t["tone"]) + 1) % 3],
                "verdict": "pass" if t["verdict"] == "fail" else "fail",
                "grade": "bad" if t["grade"] != "bad" else "good",
            }
        rows += [{"row": i, "task": "style", "criterion": c, "label": v} for c, v in t.items()]
        rows.append({"row": i, "task": "short", "criterion": "", "passed": (i % 20 < 12) != (i % 10 == 3)})
    return pd.DataFrame(rows)


def test_label_scales_get_the_figures_that_fit_them(style_run: wb.Run) -> None:
    ag = wb.agreement(style_run, style_people())
    t = ag.table.set_index(["task", "criterion"])
    people = style_people()
    judge = {c: [style_truth(i)[c] for i in range(N_STYLE)] for c in ("tone", "verdict", "grade")}
    human = {c: people[people["criterion"] == c]["label"].tolist() for c in judge}

    tone = t.loc[("style", "tone")]
    assert tone["scale"] == "nominal" and pd.isna(tone["spearman"]) and pd.isna(tone["within_one"])
    assert tone["exact"] == pytest.approx(np.mean(np.array(judge["tone"]) == np.array(human["tone"])))
    assert tone["kappa"] == pytest.approx(
        kappa_by_hand(np.array(judge["tone"]), np.array(human["tone"]), TONES, False)
    )
    rank = lambda labels: np.array([TONES.index(v) >= 1 for v in labels])
    for name, value in pass_rates_by_hand(rank(judge["tone"]), rank(human["tone"])).items():
        assert tone[name] == pytest.approx(value), name

    verdict = t.loc[("style", "verdict")]
    assert verdict["scale"] == "binary"
    jv, hv = np.array(judge["verdict"]) == "pass", np.array(human["verdict"]) == "pass"
    assert verdict["kappa"] == pytest.approx(kappa_by_hand(jv, hv, [False, True], False))
    assert verdict["mcc"] == pytest.approx(pass_rates_by_hand(jv, hv)["mcc"])

    grade = t.loc[("style", "grade")]
    assert grade["scale"] == "ordinal"
    jg = np.array([GRADES[v] for v in judge["grade"]])
    hg = np.array([GRADES[v] for v in human["grade"]])
    assert grade["kappa"] == pytest.approx(kappa_by_hand(jg, hg, [0.0, 0.5, 1.0], True))
    assert grade["spearman"] == pytest.approx(stats.spearmanr(jg, hg).statistic)
    assert grade["within_one"] == pytest.approx(np.mean(np.abs(jg - hg) <= 0.5))
    assert list(ag.confusion("style", "grade").columns) == ["bad", "ok", "good"]

    short = t.loc[("short", "")]
    judged = style_run.results.query("task == 'short'")["passed"].to_numpy(dtype=bool)
    said = people[people["task"] == "short"]["passed"].to_numpy(dtype=bool)
    assert short["scale"] == "binary" and short["n"] == N_STYLE
    for name, value in pass_rates_by_hand(judged, said).items():
        assert short[name] == pytest.approx(value), name
    assert list(ag.confusion("short").index) == ["fail", "pass"]

    d = ag.disagreements
    tone_rows = d[d["criterion"] == "tone"]
    assert sorted(tone_rows["row"]) == [i for i in range(N_STYLE) if i % 5 == 0]
    assert set(tone_rows["difference"]) == {1.0}
    first = tone_rows.iloc[0]
    assert (
        first["judge_label"] == style_truth(first["row"])["tone"]
        and first["reason"] == f"case {first['row']} tone"
    )


def test_pass_fail_labels_of_a_scored_criterion(run: wb.Run, summeval: pd.DataFrame) -> None:
    thumbs = pd.DataFrame({"ok": summeval["relevance"] >= 3.5}, index=summeval.index)
    ag = wb.agreement(run, thumbs, columns={"ok": "summary.relevance"})
    row = ag.table.iloc[0]
    judge = pd.Series(half_up(summeval[STAND_IN["relevance"]]) >= 4, index=summeval.index)
    assert row["n"] == 0 and row["n_pass_fail"] == 160 and pd.isna(row["kappa"])
    for name, value in pass_rates_by_hand(judge.to_numpy(), thumbs["ok"].to_numpy()).items():
        assert row[name] == pytest.approx(value), name
    assert len(ag.disagreements) == int((judge != thumbs["ok"]).sum())


# --- inputs: long, wide, annotators, fingerprints, the store --------------------------------


def test_long_and_wide_labels_give_the_same_table(run: wb.Run, summeval: pd.DataFrame) -> None:
    wide = wb.agreement(run, experts(summeval), columns=expert_columns())
    long = labels_frame(experts(summeval), expert_columns())
    assert list(long.columns) == list(LABEL_COLUMNS) and labels_frame(long).equals(long)
    pd.testing.assert_frame_equal(wb.agreement(run, long).table, wide.table)
    named = experts(summeval).rename(columns=lambda c: f"summary.{c}")  # names that are checks
    pd.testing.assert_frame_equal(wb.agreement(run, named).table, wide.table)
    # a bare results frame has no suite: the 1-5 scale is inferred from the scores, and without
    # the threshold only explicit pass/fail labels give pass/fail figures
    bare = wb.agreement(run.results, long).table
    passing = ["n_pass_fail", "mcc", "f1", "precision", "recall", "false_pass_rate", "false_fail_rate"]
    pd.testing.assert_frame_equal(bare.drop(columns=passing), wide.table.drop(columns=passing))
    assert (bare["n_pass_fail"] == 0).all() and bare["mcc"].isna().all()


def test_labels_frame_is_the_canonical_form() -> None:
    wide = pd.DataFrame({"a": [4, None], "b": [True, False], "c": ["warm", "rude"]}, index=["x", "y"])
    out = labels_frame(wide, {"a": ("q", "acc", "ann"), "b": "gate", "c": "q.tone"})
    assert list(out.columns) == list(LABEL_COLUMNS)
    assert (
        out["score"].dtype == "Float64"
        and out["passed"].dtype == "boolean"
        and out["label"].dtype == "string"
    )
    assert out["criterion"].tolist() == ["acc", "acc", "", "", "tone", "tone"]
    assert out["annotator"].tolist()[:2] == ["ann", "ann"] and pd.isna(out["annotator"].iloc[2])
    assert out["passed"].tolist()[2:4] == [True, False] and out["label"].tolist()[4:] == ["warm", "rude"]
    extra = pd.DataFrame({"row": [1], "task": ["t"], "criterion": [""], "passed": [True], "note": ["hm"]})
    assert labels_frame(extra)["note"].tolist() == ["hm"]


def test_criterion_versions_are_reported_apart(run: wb.Run, summeval: pd.DataFrame) -> None:
    long = labels_frame(summeval[["coherence"]], {"coherence": "summary.coherence"})
    long["criterion_fingerprint"] = np.where(np.arange(len(long)) < 100, "fp-old", "fp-new")
    ag = wb.agreement(run, long)
    assert ag.table["criterion_fingerprint"].tolist() == ["fp-old", "fp-new"]
    assert ag.table["n"].tolist() == [100, 60]
    old = ag.confusion("summary", "coherence", criterion_fingerprint="fp-old")
    assert old.to_numpy().sum() == 100
    with pytest.raises(wb.AgreementError, match="several criterion versions"):
        ag.confusion("summary", "coherence")


def test_a_saved_run_is_loaded_by_label(summeval: pd.DataFrame, run: wb.Run, tmp_path: Path) -> None:
    copy.copy(run).save(store=tmp_path, label="judge-v1")  # a copy: save() sets the run's label
    ag = wb.agreement("judge-v1", experts(summeval), columns=expert_columns(), store=tmp_path)
    assert ag.name == "judge-v1"
    pd.testing.assert_frame_equal(
        ag.table, wb.agreement(run, experts(summeval), columns=expert_columns()).table
    )


# --- exclusions and errors -------------------------------------------------------------------


def frame(
    score: Any = None, label: Any = None, passed: Any = None, status: Any = None, rows: Any = None,
    task: str = "quality", criterion: str = "accuracy",
) -> pd.DataFrame:  # fmt: skip
    """A results frame of one check (no suite: the scale is inferred)."""
    values = next(v for v in (score, label, passed) if v is not None)
    n = len(values)
    return pd.DataFrame(
        {
            "row": rows if rows is not None else list(range(n)),
            "task": task,
            "criterion": criterion,
            "status": status if status is not None else ["scored"] * n,
            "passed": pd.array(passed if passed is not None else [None] * n, dtype="boolean"),
            "score": pd.array(score if score is not None else [None] * n, dtype="Float64"),
            "label": pd.array(label if label is not None else [None] * n, dtype="string"),
            "reason": "why",
        }
    )


def people(score: Any, rows: Any = None, **extra: Any) -> pd.DataFrame:
    n = len(score)
    return pd.DataFrame(
        {"row": rows if rows is not None else list(range(n)), "task": "quality", "criterion": "accuracy",
         "score": score, **extra}
    )  # fmt: skip


def test_errors_skips_and_unmatched_rows_are_left_out_and_counted() -> None:
    results = frame(
        score=[1, 2, 3, None, None, 5, 4, 2],
        status=["scored", "scored", "scored", "error", "skipped", "scored", "scored", "scored"],
    )
    labels = pd.DataFrame(
        {
            "row": [0, 1, 2, 3, 4, 5, 6, 7, 99, 0, 1, 2, 5, 6, 7],
            "task": "quality",
            "criterion": "accuracy",
            "annotator": ["a"] * 9 + ["b"] * 6,
            "score": [1, 2, 3, 4, 4, None, 5, 1, 3, 1, 2, 4, None, 4, 2],
            "passed": None,
        }
    )
    ag = wb.agreement(results, labels)
    ex = ag.excluded.iloc[0]
    assert (ex["judge_error"], ex["judge_skipped"], ex["not_in_run"], ex["human_skipped"]) == (1, 1, 1, 1)
    row = ag.table.iloc[0]
    assert row["excluded"] == 4 and row["n"] == 5  # rows 0, 1, 2, 6, 7
    judge, human = np.array([1, 2, 3, 4, 2]), np.array([1, 2, 3.5, 4.5, 1.5])
    assert row["spearman"] == pytest.approx(stats.spearmanr(judge, human).statistic)
    assert row["exact"] == pytest.approx(np.mean(judge == half_up(human)))
    assert "4 excluded" in repr(ag)
    assert ag.pairs.set_index("row")["annotators"].to_dict() == {0: 2, 1: 2, 2: 2, 6: 2, 7: 2}


def test_a_tied_majority_is_left_out_and_counted() -> None:
    results = frame(label=["a", "b", "a"])
    labels = pd.DataFrame(
        {"row": [0, 0, 1, 1, 2, 2], "task": "quality", "criterion": "accuracy",
         "annotator": ["x", "y"] * 3, "label": ["a", "a", "a", "b", "b", "b"]}
    )  # fmt: skip
    ag = wb.agreement(results, labels)
    assert ag.excluded.iloc[0]["no_majority"] == 1
    assert ag.table.iloc[0]["n"] == 2 and ag.table.iloc[0]["exact"] == 0.5


def test_bad_labels_get_one_clear_error(run: wb.Run, summeval: pd.DataFrame) -> None:
    bad = labels_frame(experts(summeval), expert_columns())
    bad.loc[0, "score"] = 7
    bad.loc[1, "score"] = 0
    typo = pd.DataFrame(
        {"row": [summeval.index[0]], "task": "summary", "criterion": ["coherance"], "score": [3]}
    )
    with pytest.raises(wb.AgreementError) as e:
        wb.agreement(run, bad)
    assert str(e.value) == (
        "1 problem with the labels:\n"
        "  - summary.coherence is judged on scores 1..5, but 2 labels are outside it: [7, 0]; "
        "rescale them to the judge's scale"
    )
    with pytest.raises(wb.AgreementError) as e:
        wb.agreement(run, typo)
    assert str(e.value).startswith(
        "the labels name 1 (task, criterion) the run does not have: ['summary.coherance']; did you mean "
        "'summary.coherence'?\nThe run has ['summary.coherence', 'summary.consistency'"
    )
    words = typo.assign(criterion="coherence", score=None, label="great")
    with pytest.raises(
        wb.AgreementError,
        match=r"summary.coherence is judged on scores 1..5, but the labels give it \['great'\]",
    ):
        wb.agreement(run, words)
    twice = pd.concat([typo.assign(criterion="coherence")] * 2)
    with pytest.raises(
        wb.AgreementError, match=r"2 repeated labels, e.g. row 'cnn-test-.*'summary.coherence'"
    ):
        wb.agreement(run, twice)
    elsewhere = typo.assign(criterion="coherence", row="nope")
    with pytest.raises(
        wb.AgreementError, match=r"no labelled row is in the run: labels have rows \['nope'\]"
    ):
        wb.agreement(run, elsewhere)


def test_pass_fail_labels_need_a_judge_that_passes_or_fails(summeval: pd.DataFrame) -> None:
    results = frame(score=[1, 2, 3])
    with pytest.raises(wb.AgreementError, match="the judge neither passes nor fails"):
        wb.agreement(
            results,
            pd.DataFrame(
                {"row": [0, 1], "task": "quality", "criterion": "accuracy", "passed": [True, False]}
            ),
        )
    tone = frame(label=["warm", "rude"])
    with pytest.raises(wb.AgreementError, match="labels give it scores"):
        wb.agreement(tone, people(score=[1, 2]))


def test_bad_parameters_and_inputs() -> None:
    results, labels = frame(score=[1, 2, 3]), people(score=[1, 2, 3])
    with pytest.raises(wb.AgreementError) as e:
        wb.agreement(results, labels, confidence=1.5, n_resamples=0, seed=-1)
    assert str(e.value) == (
        "agreement() got bad parameters: confidence=1.5 must be between 0 and 1 (e.g. 0.95); "
        "n_resamples=0 must be a positive integer (e.g. 1000); seed=-1 must be a non-negative integer."
    )
    with pytest.raises(wb.AgreementError, match="cannot use a run of type list"):
        wb.agreement([1], labels)
    with pytest.raises(wb.ColumnsError, match=r"lacks the columns \['status'\]"):
        wb.agreement(results.drop(columns="status"), labels)
    with pytest.raises(wb.AgreementError, match="labels must be a DataFrame, not dict"):
        wb.agreement(results, {"row": 1})
    with pytest.raises(wb.ColumnsError, match="needs a 'criterion' column"):
        wb.agreement(results, labels.drop(columns="criterion"))
    with pytest.raises(wb.ColumnsError, match=r"columns= names \['acc'\], which the labels frame lacks"):
        wb.agreement(results, pd.DataFrame({"accuracy": [1]}), columns={"acc": "quality.accuracy"})
    with pytest.raises(wb.AgreementError, match="by='doc' is not a column of the labels frame"):
        wb.agreement(results, labels, by="doc")
    with pytest.raises(
        wb.AgreementError, match=r"by= has a group for no labelled row: its index holds \['a'"
    ):
        wb.agreement(results, labels, by=pd.Series(["d1", "d1", "d2"], index=["a", "b", "c"]))
    with pytest.raises(wb.AgreementError, match="by= gives row 0 more than one group"):
        wb.agreement(results, labels, by=pd.Series(["d1", "d2"], index=[0, 0]))
    with pytest.raises(wb.AgreementError, match="must hold numbers, but holds \\['high'\\]"):
        wb.agreement(results, people(score=[1, "high", 3]))


def test_table_dtypes_are_real_dtypes(run: wb.Run, summeval: pd.DataFrame) -> None:
    ag = wb.agreement(run, experts(summeval), columns=expert_columns())
    t = ag.table
    assert list(t.columns) == list(TABLE_COLUMNS)
    assert t["task"].dtype == "string" and t["n"].dtype == "Int64" and t["kappa"].dtype == "Float64"
    assert ag.pairs["judge_passed"].dtype == "boolean" and ag.pairs["difference"].dtype == "Float64"
    assert list(ag.summary().columns)[:4] == ["task", "criterion", "scale", "n"]


def test_repr_and_html(run: wb.Run, summeval: pd.DataFrame) -> None:
    ag = wb.agreement(run, experts(summeval), columns=expert_columns())
    text = repr(ag)
    assert text.startswith("Agreement of 'judge' with human labels: 4 checks, 160 labelled rows")
    assert "summary.coherence (ordinal): n=160, exact" in text and "Spearman" in text
    ag.name = "<script>x</script>"
    html = ag._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and html.count("<tr") == 5


@pytest.mark.slow
def test_ten_thousand_rows_by_five_criteria_with_intervals_is_fast() -> None:
    rng = np.random.default_rng(0)
    n, crit = 10_000, [f"c{i}" for i in range(5)]
    latent = rng.normal(3, 1, (5, n))
    results = pd.concat(
        [
            frame(score=np.clip(np.rint(latent[i] + rng.normal(0, 0.8, n)), 1, 5), criterion=c)
            for i, c in enumerate(crit)
        ]
    )
    labels = pd.concat(
        [
            people(score=np.clip(np.rint(latent[i] + rng.normal(0, 0.7, n)), 1, 5), annotator=f"a{a}").assign(
                criterion=c
            )
            for i, c in enumerate(crit)
            for a in range(3)
        ]
    )
    wb.agreement(results[results["row"] < 500], labels[labels["row"] < 500])  # imports
    start = time.perf_counter()
    ag = wb.agreement(results, labels)
    elapsed = time.perf_counter() - start
    assert ag.table["spearman_low"].notna().all() and ag.table["alpha"].notna().all()
    assert elapsed < 6.0, f"agreement took {elapsed:.2f}s (goal: 3 s on a quiet machine)"


# --- charts ---------------------------------------------------------------------------------


def data_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return next(iter(spec["datasets"].values()))


@pytest.fixture(scope="module")
def with_experts(run: wb.Run, summeval: pd.DataFrame) -> wb.Agreement:
    return wb.agreement(run, three_experts(summeval, CRITERIA), by=summeval["doc_id"])


def test_confusion_heatmap_draws_the_confusion_matrix(with_experts: wb.Agreement) -> None:
    from workbench import charts

    spec = charts.confusion_heatmap(with_experts, "summary", "coherence").to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["rect", "text"]
    enc = spec["layer"][0]["encoding"]
    assert (enc["x"]["field"], enc["y"]["field"], enc["color"]["field"]) == ("human", "judge", "count")
    assert enc["y"]["sort"] == ["5", "4", "3", "2", "1"]  # best at the top
    matrix = with_experts.confusion("summary", "coherence")
    cells = {(d["judge"], d["human"]): d["count"] for d in data_of(spec)}
    assert cells == {(j, h): int(matrix.loc[j, h]) for j in matrix.index for h in matrix.columns}
    agree = [d for d in data_of(spec) if d["agree"]]
    assert len(agree) == 5 and all(d["judge"] == d["human"] for d in agree)
    pf = charts.confusion_heatmap(with_experts, "summary", "coherence", passed=True).to_dict()
    assert {d["judge"] for d in data_of(pf)} == {"fail", "pass"}
    with pytest.raises(wb.AgreementError, match=r"draws one check, and 4 were labelled"):
        charts.confusion_heatmap(with_experts)


def test_agreement_by_criterion_shows_intervals_and_the_human_ceiling(with_experts: wb.Agreement) -> None:
    from workbench import charts

    spec = charts.agreement_by_criterion(with_experts).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["rule", "point"]
    rows = data_of(spec)
    t, h = with_experts.table, with_experts.humans
    judge = [r for r in rows if r["who"] == "Judge"]
    people = [r for r in rows if r["who"] != "Judge"]
    assert [r["value"] for r in judge] == pytest.approx(t["spearman"].tolist())
    assert [r["low"] for r in judge] == pytest.approx(t["spearman_low"].tolist())
    assert [r["high"] for r in judge] == pytest.approx(t["spearman_high"].tolist())
    assert [r["value"] for r in people] == pytest.approx(h["human_spearman"].tolist())
    assert [r["low"] for r in people] == pytest.approx(h["human_spearman_min"].tolist())
    assert [r["high"] for r in people] == pytest.approx(h["human_spearman_max"].tolist())
    assert spec["layer"][1]["encoding"]["shape"]["scale"]["range"] == ["circle", "diamond"]
    assert [r["loo"] for r in judge] == pytest.approx(h["judge_spearman_loo"].tolist())
    grouped = data_of(charts.agreement_by_criterion(with_experts, "spearman_grouped").to_dict())
    assert [r["value"] for r in grouped] == pytest.approx(t["spearman_grouped"].tolist())
    mcc = data_of(charts.agreement_by_criterion(with_experts, "mcc").to_dict())
    assert all(r["low"] == r["value"] == r["high"] for r in mcc)  # no interval for MCC
    with pytest.raises(wb.AgreementError, match="metric='rho' is not one of"):
        charts.agreement_by_criterion(with_experts, "rho")


def test_judge_vs_human_is_a_jittered_scatter_with_the_row_in_the_tooltip(
    with_experts: wb.Agreement, style_run: wb.Run
) -> None:
    from workbench import charts

    one = charts.judge_vs_human(with_experts, "summary", "coherence").to_dict()
    dots = one["layer"][1]
    assert dots["mark"]["type"] == "circle" and dots["encoding"]["tooltip"][0]["field"] == "row"
    rows = data_of(one)
    pairs = with_experts.pairs[with_experts.pairs["criterion"] == "coherence"]
    assert len(rows) == len(pairs) == 160
    assert max(abs(r["judge_y"] - r["judge"]) for r in rows) <= 0.2
    assert max(abs(r["human_x"] - r["human"]) for r in rows) <= 0.2
    assert {r["agreement"] for r in rows} == {"Agree", "Disagree"}
    assert one == charts.judge_vs_human(with_experts, "summary", "coherence").to_dict()  # seeded jitter
    every = charts.judge_vs_human(with_experts).to_dict()
    assert every["facet"]["field"] == "check" and len({r["check"] for r in data_of(every)}) == 4

    labels = wb.agreement(style_run, style_people())
    tone = charts.judge_vs_human(labels, "style", "tone").to_dict()
    assert tone["encoding"]["x"]["field"] == "human_label" and tone["encoding"]["xOffset"]["field"] == "jx"


def test_agreement_charts_render_offline() -> None:
    import vl_convert

    from workbench import charts

    results = frame(score=[1, 2, 3, 4, 5, 4, 2, 3])
    labels = pd.concat(
        [
            people(score=[1, 3, 3, 4, 5, 5, 2, 2], annotator="a"),
            people(score=[2, 2, 3, 5, 5, 4, 1, 3], annotator="b"),
        ]
    )
    ag = wb.agreement(results, labels)
    for chart in (charts.confusion_heatmap(ag), charts.agreement_by_criterion(ag), charts.judge_vs_human(ag)):
        svg = vl_convert.vegalite_to_svg(chart.to_dict(), vl_version="5.8")
        assert svg.startswith("<svg") and "NaN" not in svg


def test_the_readme_example_runs_against_the_local_judge(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "wb.agreement(" in b)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    with JudgeServer() as server:
        namespace: dict[str, Any] = {"server": server}
        code = block.replace('model="openai/gpt-4o-mini"', "model=server.model, **server.litellm_kwargs")
        exec(compile(code, "README.md", "exec"), namespace)
    ag = namespace["ag"]
    assert ag.table["criterion"].tolist() == ["coherence", "relevance"] and (ag.table["n"] == 160).all()
    assert (ag.table["groups"] > 0).all() and ag.table["spearman_low"].notna().all()
