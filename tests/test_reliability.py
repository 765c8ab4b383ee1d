"""Judge reliability against the local judge server (real HTTP through litellm), scripted to
produce known flip rates and a known position bias: consistency, pairwise, the cache
namespace behind resumable repeats, and picking rows to label."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.config import CACHE_NAMESPACE_KEY
from workbench.llm import cache_key
from workbench.reliability import CONSISTENCY_COLUMNS, PAIRWISE_TABLE_COLUMNS, icc_oneway, rows_to_label
from workbench.testing import JudgeServer, Reply

ROW = re.compile(r"\n(r\d+)\n")

# scores each row gets in repeats 0, 1, 2, 3 (threshold 4: >= 4 passes)
SCRIPTED = {
    "r1": [5, 5, 5, 5],  # steady pass
    "r2": [4, 3, 4, 3],  # flips
    "r3": [1, 1, 1, 2],  # score moves, both fail: no flip
    "r4": [5, 2, 5, 5],  # flips
    "r5": [3, 3, 3, 3],  # steady fail
    "r6": [4, 4, None, 5],  # repeat 2 fails with an error: no flip among the rest
}


def row_of(body: dict[str, Any]) -> str:
    return ROW.search(body["messages"][-1]["content"]).group(1)  # type: ignore[union-attr]


def suite() -> wb.Suite:
    return wb.Suite(
        name="qa",
        tasks=[
            wb.JudgeTask(
                id="quality",
                prompt="Row ${rid}: ${answer}",
                threshold=4,
                criteria=[wb.Criterion(name="accuracy", description="Every fact is right.")],
            )
        ],
    )


def frame(rows: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"rid": rows, "answer": [f"answer {r}" for r in rows]}, index=rows)


class Repeats:
    """A script answering the n-th request of a row with its n-th scripted score."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Any:
        rid = row_of(body)
        with self.lock:
            n = self.seen[rid]
            self.seen[rid] += 1
        score = SCRIPTED[rid][n % 4]
        if score is None:
            return Reply(status=400, content="scripted failure")
        return json.dumps({"accuracy": {"reason": f"{rid} repeat {n}", "score": score}})


@pytest.fixture
def server() -> Any:
    with JudgeServer(script=Repeats()) as s:
        yield s


def run_consistency(
    server: JudgeServer, cache: Path, k: int = 4, **options: Any
) -> wb.reliability.Consistency:
    return wb.consistency(
        frame(list(SCRIPTED)), suite(), k=k, model=server.model, **server.litellm_kwargs,
        cache_dir=cache, max_retries=0, **options,
    )  # fmt: skip


def test_consistency_reports_exactly_the_scripted_flip_rate(server: JudgeServer, tmp_path: Path) -> None:
    c = run_consistency(server, tmp_path)
    assert list(c.table.columns) == list(CONSISTENCY_COLUMNS)
    t = c.table.iloc[0]
    assert (t["task"], t["criterion"], t["k"], t["rows"]) == ("quality", "accuracy", 4, 6)
    assert t["n_pass_fail"] == 6 and t["flip_rate"] == pytest.approx(2 / 6)  # r2 and r4
    assert t["score_changed"] == pytest.approx(4 / 6)  # r2, r3, r4, r6
    assert t["errors"] == 1
    usable = {r: [s for s in v if s is not None] for r, v in SCRIPTED.items()}
    assert t["score_sd"] == pytest.approx(np.mean([np.std(v, ddof=1) for v in usable.values()]))
    assert t["score_range"] == pytest.approx(np.mean([max(v) - min(v) for v in usable.values()]))
    rows = c.rows.set_index("row")
    assert rows["flipped"].tolist() == [False, True, False, True, False, False]
    assert rows.loc["r6", ["repeats", "errors", "passed", "failed"]].tolist() == [3, 1, 3, 0]


