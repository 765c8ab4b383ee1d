"""The circuit breaker: a provider that cannot be reached ends a run fast, as error cells that
say why, and a rerun resumes once it answers. Errors that retrying cannot fix are not retried."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.testing import JudgeServer, Reply

pytestmark = pytest.mark.usefixtures("transport")  # every test over both transports

C = wb.Criterion


class Hangup:
    """A TCP server on 127.0.0.1 that accepts and closes every connection at once, counting
    them: a provider that is there but never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture
def hangup() -> Iterator[Hangup]:
    server = Hangup()
    yield server
    server.close()


def suite() -> wb.Suite:
    return wb.Suite(
        name="s",
        tasks=[
            wb.JudgeTask(
                id="q",
                prompt="Answer: ${answer}",
                threshold=3,
                criteria=[C(name="ok", description="Correct.")],
            )
        ],
    )


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"answer": [f"answer {i}" for i in range(n)]})


def test_an_unreachable_provider_ends_ten_thousand_rows_fast(hangup: Hangup, tmp_path: Path) -> None:
    started = time.monotonic()
    run = wb.evaluate(
        frame(10_000),
        suite(),
        model="openai/judge",
        api_base=f"http://127.0.0.1:{hangup.port}/v1",
        api_key="sk-test",
        cache_dir=tmp_path / "cache",
        progress=False,
        save=False,
    )
    took = time.monotonic() - started
    r = run.results
    assert len(r) == 10_000 and (r["status"] == "error").all() and r["score"].isna().all()
    unsent = r["error"].str.startswith(
        "judge call not made: the provider is unreachable: 20 connection failures"
    )
    assert unsent.sum() > 9_900  # said why, with the count of failures in a row
    assert r.loc[~unsent, "error"].str.startswith("judge call failed after").all()
    assert run.calls["not_sent"] == int(unsent.sum()) and run.calls["errors"] == 10_000
    # no retries once open: the breaker's 20 failures, plus at most the calls already in flight
    assert hangup.connections <= 20 + 16 * 2
    assert took < 60, took  # measured about 2-4 s on a quiet 2-core machine; generous under load
    assert not list((tmp_path / "cache").glob("**/*.val"))  # nothing cached: a rerun resumes


def test_after_the_outage_a_rerun_makes_exactly_the_calls_not_made(
    judge_server_factory: Any, hangup: Hangup, tmp_path: Path
) -> None:
    df = frame(200)
    down = wb.evaluate(
        df,
        suite(),
        model="openai/judge",
        api_base=f"http://127.0.0.1:{hangup.port}/v1",
        api_key="sk-test",
        cache_dir=tmp_path / "cache",
        progress=False,
        save=False,
        backoff_s=0.0,
    )
    assert (down.results["status"] == "error").all()
    server: JudgeServer = judge_server_factory()
    up = wb.evaluate(
        df,
        suite(),
        model=server.model,
        **server.litellm_kwargs,
        cache_dir=tmp_path / "cache",
        save=False,
        progress=False,
    )
    assert up.results["status"].isin(["passed", "failed"]).all() and server.count == 200


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_errors_that_retrying_cannot_fix_are_not_retried(
    judge_server_factory: Any, tmp_path: Path, status: int
) -> None:
    server: JudgeServer = judge_server_factory(
        script=lambda body: Reply(status=status, content=f"no ({status})")
    )
    run = wb.evaluate(
        frame(5),
        suite(),
        model=server.model,
        **server.litellm_kwargs,
        cache_dir=tmp_path / "c",
        save=False,
        progress=False,
    )
    assert (run.results["status"] == "error").all() and server.count == 5  # one request per call
    assert run.results["error"].str.contains(f"no ({status})", regex=False).all()
    assert run.calls["not_sent"] == 0  # the provider answered: the breaker stays shut


def test_a_flaky_provider_does_not_open_the_breaker(judge_server_factory: Any, tmp_path: Path) -> None:
    server: JudgeServer = judge_server_factory(rate_timeout=0.3, timeout_s=0.3)
    run = wb.evaluate(
        frame(60),
        suite(),
        model=server.model,
        **server.litellm_kwargs,
        cache_dir=tmp_path / "c",
        save=False,
        progress=False,
        timeout=0.2,
        backoff_s=0.0,
        max_retries=6,
    )
    assert run.calls["not_sent"] == 0
    assert run.results["status"].isin(["passed", "failed"]).mean() > 0.95
