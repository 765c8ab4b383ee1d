"""wb.Labeler driven from code: keys typed in its key box, labels in the run store as they
are entered, the judge's verdict hidden until a row is labelled, resuming after a restart,
and the labels reported per criterion version. The judge runs against the local server."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.store import criterion_fingerprint
from workbench.testing import JudgeServer
from workbench.widgets import LabelerController

ROOT = Path(__file__).resolve().parents[1]
SCORES = {"r1": 5, "r2": 2, "r3": 4, "r4": 1}


def make_suite(description: str = "Every fact is right.", scale: Any = (1, 5)) -> wb.Suite:
    return wb.Suite(
        name="qa",
        tasks=[
            wb.JudgeTask(
                id="quality",
                prompt="Row ${rid}: ${answer}",
                threshold=4 if scale == (1, 5) else None,
                scale=scale,
                criteria=[wb.Criterion(name="accuracy", description=description)],
            )
        ],
    )


def make_df() -> pd.DataFrame:
    rows = list(SCORES)
    return pd.DataFrame({"rid": rows, "answer": [f"answer {r}" for r in rows], "unused": 0}, index=rows)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> wb.Run:
    def script(body: dict[str, Any]) -> str:
        rid = re.search(r"\n(r\d)\n", body["messages"][-1]["content"]).group(1)  # type: ignore[union-attr]
        return json.dumps({"accuracy": {"reason": f"the judge on {rid}", "score": SCORES[rid]}})

    with JudgeServer(script=script) as server:
        return wb.evaluate(
            make_df(), make_suite(), model=server.model, **server.litellm_kwargs, progress=False,
            save=False, cache_dir=tmp_path_factory.mktemp("cache"),
        )  # fmt: skip


def labeler(store: Path, **options: Any) -> wb.Labeler:
    options.setdefault("annotator", "ana")
    return wb.Labeler(make_df(), options.pop("suite", make_suite()), task="quality", store=store, **options)


def test_typed_keys_are_saved_as_they_are_entered(tmp_path: Path) -> None:
    lab = labeler(tmp_path)
    assert "r1" in lab.progress.value and "0 of 4" in lab.progress.value
    assert "Every fact is right." in lab.criterion.value and "Scale: 1..5" in lab.criterion.value
    assert "answer r1" in lab.fields.value and "unused" not in lab.fields.value  # what the judge reads
    lab.note.value = "cites nothing"
    lab.key_box.value = "4"
    assert lab.key_box.value == "" and lab.note.value == ""
    saved = wb.load_labels("qa", store=tmp_path)  # already on disk, nothing else to call
    assert saved[["row", "score", "annotator", "note"]].values.tolist() == [
        ["r1", 4.0, "ana", "cites nothing"]
    ]
    lab.key_box.value = "p"  # pass/fail on a scored criterion
    lab.key_box.value = "s"  # skip: kept as a label with no value
    got = wb.load_labels("qa", store=tmp_path)
    assert got["row"].tolist() == ["r1", "r2", "r3"]
    assert got["passed"].tolist()[1] is True and got.iloc[2][["score", "label", "passed"]].isna().all()
    assert "3 of 4" in lab.progress.value and "Row 'r3' (accuracy): skipped (saved)." in html.unescape(
        lab.message.value
    )


def test_the_judges_verdict_is_hidden_until_the_row_is_labelled(tmp_path: Path, run: wb.Run) -> None:
    lab = labeler(tmp_path, run=run)
    assert lab.verdict.value == "" and "the judge on" not in lab.fields.value + lab.criterion.value
    assert lab.controller.verdict(lab.controller.current) is None  # type: ignore[arg-type]
    lab.press("3")
    assert (
        "the judge on r1" in lab.verdict.value
        and "you said <b>3</b>, the judge said <b>5 / pass</b>" in lab.verdict.value
    )
    assert "the judge on r2" not in lab.verdict.value  # the row now shown stays unanchored


def test_back_shows_the_label_and_a_new_key_replaces_it(tmp_path: Path) -> None:
    lab = labeler(tmp_path)
    lab.press("5")
    lab.press("b")
    assert "r1" in lab.progress.value and "Your label: <b>5</b>" in lab.fields.value
    lab.press("2")
    assert wb.load_labels("qa", store=tmp_path)["score"].tolist() == [2.0]
    assert "r2" in lab.progress.value
    lab.press("x")
    assert "Key 'x' does nothing here. Keys: 1 1, 2 2, 3 3, 4 4, 5 5, p pass" in html.unescape(
        lab.message.value
    )


def test_labels_survive_a_restart_and_the_labeler_resumes(tmp_path: Path, run: wb.Run) -> None:
    """Two rows labelled in one process (a kernel), the labeler opened again in this one."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from pathlib import Path\n"
        "from tests.test_labeler import labeler\n"
        f"lab = labeler(Path({str(tmp_path)!r}))\n"
        "lab.key_box.value = '5'\n"
        "lab.key_box.value = '1'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    lab = labeler(tmp_path)
    assert lab.controller.current.row == "r3" and "2 of 4" in lab.progress.value  # type: ignore[union-attr]
    lab.press("4")
    lab.press("1")
    assert "all done" in lab.progress.value
    ag = wb.agreement(run, store=tmp_path)
    assert ag.table[["n", "exact", "current_text"]].values.tolist() == [[4, 0.75, True]]