def test_icc_equals_a_direct_one_way_anova(server: JudgeServer, tmp_path: Path) -> None:
    c = run_consistency(server, tmp_path)
    full = np.array([v for v in SCRIPTED.values() if None not in v], dtype=float)  # r6 left out
    n, k = full.shape
    means = full.mean(axis=1)
    msb = k * sum((m - full.mean()) ** 2 for m in means) / (n - 1)
    msw = sum((x - means[i]) ** 2 for i in range(n) for x in full[i]) / (n * (k - 1))
    assert c.table["icc"].iloc[0] == pytest.approx((msb - msw) / (msb + (k - 1) * msw))
    low, high = c.table["icc_low"].iloc[0], c.table["icc_high"].iloc[0]
    assert low < c.table["icc"].iloc[0] < high
    assert icc_oneway(full)[0] == pytest.approx(c.table["icc"].iloc[0])


def test_repeats_are_sent_at_the_temperature_without_the_namespace(
    server: JudgeServer, tmp_path: Path
) -> None:
    run_consistency(server, tmp_path, temperature=0.7)
    bodies = server.requests
    assert len(bodies) == 24 and {b["temperature"] for b in bodies} == {0.7}
    assert not [b for b in bodies if any("namespace" in k for k in b)]


def test_repeats_are_cached_and_resume(server: JudgeServer, tmp_path: Path) -> None:
    first = run_consistency(server, tmp_path, k=2)
    assert server.count == 12
    again = run_consistency(server, tmp_path, k=2)
    assert server.count == 12  # every repeat from its cache namespace
    pd.testing.assert_frame_equal(again.table, first.table)
    more = run_consistency(server, tmp_path, k=3)
    assert server.count == 18  # only the third repeat was called
    assert more.table["k"].iloc[0] == 3


def test_repeats_do_not_reuse_the_plain_runs_cache(server: JudgeServer, tmp_path: Path) -> None:
    wb.evaluate(frame(["r1"]), suite(), model=server.model, **server.litellm_kwargs, cache_dir=tmp_path,
                temperature=1.0, progress=False, save=False)  # fmt: skip
    wb.consistency(
        frame(["r1"]), suite(), k=2, model=server.model, **server.litellm_kwargs, cache_dir=tmp_path
    )
    assert server.count == 3


def test_the_cache_namespace_enters_the_key_and_the_default_key_is_unchanged() -> None:
    messages = [{"role": "user", "content": "hi"}]
    plain = wb.JudgeConfig()
    spaced = wb.JudgeConfig(cache_namespace="consistency/0")
    assert plain.key_params() == plain.request_params() == {"temperature": 0}
    assert spaced.request_params() == {"temperature": 0}  # what is sent
    assert spaced.key_params() == {"temperature": 0, CACHE_NAMESPACE_KEY: "consistency/0"}
    default = cache_key("m", messages, plain.key_params())
    assert default == cache_key("m", messages, {"temperature": 0})
    assert default != cache_key("m", messages, spaced.key_params())
    assert cache_key("m", messages, spaced.key_params()) != cache_key(
        "m", messages, wb.JudgeConfig(cache_namespace="consistency/1").key_params()
    )
    with pytest.raises(wb.ConfigError, match="set by workbench"):
        wb.JudgeConfig(params={CACHE_NAMESPACE_KEY: "x"})


def test_consistency_refuses_parameters_that_measure_nothing() -> None:
    with pytest.raises(wb.WorkbenchError) as e:
        wb.consistency(frame(["r1"]), suite(), k=1, temperature=0, model="openai/m")
    assert "k=1 must be an integer of at least 2" in str(e.value)
    assert "temperature=0 must be above 0" in str(e.value)
    with pytest.raises(wb.WorkbenchError, match=r"consistency\(temperature=\.\.\.\)"):
        wb.consistency(frame(["r1"]), suite(), params={"temperature": 0.5}, model="openai/m")


# --- pairwise ---------------------------------------------------------------------------------

PAIRS = pd.DataFrame(
    {
        "rid": [f"r{i}" for i in range(6)],
        "question": ["q"] * 6,
        "v1": ["plain", "plain", "plain", "GOOD", "plain", "plain"],
        "v2": ["GOOD", "GOOD", "GOOD", "plain", "plain", "plain"],
    },
    index=[f"r{i}" for i in range(6)],
)


