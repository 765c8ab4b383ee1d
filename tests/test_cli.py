"""The ``workbench`` command, run in-process through ``main`` and once as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.cli import main

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "datasets" / "support_suite.yaml"
DATA = ROOT / "datasets" / "support_answers.jsonl"
TASK_IDS = wb.Suite.from_yaml(SUITE).task_ids


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- the real datasets ---------------------------------------------------------------------


def test_run_prints_a_row_per_task(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "run", SUITE, DATA)
    assert code == 0, err
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split() == [
        "task",
        "n",
        "pass",
        "rate",
        "[95%",
        "CI]",
        "passed",
        "failed",
        "errors",
        "skipped",
    ]
    assert [line.split()[0] for line in table[2:]] == TASK_IDS


def test_run_prints_the_run_line(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "run", SUITE, DATA)
    assert "Run(suite 'support-answers' version 'v1', 55 rows, 550 cells:" in out


def test_pass_rates_come_with_intervals(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "run", SUITE, DATA)
    is_json = next(line for line in out.splitlines() if line.startswith("is_json "))
    assert is_json.split() == ["is_json", "55", "85%", "[74%-92%]", "47", "8", "0", "0"]


def test_failures_are_capped_at_ten(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "run", SUITE, DATA)
    listing = out.split("Failures and errors")[1].splitlines()
    shown = [line for line in listing[1:] if line.startswith("  s")]
    assert len(shown) == 10
    assert listing[11].strip().startswith("... 24 more")


def test_failures_show_errors_and_every_failing_task_first(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "run", SUITE, DATA)
    listing = out.split("Failures and errors")[1].splitlines()[1:11]
    assert [line.split()[1] for line in listing] == TASK_IDS
    confidence = listing[TASK_IDS.index("confidence_range")]
    assert confidence.split()[:3] == ["s053", "confidence_range", "error"]
    assert "has no key 'confidence'" in confidence


def test_rows_takes_the_first_n(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", SUITE, DATA, "--rows", "5")
    assert code == 0
    assert "(5 rows)" in out and ", 5 rows, 50 cells" in out


def test_rows_takes_ids(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "r.csv"
    code, _, _ = run_cli(capsys, "run", SUITE, DATA, "--rows", "s007,s031", "--output", out_file)
    assert code == 0
    assert sorted(set(pd.read_csv(out_file)["row"])) == ["s007", "s031"]


def test_rows_with_an_unknown_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "run", SUITE, DATA, "--rows", "s001,s999")
    assert code == 2 and out == ""
    assert "--rows names 1 id(s) not in the dataset: ['s999']" in err


@pytest.mark.parametrize("ext", [".csv", ".parquet", ".jsonl"])
def test_output_writes_the_results(capsys: pytest.CaptureFixture[str], tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"results{ext}"
    code, out, _ = run_cli(capsys, "run", SUITE, DATA, "-o", path)
    assert code == 0 and f"Wrote 550 result rows to {path}" in out
    back = {
        ".csv": pd.read_csv,
        ".parquet": pd.read_parquet,
        ".jsonl": lambda p: pd.read_json(p, lines=True),
    }[ext](path)
    assert list(back.columns) == list(wb.RESULT_COLUMNS)
    assert len(back) == 550


def test_output_with_an_unknown_extension_fails_before_running(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(capsys, "run", SUITE, DATA, "-o", tmp_path / "r.xlsx")
    assert code == 2 and out == ""
    assert "expected a .csv, .parquet, .jsonl file, got '.xlsx'" in err


def test_output_into_a_missing_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "run", SUITE, DATA, "-o", tmp_path / "no" / "r.csv")
    assert code == 2 and "does not exist" in err


def test_strict_stops_at_the_first_error_cell(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "run", SUITE, DATA, "--strict")
    assert code == 1 and out == ""
    assert "task 'confidence_range' errored at row 's053'" in err
    assert "Traceback" not in err


def test_a_json_suite(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    suite = write(tmp_path / "s.json", wb.Suite.from_yaml(SUITE).to_json())
    code, out, _ = run_cli(capsys, "run", suite, DATA)
    assert code == 0 and "close_to_reference" in out


def test_as_a_process() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "run",
            "datasets/support_suite.yaml",
            "datasets/support_answers.jsonl",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert all(f"\n{tid} " in proc.stdout for tid in TASK_IDS)
    assert proc.stderr == ""


# --- bad input: exit code 2, a message, no traceback -------------------------------------------


def test_broken_yaml(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    suite = write(tmp_path / "s.yaml", "name: x\ntasks:\n  - id: a\n    path: response\n   op: is_json\n")
    code, out, err = run_cli(capsys, "run", suite, DATA)
    assert code == 2 and out == ""
    assert err.startswith(f"workbench: error: file '{suite}' is not valid YAML at line 5")
    assert "Traceback" not in err


def test_invalid_suite_lists_its_problems(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    suite = write(tmp_path / "s.yaml", "name: x\ntasks:\n  - id: a\n    path: response\n    op: is_jsn\n")
    code, _, err = run_cli(capsys, "run", suite, DATA)
    assert code == 2
    assert "unknown operator 'is_jsn'; did you mean 'is_json'?" in err


def test_missing_suite_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "run", "nope.yaml", DATA)
    assert code == 2
    assert err == f"workbench: error: suite 'nope.yaml' does not exist (current directory: {tmp_path})\n"


def test_missing_data_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "run", SUITE, tmp_path / "nope.jsonl")
    assert code == 2 and "does not exist (current directory:" in err


def test_suite_with_an_unknown_extension(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    suite = write(tmp_path / "s.txt", "name: x\n")
    code, _, err = run_cli(capsys, "run", suite, DATA)
    assert code == 2 and "expected a .yaml, .yml, .json file, got '.txt'" in err


def test_a_ported_scouter_suite_runs_with_a_warning_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    suite = write(
        tmp_path / "s.yaml",
        "name: ported\ntasks:\n  - {id: mail, path: response, op: IsEmail, expected: true}\n",
    )
    code, out, err = run_cli(capsys, "run", suite, DATA, "--rows", "3", "--no-save")
    assert code == 0
    assert err == (
        "workbench: warning: task 'mail' (line 3): operator 'is_email' takes no expected value, so "
        "expected=True is ignored (Scouter's suites write expected_value: true for unary operators); "
        "remove 'expected' to silence this warning\n"
    )
    assert out.startswith(f"Suite 'ported' version '1' (1 task) on {DATA} (3 rows)\n")


def test_an_alias_bomb_suite_exits_2_quickly(tmp_path: Path) -> None:
    from tests.test_suite_files import alias_bomb

    suite = write(tmp_path / "bomb.yaml", alias_bomb())
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "run", str(suite), str(DATA), "--no-save"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,  # it spun past 60 s before aliases were bounded
    )
    assert time.perf_counter() - start < 30  # most of it is starting Python and importing pandas
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"workbench: error: file '{suite}' is refused: its YAML aliases make its ")
    assert "Traceback" not in proc.stderr


def test_a_suite_nested_too_deeply_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    suite = write(tmp_path / "deep.json", '{"name": "s", "tasks": ' + "[" * 100_000 + "]" * 100_000 + "}")
    code, _, err = run_cli(capsys, "run", suite, DATA)
    assert code == 2 and err.startswith(
        f"workbench: error: file '{suite}' is nested too deeply to read as JSON"
    )


def test_suite_naming_a_missing_column(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    suite = write(tmp_path / "s.yaml", "name: x\ntasks:\n  - id: a\n    path: answer_text\n    op: is_json\n")
    code, out, err = run_cli(capsys, "run", suite, DATA)
    assert code == 2 and out == ""
    assert "path 'answer_text' starts with 'answer_text', which is neither a column nor a task" in err
    assert "Traceback" not in err


def test_malformed_data_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = write(tmp_path / "d.jsonl", '{"id": "a", "response": "{}"}\n{"id": "b", "response": \n')
    code, _, err = run_cli(capsys, "run", SUITE, data)
    assert code == 2 and "line 2 is not valid JSON" in err


def test_judge_tasks_without_a_model_are_bad_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    suite = wb.Suite(
        name="j",
        tasks=[
            wb.JudgeTask(
                id="q", prompt="${question}", criteria=[wb.Criterion(name="ok", description="Is it ok?")]
            )
        ],
    )
    code, _, err = run_cli(capsys, "run", write(tmp_path / "s.yaml", suite.to_yaml()), DATA)
    assert code == 2 and "need a model" in err and "Nothing was run" in err


def test_judge_tasks_run_with_a_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.testing import JudgeServer

    suite = wb.Suite(
        name="j",
        tasks=[
            wb.JudgeTask(
                id="q",
                prompt="${question}",
                threshold=3,
                criteria=[wb.Criterion(name="ok", description="Is it ok?")],
            )
        ],
    )
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    with JudgeServer() as server:
        monkeypatch.setenv("OPENAI_API_BASE", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", server.litellm_kwargs["api_key"])
        code, out, err = run_cli(
            capsys,
            "run",
            write(tmp_path / "s.yaml", suite.to_yaml()),
            DATA,
            "--model",
            server.model,
            "--rows",
            "5",
        )
        assert code == 0, err
        assert server.count == 5
        assert "q.ok" in out and "mean score" in out
        assert "Judge calls: 5 (0 from the cache, 0 failed); spent unknown" in out


# --- the command line itself -------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out == f"workbench {wb.__version__}\n"


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys)
    assert code == 2 and "usage: workbench" in err


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    assert all(c in out for c in ("run", "runs", "compare", "report", "lab"))


@pytest.mark.parametrize("argv", [[], ["run"], ["runs"], ["compare"], ["report"], ["lab"]], ids=str)
def test_help_texts_print_percent_signs_once(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, _ = run_cli(capsys, *argv, "--help")
    assert code == 0 and out.startswith("usage: workbench")
    assert "%%" not in out


@pytest.mark.parametrize("command", ["run", "compare"])
def test_help_says_95_percent(capsys: pytest.CaptureFixture[str], command: str) -> None:
    _, out, _ = run_cli(capsys, command, "--help")
    assert "95% interval" in " ".join(out.split())


def test_lab_runs_jupyterlab_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.cli._lab import lab_args

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_quickstart.ipynb").write_text("{}", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    cmd = lab_args(None, ["--", "--no-browser"])
    assert cmd[1:3] == ["-m", "jupyterlab"] and cmd[-1] == "--no-browser"
    assert "--LabApp.default_url=/lab/tree/notebooks/01_quickstart.ipynb" in cmd
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in cmd
    assert "--ServerApp.ip=127.0.0.1" in cmd and "--LabApp.news_url=None" in cmd
    assert main(["lab", "missing.ipynb"]) == 2
    from workbench.cli import _parser

    for argv in (["lab", "--", "--no-browser", "--port", "8899"], ["lab", "notebooks", "--", "--no-browser"]):
        args = _parser().parse_args(argv)
        cmd = lab_args(args.notebook, args.extra)
        assert (
            "--no-browser" in cmd
            and "--" not in cmd
            and cmd.index("--no-browser") > cmd.index("--LabApp.news_url=None")
        )
        assert any(a.startswith("--ServerApp.root_dir=") for a in cmd)


def test_unicode_answers_print(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    row = json.dumps({"id": "ja", "response": "富士山 🗻"}, ensure_ascii=False)
    data = write(tmp_path / "d.jsonl", row + "\n")
    suite = write(tmp_path / "s.yaml", "name: x\ntasks:\n  - id: j\n    path: response\n    op: is_json\n")
    code, out, _ = run_cli(capsys, "run", suite, data)
    assert code == 0 and "is not valid JSON: '富士山 🗻'" in out


def test_runs_and_compare_read_the_store(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    store = tmp_path / "store"
    code, out, _ = run_cli(capsys, "runs", "--store", store)
    assert code == 0 and "No runs saved" in out
    assert run_cli(capsys, "run", SUITE, DATA, "--label", "all rows", "--store", store)[0] == 0
    data = tmp_path / "changed.jsonl"
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    for r in rows:
        r["latency_ms"] = 5000  # every row now fails `fast`
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "run", SUITE, data, "--label", "slow", "--store", store)
    assert code == 0 and "Saved as run" in out
    code, out, _ = run_cli(capsys, "runs", "--store", store)
    lines = out.splitlines()
    assert code == 0 and "slow" in lines[2] and "all rows" in lines[3] and "2 runs in" in out
    code, out, _ = run_cli(capsys, "compare", "all rows", "slow", "--store", store)
    assert code == 0 and "fast (pass_rate)" in out and "pass to fail" in out
    code, out, _ = run_cli(capsys, "compare", "all rows", "slow", "--store", store, "--fail-on-regression")
    assert code == 1 and "significant regression" in out and "fast" in out.splitlines()[-1]
    code, _, err = run_cli(capsys, "compare", "all rows", "nope", "--store", store)
    assert code == 2 and "nope" in err


def test_report_help_comes_from_its_own_parser(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "report", "--help")
    assert code == 0 and "usage: workbench report" in out and "--timeout" in out


VERDICT = "Fails: the answer promises a 30-day refund window; the policy grants 14 days"
"""The head of a judge's long reason: what `workbench compare` must keep when it cuts."""

