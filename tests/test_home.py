"""Where runs and the cache live: one folder, found the way git finds a repository (the
nearest ``.workbench/`` in the working directory or above, else one made in the working
directory; ``$WORKBENCH_HOME`` wins), and a run not found names the stores nearby.

Every test here unsets the ``WORKBENCH_HOME`` that tests/isolation.py gives each test, and
works in its own temporary folders."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from workbench.cli import main
from workbench.files import homes_above
from workbench.llm import default_cache_dir
from workbench.store import UnknownRunError, home
from workbench.testing import JudgeServer


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder with a ``notebooks/`` folder, no ``WORKBENCH_HOME``."""
    monkeypatch.delenv("WORKBENCH_HOME", raising=False)
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    if any(homes_above(tmp_path)):
        pytest.skip(
            f"a .workbench folder above {tmp_path} ({next(homes_above(tmp_path))}) would be found first"
        )
    return root


def checks() -> wb.Suite:
    return wb.Suite(name="s", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])


def save(label: str) -> wb.Run:
    return wb.evaluate(pd.DataFrame({"x": [1, -2]}), checks(), label=label)


def test_a_notebook_below_the_project_saves_runs_and_verdicts_in_the_projects_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch, judge_server: JudgeServer
) -> None:
    (project / ".workbench").mkdir()
    deep = project / "notebooks" / "drafts"
    deep.mkdir()
    monkeypatch.chdir(deep)
    assert home() == project / ".workbench" and default_cache_dir() == project / ".workbench" / "cache"
    run = save("from a notebook")
    judge = wb.JudgeTask(id="q", prompt="${x}", criteria=[wb.Criterion(name="ok", description="Fine.")])
    wb.evaluate(
        pd.DataFrame({"x": ["a"]}),
        wb.Suite(name="j", tasks=[judge]),
        model=judge_server.model,
        **judge_server.litellm_kwargs,
        progress=False,
    )
    assert (project / ".workbench" / "runs.sqlite").is_file()
    assert (project / ".workbench" / "cache" / "cache.db").is_file()  # the cache follows the same rule
    assert not (deep / ".workbench").exists() and not (project / "notebooks" / ".workbench").exists()
    monkeypatch.chdir(project)  # a terminal in the project's root sees the same runs
    assert wb.load_run("from a notebook").id == run.id


def test_without_a_workbench_folder_one_is_made_in_the_working_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project / "notebooks")
    assert home() == project / "notebooks" / ".workbench"
    assert not (project / "notebooks" / ".workbench").exists()  # finding it creates nothing
    save("first")
    assert (project / "notebooks" / ".workbench" / "runs.sqlite").is_file()


def test_workbench_home_wins_over_a_nearer_folder(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".workbench").mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("WORKBENCH_HOME", "elsewhere")  # relative: to the working directory
    assert home() == project / "elsewhere" and default_cache_dir() == project / "elsewhere" / "cache"
    save("x")
    assert (project / "elsewhere" / "runs.sqlite").is_file() and not any((project / ".workbench").iterdir())


def test_the_nearest_folder_wins_and_a_file_of_that_name_is_not_one(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / ".workbench").mkdir()
    (project / "notebooks" / ".workbench").mkdir()
    (project / "notebooks" / "drafts").mkdir()
    (project / "notebooks" / "drafts" / ".workbench").write_text("not a folder")
    monkeypatch.chdir(project / "notebooks" / "drafts")
    assert home() == project / "notebooks" / ".workbench"
    assert wb.Store().path == project / "notebooks" / ".workbench" / "runs.sqlite"


def test_a_run_not_found_names_the_store_below_that_has_it(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project / "notebooks")  # as a notebook's kernel runs, with no project folder
    save("summaries M0")
    save("summaries M23")
    monkeypatch.chdir(project)
    expected = (
        f"no run store exists at {project / '.workbench' / 'runs.sqlite'} yet.*"
        r"Other run stores nearby: 'notebooks/\.workbench' \(2 runs, 'summaries M0' among them\); "
        r"pass store='notebooks/\.workbench' to read it \(CLI: --store notebooks/\.workbench\)"
    )
    with pytest.raises(UnknownRunError, match=expected):
        wb.load_run("summaries M0")
    assert wb.load_run("summaries M0", store="notebooks/.workbench").label == "summaries M0"
    code = main(["compare", "summaries M0", "summaries M23"])
    err = capsys.readouterr().err
    assert code != 0 and "Other run stores nearby: 'notebooks/.workbench' (2 runs" in err, err
    assert main(["compare", "summaries M0", "summaries M23", "--store", "notebooks/.workbench"]) == 0


def test_a_run_not_found_names_the_store_above_and_the_ones_without_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / ".workbench").mkdir()
    monkeypatch.chdir(project)
    save("baseline")
    (project / "notebooks" / ".workbench").mkdir()
    monkeypatch.chdir(project / "notebooks")
    save("draft")
    with pytest.raises(UnknownRunError) as e:
        wb.load_run("baseline")
    message = str(e.value)
    assert message.startswith(
        f"no run with id or label 'baseline' in the run store at {project / 'notebooks'}"
    )
    assert (
        "Other run stores nearby: '../.workbench' (1 run, 'baseline' among them); pass store='../.workbench'"
        in message
    )
    with pytest.raises(UnknownRunError) as none:
        wb.load_run("nowhere")
    assert re.search(
        r"Other run stores nearby: '\.\./\.workbench' \(1 run\); pass store= one of them", str(none.value)
    )


def test_stores_nearby_are_only_read(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "notebooks")
    save("kept")
    below = project / "notebooks" / ".workbench" / "runs.sqlite"
    before = below.read_bytes()
    monkeypatch.chdir(project)
    with pytest.raises(UnknownRunError, match="'kept' among them"):
        wb.load_run("kept")
    assert below.read_bytes() == before and not (project / ".workbench").exists()
