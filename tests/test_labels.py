"""Human labels in the run store: who, when, under which criterion text; read back after a
restart; agreement reported per criterion version, labels under another text flagged.

The judge runs through litellm against the local judge server, scripted from the row."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.agreement import LABEL_COLUMNS
from workbench.store import LABELS_DDL, STORED_COLUMNS, criterion_fingerprint, decode_row, encode_row
from workbench.testing import JudgeServer

ROOT = Path(__file__).resolve().parents[1]
SCORES = {"r1": 5, "r2": 4, "r3": 2, "r4": 1, "r5": 3}


def make_suite(description: str = "Every fact is right.") -> wb.Suite:
    return wb.Suite(
        name="qa",
        tasks=[
            wb.JudgeTask(
                id="quality",
                prompt="Row ${rid}: ${answer}",
                threshold=4,
                criteria=[wb.Criterion(name="accuracy", description=description)],
            )
        ],
    )


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    rows = list(SCORES)
    return pd.DataFrame({"rid": rows, "answer": [f"answer {r}" for r in rows]}, index=rows)


def judge_run(df: pd.DataFrame, suite: wb.Suite, cache: Path) -> wb.Run:
    def script(body: dict[str, Any]) -> str:
        rid = re.search(r"\n(r\d)\n", body["messages"][-1]["content"]).group(1)  # type: ignore[union-attr]
        return json.dumps({"accuracy": {"reason": f"judged {rid}", "score": SCORES[rid]}})

    with JudgeServer(script=script) as server:
        return wb.evaluate(
            df,
            suite,
            model=server.model,
            **server.litellm_kwargs,
            progress=False,
            save=False,
            cache_dir=cache,
        )


def long_labels(scores: dict[str, float | None], annotator: str = "ana") -> pd.DataFrame:
    return pd.DataFrame(
        {"row": list(scores), "task": "quality", "criterion": "accuracy", "annotator": annotator,
         "score": list(scores.values())}
    )  # fmt: skip


def test_saved_labels_carry_who_when_and_the_criterion_text(tmp_path: Path) -> None:
    suite = make_suite()
    before = pd.Timestamp.now(tz="UTC")
    assert wb.save_labels(long_labels({"r1": 5, "r2": 3}), suite, store=tmp_path) == 2
    got = wb.load_labels(suite, store=tmp_path)
    assert list(got.columns) == list(STORED_COLUMNS) and tuple(got.columns[:8]) == LABEL_COLUMNS
    assert got["annotator"].tolist() == ["ana", "ana"] and got["score"].tolist() == [5.0, 3.0]
    assert set(got["criterion_fingerprint"]) == {criterion_fingerprint(suite, "quality", "accuracy")}
    assert got["criterion_text"].iloc[0] == "Every fact is right.\nScale: 1..5"
    assert (got["labelled_at"] >= before).all() and str(got["labelled_at"].dtype) == "datetime64[us, UTC]"
    assert got["suite"].tolist() == ["qa", "qa"]


def test_labels_survive_a_restart_of_the_process(tmp_path: Path) -> None:
    """Saved by one interpreter, read by another (a kernel restart is a new process)."""
    code = (
        "import pandas as pd, workbench as wb, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.test_labels import make_suite, long_labels\n"
        f"wb.save_labels(long_labels({{'r1': 5, 'r3': 2}}), make_suite(), store={str(tmp_path)!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    got = wb.load_labels("qa", store=tmp_path)
    assert got["row"].tolist() == ["r1", "r3"] and got["score"].tolist() == [5.0, 2.0]


def test_labelling_a_row_again_replaces_the_label(tmp_path: Path) -> None:
    suite = make_suite()
    wb.save_labels(long_labels({"r1": 5}).assign(note="first read"), suite, store=tmp_path)
    wb.save_labels(long_labels({"r1": 2}).assign(note="on second thought"), suite, store=tmp_path)
    got = wb.load_labels(suite, store=tmp_path)
    assert got[["score", "note"]].values.tolist() == [[2.0, "on second thought"]]


def test_rows_keep_their_type() -> None:
    rows = [3, "3", 2.5, ("doc", 1), pd.Timestamp("2026-01-02 03:04:05", tz="UTC"), np.int64(7)]
    back = [decode_row(encode_row(r)) for r in rows]
    assert back == [3, "3", 2.5, ("doc", 1), pd.Timestamp("2026-01-02 03:04:05", tz="UTC"), 7]
    assert [type(b) for b in back[:4]] == [int, str, float, tuple]
    with pytest.raises(wb.AgreementError, match="row is missing"):
        encode_row(float("nan"))
    with pytest.raises(wb.AgreementError, match="a label's row is a list"):
        encode_row([1, 2])


def test_integer_and_text_rows_stay_apart_in_the_store(tmp_path: Path) -> None:
    suite = make_suite()
    labels = pd.DataFrame({"row": [0, "0"], "task": "quality", "criterion": "accuracy", "score": [1, 5]})
    wb.save_labels(labels, suite, store=tmp_path)
    got = wb.load_labels(suite, store=tmp_path)
    assert got["row"].tolist() == [0, "0"] and [type(r) for r in got["row"]] == [int, str]
    assert got["annotator"].isna().all()  # nobody named: one unnamed person


def test_bad_labels_are_one_error_listing_what_exists(tmp_path: Path) -> None:
    suite = make_suite()
    bad = pd.DataFrame(
        {"row": ["r1", "r2", "r3"], "task": ["quality", "qualty", "quality"],
         "criterion": ["accuracy", "accuracy", "acuracy"], "score": [9, 3, 3]}
    )  # fmt: skip
    with pytest.raises(wb.AgreementError) as e:
        wb.save_labels(bad, suite, store=tmp_path)
    text = str(e.value)
    assert text.startswith("3 problems with the labels to save for suite 'qa':")
    assert "no task 'qualty'; did you mean 'quality'?" in text
    assert "no criterion 'acuracy'; did you mean 'accuracy'?" in text
    assert "quality.accuracy is on the scale 1..5, but 1 labels are outside it: [9.0]" in text
    assert len(wb.load_labels(store=tmp_path)) == 0  # nothing written


def test_the_labels_table_sits_beside_the_runs(tmp_path: Path, df: pd.DataFrame) -> None:
    suite = make_suite()
    wb.save_labels(long_labels({"r1": 4}), suite, store=tmp_path)  # a store that had no runs yet
    run = judge_run(df, suite, tmp_path / "cache")
    run.save(store=tmp_path, label="judge")
    assert wb.load_run("judge", store=tmp_path).results.equals(run.results)
    assert len(wb.load_labels(store=tmp_path)) == 1
    assert "CREATE TABLE IF NOT EXISTS labels" in LABELS_DDL


def test_agreement_reads_the_saved_labels_per_criterion_version(tmp_path: Path, df: pd.DataFrame) -> None:
    old, new = make_suite(), make_suite("Every fact is right and has a source.")
    wb.save_labels(long_labels({"r1": 5, "r2": 4, "r3": 1, "r4": 1}), old, store=tmp_path)
    # the criterion was edited: two rows labelled again, one new row, under the new text
    wb.save_labels(long_labels({"r1": 4, "r3": 2, "r5": 3}), new, store=tmp_path)
    run = judge_run(df, new, tmp_path / "cache")
    ag = wb.agreement(run, store=tmp_path)
    t = ag.table
    fp_old = criterion_fingerprint(old, "quality", "accuracy")
    fp_new = criterion_fingerprint(new, "quality", "accuracy")
    assert t["criterion_fingerprint"].tolist() == [fp_old, fp_new]
    assert t["current_text"].tolist() == [False, True]
    assert t["n"].tolist() == [4, 3]
    # judge 5, 4, 2, 1 against 5, 4, 1, 1 under the old text; 5, 2, 3 against 4, 2, 3 under the new
    assert t["exact"].tolist() == [0.75, pytest.approx(2 / 3)]
    assert f"@{fp_old} (labelled under another criterion text)" in repr(ag)
    assert f"@{fp_new} (ordinal)" in repr(ag)
    assert list(ag.summary().columns[2:4]) == ["criterion_fingerprint", "current_text"]
    # the same table as from the labels passed by hand
    by_hand = wb.agreement(run, wb.load_labels(new, store=tmp_path))
    pd.testing.assert_frame_equal(by_hand.table, t)


def test_agreement_without_saved_labels_says_how_to_get_some(tmp_path: Path, df: pd.DataFrame) -> None:
    run = judge_run(df, make_suite(), tmp_path / "cache")
    with pytest.raises(wb.AgreementError, match=r"no labels of suite 'qa' are saved .* wb.Labeler"):
        wb.agreement(run, store=tmp_path)
    with pytest.raises(wb.AgreementError, match="a bare results frame has no suite"):
        wb.agreement(run.results, store=tmp_path)
    wb.save_labels(long_labels({"r1": 5}), make_suite(), store=tmp_path)
    assert wb.agreement(run, wb.Store(tmp_path)).table["n"].tolist() == [1]


def test_labels_of_other_suites_and_filters(tmp_path: Path) -> None:
    qa = make_suite()
    other = wb.Suite(name="other", tasks=qa.tasks)
    wb.save_labels(long_labels({"r1": 5}), qa, store=tmp_path)
    wb.save_labels(long_labels({"r1": 1}, annotator="bo"), other, store=tmp_path)
    assert len(wb.load_labels(store=tmp_path)) == 2
    assert wb.load_labels(qa, store=tmp_path)["score"].tolist() == [5.0]
    assert wb.load_labels(annotator=["bo"], store=tmp_path)["suite"].tolist() == ["other"]
    assert len(wb.load_labels(task="nope", store=tmp_path)) == 0
