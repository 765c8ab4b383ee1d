"""The shared judge cache in Redis: same keys and entries as the disk cache, written as each
verdict arrives, warm reruns from any process, and a failing Redis that never costs a run.

Each test module starts Debian's ``redis-server`` on 127.0.0.1 (a free port, no persistence)
and stops it by its PID; without the binary or the ``redis`` package the tests say so and skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.errors import CacheError, CacheWarning
from workbench.llm import KEY_PREFIX, DiskCache, forget_in_process, forget_redis_in_process
from workbench.testing import JudgeServer

C = wb.Criterion


class RedisServer:
    """``redis-server`` on 127.0.0.1 at a free port, in memory only, stopped by its PID."""

    def __init__(self, *args: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.folder = tempfile.mkdtemp(prefix="workbench-redis-")
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", self.folder, *args),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on 127.0.0.1:{self.port}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, password: str | None = None) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=0, password=password)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def redis_available() -> str | None:
    """Why Redis tests cannot run here, or None."""
    if shutil.which("redis-server") is None:
        return "Debian's redis-server is not installed (apt-get install redis-server)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "the redis package is not installed (pip install 'workbench[redis]')"
    return None


needs_redis = pytest.mark.skipif(redis_available() is not None, reason=str(redis_available()))
pytestmark = needs_redis


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The module's Redis, emptied, with no entry remembered in this process."""
    redis_server.client().flushall()
    forget_redis_in_process()
    forget_in_process()
    yield redis_server.url
    forget_redis_in_process()


def rows(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"question": [f"What is {i} + {i}?" for i in range(n)], "answer": [f"{2 * i}" for i in range(n)]}
    )


SUITE = wb.Suite(
    name="s",
    tasks=[
        wb.JudgeTask(
            id="quality",
            prompt="Question: ${question}\nAnswer: ${answer}",
            threshold=3,
            criteria=[C(name="accuracy", description="Correct."), C(name="clarity", description="Clear.")],
        )
    ],
)


def go(df: pd.DataFrame, server: JudgeServer, **kw: Any) -> wb.Run:
    opts: dict[str, Any] = {"progress": False, "backoff_s": 0.0, "save": False, **server.litellm_kwargs, **kw}
    return wb.evaluate(df, SUITE, model=server.model, **opts)


def stored(server: RedisServer) -> dict[str, bytes]:
    client = server.client()
    return {k.decode(): client.get(k) for k in client.scan_iter(KEY_PREFIX + "*")}


