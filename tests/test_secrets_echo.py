"""A provider that echoes the credential in its error (a 401 quoting the key in the body and
in a header) leaks it nowhere: not in a cell, a stored byte, an exception, the CLI's output or
a report."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import workbench as wb
from workbench.testing import JudgeServer, Reply

CANARY = "sk-canary-7f3e2d1c0b9a8877"
HEADER_CANARY = "tok-header-canary-55aa66bb"

pytestmark = pytest.mark.usefixtures("transport")  # every test over both transports

C = wb.Criterion


def echo_401(_body: dict[str, Any]) -> Reply:
    return Reply(
        status=401,
        content=f"Incorrect API key provided: {CANARY}. Header was 'Authorization: Bearer {CANARY}', "
        f"X-Gateway-Token: {HEADER_CANARY}",
        headers={"WWW-Authenticate": f'Bearer realm="{CANARY}"'},
    )


def suite() -> wb.Suite:
    return wb.Suite(
        name="s",
        tasks=[
            wb.JudgeTask(
                id="q",
                prompt="Answer: ${answer}",
                criteria=[C(name="ok", description="Correct.")],
                threshold=3,
            )
        ],
    )


def frame() -> pd.DataFrame:
    return pd.DataFrame({"answer": ["four", "five", "six"]})


def stored_bytes(store: Path) -> bytes:
    files = sorted(p for p in store.rglob("*") if p.is_file())
    blob = b"".join(p.read_bytes() for p in files)
    for db in (p for p in files if p.suffix == ".sqlite"):
        con = sqlite3.connect(db)
        for (data,) in con.execute("SELECT data FROM results"):  # result blobs are compressed: open them
            table = pa.ipc.open_stream(data).read_all()
            blob += table.to_pandas().to_csv().encode()
        con.close()
    return blob


@pytest.fixture
def echoing(judge_server_factory: Any) -> JudgeServer:
    server: JudgeServer = judge_server_factory(script=echo_401)
    return server


def test_an_echoed_key_is_in_no_cell_and_no_stored_byte(echoing: JudgeServer, tmp_path: Path) -> None:
    store = tmp_path / "store"
    run = wb.evaluate(
        frame(),
        suite(),
        model=echoing.model,
        api_base=echoing.url,
        api_key=CANARY,
        extra_headers={"X-Gateway-Token": HEADER_CANARY},
        cache_dir=tmp_path / "cache",
        progress=False,
        store=store,
    )
    errors = run.results["error"]
    assert (run.results["status"] == "error").all() and errors.str.contains("[redacted]", regex=False).all()
    text = run.results.to_csv()
    assert CANARY not in text and HEADER_CANARY not in text
    assert echoing.count == 3  # a 401 is not retried: one request per call
    blob = stored_bytes(store) + stored_bytes(tmp_path / "cache")
    assert CANARY.encode() not in blob and HEADER_CANARY.encode() not in blob
    assert b"Incorrect API key provided" in blob  # the provider's message itself is kept


def test_an_echoed_key_is_not_in_the_strict_exception(echoing: JudgeServer, tmp_path: Path) -> None:
    with pytest.raises(wb.EvaluationError) as caught:
        wb.evaluate(
            frame(),
            suite(),
            model=echoing.model,
            api_base=echoing.url,
            api_key=CANARY,
            strict=True,
            save=False,
            cache_dir=tmp_path / "cache",
            progress=False,
        )
    shown = str(caught.value) + repr(caught.value) + "".join(str(a) for a in caught.value.args)
    assert "Incorrect API key" in shown and CANARY not in shown


def test_a_key_from_the_environment_echoed_is_not_in_the_cli_output(
    echoing: JudgeServer, tmp_path: Path
) -> None:
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(suite().to_yaml(), encoding="utf-8")
    data = tmp_path / "data.jsonl"
    frame().to_json(data, orient="records", lines=True)
    env = {
        **__import__("os").environ,
        "OPENAI_API_KEY": CANARY,
        "OPENAI_API_BASE": echoing.url,
        "WORKBENCH_HOME": str(tmp_path / "home"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "run", str(suite_file), str(data), "--model", echoing.model],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert "Incorrect API key" in proc.stdout + proc.stderr, proc.stdout + proc.stderr  # the provider's error
    assert CANARY not in proc.stdout + proc.stderr
    assert CANARY.encode() not in stored_bytes(tmp_path / "home")


def test_an_echoed_key_is_not_in_a_report(echoing: JudgeServer, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    from workbench.report import report

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import os, pandas as pd, workbench as wb\n"
            "suite = wb.Suite(name='s', tasks=[wb.JudgeTask(id='q', prompt='Answer: ${answer}', "
            "threshold=3,\n"
            "    criteria=[wb.Criterion(name='ok', description='Correct.')])])\n"
            f"run = wb.evaluate(pd.DataFrame({{'answer': ['four']}}), suite, model={echoing.model!r},\n"
            f"    api_base={echoing.url!r}, api_key=os.environ['WB_CANARY_KEY'], "
            "progress=False, save=False)\n"
            "run.results"
        ),
        nbformat.v4.new_code_cell("print(run.results['error'].iloc[0])"),
    ]
    path = tmp_path / "echo.ipynb"
    nbformat.write(nb, path)
    monkey = pytest.MonkeyPatch()
    monkey.setenv("WB_CANARY_KEY", CANARY)
    try:
        out = report(path, tmp_path / "echo.html", timeout=300)
    finally:
        monkey.undo()
    page = out.read_text(encoding="utf-8")
    assert "Incorrect API key" in page and CANARY not in page
    assert json.dumps(CANARY)[1:-1] not in page