POLICY = "Refunds are granted within 14 days of purchase and reach the card within ten business days."
LONG_ANSWER = (
    "Yes, refunds are possible within 30 days of purchase, and the money reaches your card "
    "within five business days of the request."
)


def saved_versions(store: Path, cache: Path) -> tuple[wb.Run, wb.Run]:
    """Two runs saved as 'before' and 'after'. In 'after' the first answer drifts from the
    policy: `close` fails with a reason that holds both texts already cut by the operator,
    and the judge fails it with a reason of 400 characters that leads with its verdict."""
    from workbench.testing import JudgeServer

    judge = wb.JudgeTask(
        id="judge",
        prompt="Answer: ${answer}",
        threshold=3,
        criteria=[wb.Criterion(name="policy", description="Matches the refund policy.")],
    )
    close = wb.AssertionTask(id="close", path="answer", op="similarity_gte", expected=["${policy}", 0.6])
    suite = wb.Suite(name="refunds", tasks=[close, judge])

    def script(body: dict[str, Any]) -> str:
        user = str(body["messages"][-1]["content"])
        if LONG_ANSWER in user:
            reason = VERDICT + "; " + " ".join(["the rest of the policy is quoted correctly."] * 8)
            return json.dumps({"policy": {"reason": reason, "score": 1}})
        return json.dumps({"policy": {"reason": "Passes: matches the policy", "score": 5}})

    versions = []
    with JudgeServer(script=script) as server:
        for label, answer in (("before", POLICY), ("after", LONG_ANSWER)):
            df = pd.DataFrame({"answer": [answer, POLICY], "policy": POLICY})
            options = {"model": server.model, **server.litellm_kwargs, "cache_dir": cache}
            versions.append(wb.evaluate(df, suite, label=label, store=store, progress=False, **options))
    return versions[0], versions[1]


def test_compare_shows_a_cut_reason_whole_and_cuts_a_long_one_once_at_its_tail(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, after = saved_versions(tmp_path / "store", tmp_path / "cache")
    code, out, err = run_cli(capsys, "compare", "before", "after", "--store", tmp_path / "store")
    assert code == 0, err
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("0 ")}
    reasons = after.results[after.results["row"] == 0].set_index("task")["reason"]

    cut_by_the_operator = reasons["close"]
    assert cut_by_the_operator.count("[... ") == 2 and len(cut_by_the_operator) > 100
    assert lines["close"].endswith("pass to fail  " + cut_by_the_operator)  # the similarity included

    judged = reasons["judge"]
    assert judged.startswith(VERDICT) and len(judged) > 400
    shown = lines["judge.policy"].split("pass to fail  ")[1]
    head, marker = shown.split(" [... ")
    assert head.startswith(VERDICT) and judged.startswith(head)
    assert marker == f"{len(judged) - len(head)} chars]" and len(shown) <= 100
