"""A large JSON column is read a chunk at a time (Context.prepare): the same cells as a
frame small enough to be read whole, without holding every parsed cell at once."""

from __future__ import annotations

import gc
import json
import tracemalloc

import orjson
import pandas as pd

import workbench as wb
from workbench.context import CHUNK_ROWS

N = 2 * CHUNK_ROWS + 1_234  # three chunks, the last one short


def payloads(n: int) -> pd.DataFrame:
    kinds = [
        lambda i: json.dumps({"confidence": (i % 10) / 10, "tags": ["a", "b"][: i % 3], "n": i}),
        lambda i: "not json " + str(i),
        lambda i: json.dumps({"tags": []}),  # no confidence
        lambda i: json.dumps([i, {"confidence": 1}]),  # an array, not an object
        lambda i: {"confidence": 0.9, "tags": ["c"]},  # already an object
        lambda i: None,
        lambda i: json.dumps({"confidence": "high"}),  # a string, not a number
    ]
    return pd.DataFrame(
        {"payload": [kinds[i % 7](i) for i in range(n)], "floor": [(i % 5) / 10 for i in range(n)]},
        index=[f"r{i}" for i in range(n)],
    )


def suite() -> wb.Suite:
    return wb.Suite(
        name="json",
        tasks=[
            wb.AssertionTask(id="valid", op="is_json", path="payload"),
            wb.AssertionTask(id="invalid", op="not_is_json", path="payload"),
            wb.AssertionTask(
                id="confident", op="greater_than_or_equal", path="payload.confidence", expected=0.5
            ),
            wb.AssertionTask(id="tagged", op="contains", path="payload.tags", expected="a"),
            wb.AssertionTask(id="first", op="is_positive", path="payload[0]"),
            wb.AssertionTask(
                id="above_floor", op="greater_than", path="payload.confidence", expected="${floor}"
            ),
            wb.AssertionTask(id="echo", op="equals", path="payload.n", expected="${payload.n}"),
        ],
    )


def test_a_large_json_column_gives_the_cells_of_small_frames() -> None:
    df = payloads(N)
    whole = wb.evaluate(df, suite(), save=False, progress=False).results
    # each slice is small enough to be read whole: the reference
    step = CHUNK_ROWS // 2
    parts = [
        wb.evaluate(df.iloc[i : i + step], suite(), save=False, progress=False).results
        for i in range(0, N, step)
    ]
    reference = pd.concat(parts).sort_values(["task", "row"], kind="stable").reset_index(drop=True)
    got = whole.sort_values(["task", "row"], kind="stable").reset_index(drop=True)
    cols = ["row", "task", "status", "passed", "reason", "error"]
    pd.testing.assert_frame_equal(
        got[cols].astype({"task": str, "status": str}), reference[cols].astype({"task": str, "status": str})
    )
    counts = got.groupby(["task", "status"], observed=True).size()
    assert counts[("valid", "passed")] > 0 and counts[("valid", "failed")] > 0  # the data is mixed
    assert counts[("confident", "error")] > 0 and counts[("confident", "passed")] > 0


def test_a_large_json_column_is_not_held_parsed_all_at_once() -> None:
    n = 4 * CHUNK_ROWS
    df = pd.DataFrame(
        {"payload": [orjson.dumps({"confidence": i % 10, "tags": ["x", "y"]}).decode() for i in range(n)]}
    )
    checks = wb.Suite(
        name="s",
        tasks=[
            wb.AssertionTask(id="valid", op="is_json", path="payload"),
            wb.AssertionTask(id="confident", op="gte", path="payload.confidence", expected=5),
        ],
    )
    wb.evaluate(df.head(10), checks, save=False, progress=False)  # imports and first-use caches

    def peak(work: object) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            work()  # type: ignore[operator]
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    parsed = peak(lambda: [orjson.loads(s) for s in df["payload"].tolist()])
    evaluated = peak(lambda: wb.evaluate(df, checks, save=False, progress=False))
    # read whole, the evaluation held the parsed column and more (1.2x the parse alone); a
    # chunk at a time it holds the results and the values read (0.6x)
    assert evaluated < 0.9 * parsed, (evaluated, parsed)