def test_an_edited_criterion_is_labelled_again_and_reported_apart(tmp_path: Path, run: wb.Run) -> None:
    lab = labeler(tmp_path)
    for key in "5241":
        lab.press(key)
    edited = make_suite("Every fact is right and has a source.")
    again = labeler(tmp_path, suite=edited)
    assert again.controller.current.row == "r1"  # type: ignore[union-attr]  # a new text: nothing labelled yet
    assert "has a source" in again.criterion.value
    again.press("3")
    again.press("2")
    ag = wb.agreement(run, store=tmp_path)  # the run was judged under the first text
    old = criterion_fingerprint(make_suite(), "quality", "accuracy")
    new = criterion_fingerprint(edited, "quality", "accuracy")
    assert ag.table[["criterion_fingerprint", "current_text", "n"]].values.tolist() == [
        [old, True, 4],
        [new, False, 2],
    ]
    assert ag.table["exact"].tolist() == [1.0, 0.5]


def test_label_and_binary_scales_get_their_keys(tmp_path: Path) -> None:
    labels = labeler(tmp_path, suite=make_suite(scale=["poor", "fair", "good"]))
    assert [k.text for k in labels.controller.keys("accuracy")][:3] == ["poor", "fair", "good"]
    labels.press("3")
    binary = labeler(tmp_path / "b", suite=make_suite(scale="binary"))
    assert [k.key for k in binary.controller.keys("accuracy")] == ["p", "f", "s", "b"]
    binary.press("f")
    assert wb.load_labels(store=tmp_path)["label"].tolist() == ["good"]
    got = wb.load_labels(store=tmp_path / "b")
    assert got[["label", "passed"]].values.tolist() == [["fail", False]]


def test_rows_are_picked_by_disagreement_between_judge_versions(tmp_path: Path, run: wb.Run) -> None:
    other = run.results.assign(score=pd.array([5.0, 5.0, 4.0, 2.0], dtype="Float64"))
    other["passed"] = pd.array([True, True, True, False], dtype="boolean")
    ctl = LabelerController(
        make_df(), make_suite(), "quality", store=tmp_path, run=run, pick="disagreement", other=other
    )
    assert [i.row for i in ctl.items] == ["r2", "r4", "r1", "r3"]
    uncertain = LabelerController(
        make_df(), make_suite(), "quality", store=tmp_path, run=run, pick="uncertainty"
    )
    assert [i.row for i in uncertain.items][:1] == ["r3"]  # the score on the threshold


def test_bad_arguments_say_what_exists(tmp_path: Path) -> None:
    with pytest.raises(wb.WorkbenchError, match="no task 'qualty'; did you mean 'quality'"):
        wb.Labeler(make_df(), make_suite(), task="qualty", store=tmp_path)
    with pytest.raises(wb.WorkbenchError, match="pass run="):
        labeler(tmp_path, pick="uncertainty")
    with pytest.raises(wb.WorkbenchError, match="rows= names \\['r9'\\]"):
        labeler(tmp_path, rows=["r9"])