def pairwise_judge(body: dict[str, Any]) -> Any:
    """Picks the output that says GOOD; with none, always the first shown (position bias)."""
    user = body["messages"][-1]["content"]
    rid = row_of(body)
    first, second = user.split("Output 2:")
    verdict = "1" if "GOOD" in first else "2" if "GOOD" in second else "1"
    return json.dumps({"helpful": {"reason": f"{rid}: {verdict}", "label": verdict}})


def pairwise_task() -> wb.PairwiseTask:
    return wb.PairwiseTask(
        id="better",
        prompt="Row ${rid}. Question: ${question}",
        a="v1",
        b="v2",
        criteria=[wb.Criterion(name="helpful", description="Answers the question.")],
    )


@pytest.fixture(scope="module")
def pairwise(tmp_path_factory: pytest.TempPathFactory) -> wb.reliability.Pairwise:
    with JudgeServer(script=pairwise_judge) as server:
        return pairwise_task().evaluate(
            PAIRS.iloc[:5], model=server.model, **server.litellm_kwargs,
            cache_dir=tmp_path_factory.mktemp("cache"), max_retries=0,
        )  # fmt: skip


def test_pairwise_asks_both_orders_and_reports_the_scripted_position_bias(
    pairwise: wb.reliability.Pairwise,
) -> None:
    t = pairwise.table.iloc[0]
    assert list(pairwise.table.columns) == list(PAIRWISE_TABLE_COLUMNS)
    # r0-r2: B is better in both orders; r3: A is; r4: no content difference, the judge picks position 1
    assert (t["n"], t["b_wins"], t["a_wins"], t["ties"], t["inconsistent"]) == (5, 3, 1, 0, 1)
    assert t["swap_inconsistency"] == pytest.approx(1 / 5)
    assert t["first_position_rate"] == pytest.approx(6 / 10)  # one "1" per consistent row, two for r4
    assert t["win_rate_b"] == pytest.approx((1 + 1 + 1 + 0 + 0.5) / 5)
    assert t["win_rate_low"] <= t["win_rate_b"] <= t["win_rate_high"]
    r = pairwise.results.set_index("row")
    assert r.loc["r0", ["verdict_ab", "verdict_ba", "winner"]].tolist() == ["2", "1", "b"]
    assert r.loc["r4", ["winner_ab", "winner_ba", "winner", "consistent"]].tolist() == [
        "a", "b", "inconsistent", False,
    ]  # fmt: skip
    assert "position-swap inconsistency 20%" in repr(pairwise)


def test_the_two_orders_show_the_outputs_swapped(pairwise: wb.reliability.Pairwise) -> None:
    ab = pairwise.run_ab.results.set_index("row")
    ba = pairwise.run_ba.results.set_index("row")
    assert ab.loc["r0", "reason"] == "r0: 2" and ba.loc["r0", "reason"] == "r0: 1"


def test_a_failed_order_leaves_the_row_out_and_counts_it(tmp_path: Path) -> None:
    calls: Counter[str] = Counter()

    def failing(body: dict[str, Any]) -> Any:
        rid = row_of(body)
        calls[rid] += 1
        if rid == "r5" and calls[rid] == 2:
            return Reply(status=400, content="scripted failure")
        return pairwise_judge(body)

    with JudgeServer(script=failing) as server:
        p = pairwise_task().evaluate(
            PAIRS,
            model=server.model,
            **server.litellm_kwargs,
            cache_dir=tmp_path,
            max_retries=0,
            concurrency=1,
        )
    t = p.table.iloc[0]
    assert (t["n"], t["errors"]) == (5, 1)
    r5 = p.results.set_index("row").loc["r5"]
    assert r5["status"] == "error" and "scripted failure" in r5["error"] and pd.isna(r5["winner"])


def test_compare_reads_a_pairwise_judgment_as_b_against_a(pairwise: wb.reliability.Pairwise) -> None:
    c = wb.compare(pairwise)
    assert (c.name_a, c.name_b) == ("v1", "v2")
    row = c.table.iloc[0]
    assert (row["task"], row["criterion"], row["metric"], row["n"]) == ("better", "helpful", "score", 5)
    assert row["delta"] == pytest.approx(2 * 3.5 / 5 - 1)
    assert (row["wins"], row["ties"], row["losses"]) == (3, 1, 1)
    with pytest.raises(wb.CompareError, match="one argument alone must be a pairwise judgment"):
        wb.compare(pairwise.run_ab)