def test_verdicts_go_to_redis_and_a_rerun_from_another_process_makes_no_request(
    judge_server: JudgeServer, redis_server: RedisServer, redis_url: str, tmp_path: Path
) -> None:
    first = go(rows(30), judge_server, cache=redis_url)
    assert judge_server.count == 30 and not first.results["cached"].any()
    assert len(stored(redis_server)) == 30
    assert not (tmp_path / "cache").exists() and not wb.store.home().joinpath("cache").exists()

    judge_server.reset()
    script = textwrap.dedent(
        f"""
        import pandas as pd, workbench as wb
        from tests.test_redis_cache import SUITE, rows
        run = wb.evaluate(rows(30), SUITE, model={judge_server.model!r}, api_base={judge_server.url!r},
                          api_key="sk-test", cache={redis_url!r}, progress=False, save=False)
        print(int(run.results["cached"].sum()))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["60"] and judge_server.count == 0


def test_the_environment_variable_names_the_cache_for_every_run(
    judge_server: JudgeServer, redis_server: RedisServer, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_URL", redis_url)
    go(rows(5), judge_server)
    assert len(stored(redis_server)) == 5
    assert wb.JudgeConfig().cache == redis_url


def test_same_keys_and_entries_as_the_disk_cache_and_no_credentials(
    judge_server: JudgeServer, redis_server: RedisServer, redis_url: str, tmp_path: Path
) -> None:
    secret = "sk-very-secret-key-123456"
    go(rows(8), judge_server, cache=redis_url, api_key=secret, extra_headers={"X-Token": "hdr-secret-99"})
    go(rows(8), judge_server, cache_dir=tmp_path / "disk", api_key=secret)
    disk = DiskCache(tmp_path / "disk")
    try:
        import diskcache

        with diskcache.Cache(str(tmp_path / "disk")) as raw:
            disk_keys = set(raw.iterkeys())
        in_redis = stored(redis_server)
        assert {k.removeprefix(KEY_PREFIX) for k in in_redis} == disk_keys
        for key, value in in_redis.items():
            entry = disk.get(key.removeprefix(KEY_PREFIX))
            assert entry is not None
            import orjson

            shared = orjson.loads(value)
            assert {k: v for k, v in shared.items() if k != "created"} == {
                k: v for k, v in entry.items() if k != "created"
            }
            assert secret.encode() not in value and b"hdr-secret-99" not in value
            assert judge_server.url.encode() not in value
    finally:
        disk.close()


def test_an_unreachable_redis_is_an_error_before_anything_is_spent(judge_server: JudgeServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CacheError, match=rf"redis://127.0.0.1:{port}/0 cannot be reached.*use_cache=False"):
        go(rows(3), judge_server, cache=f"redis://127.0.0.1:{port}/0")
    assert judge_server.count == 0


def test_redis_dying_mid_run_warns_once_and_keeps_every_verdict(judge_server_factory: Any) -> None:
    server = RedisServer()
    seen = []

    def script(body: dict[str, Any]) -> None:
        seen.append(1)
        if len(seen) == 10:  # the 10th request: Redis goes away for the rest of the run
            server.stop()

    judge = judge_server_factory(script=script)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = go(rows(40), judge, cache=server.url, concurrency=1)
    finally:
        server.stop()
    assert run.results["status"].isin(["passed", "failed"]).all() and judge.count == 40
    cache_warnings = [w for w in caught if issubclass(w.category, CacheWarning)]
    assert len(cache_warnings) == 1
    assert f"{server.url} stopped answering" in str(cache_warnings[0].message)


def test_a_redis_that_refuses_writes_still_serves_what_it_holds(
    judge_server: JudgeServer, redis_server: RedisServer, redis_url: str
) -> None:
    go(rows(10), judge_server, cache=redis_url)
    client = redis_server.client()
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1")
    forget_redis_in_process()
    judge_server.reset()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = go(rows(20), judge_server, cache=redis_url)
    finally:
        client.config_set("maxmemory", "0")
    assert judge_server.count == 10  # the first ten were served from Redis
    assert int(run.results["cached"].sum()) == 20  # two criteria per joint call
    messages = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
    assert len(messages) == 1 and "refused a write" in messages[0] and "maxmemory" in messages[0]
    assert len(stored(redis_server)) == 10


def test_the_password_comes_from_the_environment_never_the_url(
    judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = RedisServer("--requirepass", "redis-pass-123456")
    try:
        with pytest.raises(wb.ConfigError, match="WORKBENCH_CACHE_PASSWORD"):
            wb.JudgeConfig(cache=f"redis://:redis-pass-123456@127.0.0.1:{server.port}/0")
        monkeypatch.setenv("WORKBENCH_CACHE_PASSWORD", "wrong-password-0")
        with pytest.raises(CacheError, match="refused the password") as e:
            go(rows(2), judge_server, cache=server.url)
        assert "wrong-password-0" not in str(e.value)
        monkeypatch.setenv("WORKBENCH_CACHE_PASSWORD", "redis-pass-123456")
        run = go(rows(2), judge_server, cache=server.url, save=True)
        assert judge_server.count == 2 and len(list(server.client("redis-pass-123456").scan_iter())) == 2
        assert wb.load_run(run.id).params["cache"] == server.url
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:6379/0", "a shared cache is a Redis URL"),
        ("redis:///0", "names no host"),
        ("redis://127.0.0.1:6379/main", "database 'main' is not a number"),
        ("redis://127.0.0.1:port/0", "cannot be read as a URL"),
    ],
    ids=["scheme", "host", "database", "port"],
)
def test_a_cache_url_that_is_not_one_is_a_config_error(url: str, problem: str) -> None:
    with pytest.raises(wb.ConfigError, match=problem):
        wb.JudgeConfig.build(model="openai/m", cache=url)


def test_without_the_redis_package_the_error_names_the_install(
    judge_server: JudgeServer, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # what `import redis` meets when it is not installed
    with pytest.raises(wb.MissingDependencyError, match=r"pip install 'workbench\[redis\]'"):
        go(rows(1), judge_server, cache=redis_url)
    assert judge_server.count == 0


def test_the_disk_cache_stays_the_default(judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_CACHE_URL", raising=False)
    assert wb.JudgeConfig().cache is None
    go(rows(2), judge_server)
    assert wb.store.home().joinpath("cache", "cache.db").exists()