def test_pairwise_outputs_can_be_paths_and_placed_in_the_prompt() -> None:
    task = wb.PairwiseTask(
        id="p", prompt="A: ${output_1}\nB: ${output_2}\nWhich?", a="resp_a.answer", b="resp_b.answer",
        criteria=[wb.Criterion(name="c", description="d")], ties=False,
    )  # fmt: skip
    assert task.judge_task("ab").prompt == "A: ${resp_a.answer}\nB: ${resp_b.answer}\nWhich?"
    assert task.judge_task("ba").prompt == "A: ${resp_b.answer}\nB: ${resp_a.answer}\nWhich?"
    assert task.judge_task().criteria[0].scale == ["1", "2"]
    df = pd.DataFrame({"resp_a": ['{"answer": "x"}'], "other": [1]})
    with pytest.raises(wb.ColumnsError, match="resp_b"):
        task.evaluate(df, model="openai/m")


# --- rows to label ----------------------------------------------------------------------------


def test_rows_to_label_by_uncertainty_and_by_disagreement(server: JudgeServer, tmp_path: Path) -> None:
    c = run_consistency(server, tmp_path)
    order = rows_to_label(c, "quality", "accuracy")
    assert order[:2] == ["r2", "r4"]  # the flipped rows first
    assert set(order) == set(SCRIPTED)
    results = pd.DataFrame(
        {"row": ["a", "b", "c", "d"], "task": "quality", "criterion": "accuracy",
         "status": ["scored", "scored", "scored", "error"], "passed": [True, False, True, None],
         "score": [5.0, 3.0, 4.0, None]}
    )  # fmt: skip
    run = wb.Run(suite=suite(), results=results)
    assert rows_to_label(run, "quality") == [
        "c",
        "a",
        "b",
        "d",
    ]  # nearest the threshold 4 first, ties in order
    other = results.assign(score=[5.0, 4.0, 2.0, 3.0], passed=[True, True, False, False], status="scored")
    assert rows_to_label(run, "quality", by="disagreement", other=other) == ["b", "c", "a", "d"]
    with pytest.raises(wb.WorkbenchError, match="did you mean 'uncertainty'"):
        rows_to_label(run, "quality", by="uncertainity")  # type: ignore[arg-type]


def test_the_local_server_can_simulate_a_judge_that_is_not_self_consistent(tmp_path: Path) -> None:
    df = frame([f"r{i}" for i in range(1, 13)])
    tables = []
    for i, noise in enumerate((0.0, 1.0, 1.0)):
        with JudgeServer(sampling_noise=noise) as server:
            c = wb.consistency(df, suite(), k=3, model=server.model, **server.litellm_kwargs,
                               cache_dir=tmp_path / str(i))  # fmt: skip
        tables.append(c.table)
    assert tables[0]["score_changed"].iloc[0] == 0 and tables[0]["icc"].iloc[0] == 1
    assert tables[1]["score_changed"].iloc[0] > 0.5  # a fresh draw for every repeat
    pd.testing.assert_frame_equal(tables[1], tables[2])  # reproducible
    with pytest.raises(ValueError, match=r"sampling_noise=2 is not in \[0, 1\]"):
        JudgeServer(sampling_noise=2)


def test_the_readme_reliability_example_runs_against_the_local_judge(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "wb.consistency(" in b)
    monkeypatch.chdir(root)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    with JudgeServer(sampling_noise=0.5) as server:
        namespace: dict[str, Any] = {"server": server}
        code = block.replace('model="openai/gpt-4o-mini"', "model=server.model, **server.litellm_kwargs")
        exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["ag"].table["n"].tolist() == [12] and namespace["ag"].table["current_text"].all()
    assert namespace["c"].table["k"].tolist() == [5]
    assert namespace["p"].table["n"].tolist() == [12]
    assert namespace["labeler"].controller.labelled == 0
