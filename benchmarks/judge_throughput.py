"""Benchmark: judge-call throughput and warm-cache reruns, workbench vs raw litellm.

Everything runs against workbench's own fake judge server, started in its own process
(``python -m workbench.testing --port P --latency-ms L`` on 127.0.0.1) and stopped by PID
at the end, so its CPU stays off the client's GIL. Every measured side runs in a fresh
child interpreter (this script with ``--child ...``), so imports and state never leak from
one side into the other; the median over ``--reps`` is reported.

Parts (``--parts``, comma-separated):

* ``throughput``: N rows, concurrency C, server latency L, for every ``--configs`` entry
  (default ``400x16,2000x64``):
    - ``workbench``: ``wb.evaluate`` of a suite with one joint JudgeTask (3 criteria,
      integer 1-5 scale), caching off (``use_cache=False``);
    - ``litellm``: ``litellm.acompletion`` + ``asyncio.Semaphore(C)`` with the same model,
      the same messages (``workbench.judge.build_messages``) and the same
      ``response_format`` (``workbench.judge.response_format``), so the server sees
      byte-identical request contents.
  Reported: wall time of the evaluation only, ideal ``N*L/C``, ratio to ideal, client CPU
  seconds during the evaluation (``time.process_time``) and per call, whole-child CPU
  (imports included), the server's CPU, requests the server saw and its max in-flight.
* ``warm``: 10,000 rows x 5 criteria (``--warm-n``, ``--warm-criteria``) against a second
  server with ``--warm-latency-ms`` (default 0): a cold pass fills a fresh cache dir, then
  ``--reps`` warm reruns, each in a fresh child (first ``evaluate`` of the process, so lazy
  imports and opening the cache count) plus a second ``evaluate`` in the same process.
  Warm passes must make 0 requests. Modes: ``--warm-modes joint,per_criterion``.
* ``litellm_cache``: litellm's own disk cache (``litellm.cache = Cache(type="disk")``):
  a cold pass of ``--litellm-cache-n`` calls, then a timed warm pass; ms per hit. litellm
  1.106.2 imports fastapi on a cache hit, so this child runs with
  ``--litellm-cache-python`` (a venv that has fastapi; skipped when none is found).

* ``settings`` (not in the default ``--parts``): at ``--settings-config`` (2000x64), every
  variant of ``SETTINGS`` interleaved over ``--reps`` rounds: litellm flags, a priced vs an
  unpriced model, litellm's other OpenAI-compatible routes, the OpenAI SDK alone and a bare
  aiohttp POST (the floor); CPU ms per call and the change against workbench on a priced model.
  ``--sides`` picks the throughput part's sides: by default ``workbench`` (``transport="auto"``,
  which takes the lean path for this OpenAI-compatible server), ``workbench_litellm``
  (``transport="litellm"``), ``litellm``, ``openai_sdk`` and ``aiohttp``; also ``lean``
  (workbench's lean transport, ``LeanClient``, driven as the engine drives it: semaphore,
  ``build_body``, ``chat``, verdict parsed) and ``lean_priced`` (the same, each reply priced
  by ``litellm.cost_per_token``); ``aiohttp`` is one bare POST per call: the floor.

Extra knobs for profiling: ``--profile DIR`` writes a cProfile of every timed section
(``<side>.n<N>_c<C>.rep<R>.prof``); ``--tweaks a,b`` applies named litellm settings in
the children (see ``TWEAKS``) to measure what they save.

Usage:
    .venv/bin/python benchmarks/judge_throughput.py                       # everything, 3 reps
    .venv/bin/python benchmarks/judge_throughput.py --parts throughput --configs 400x16 --reps 5
    .venv/bin/python benchmarks/judge_throughput.py --parts warm --warm-modes joint
    .venv/bin/python benchmarks/judge_throughput.py --json benchmarks/out/judge_throughput.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MODEL = "openai/workbench-judge"
API_KEY = "sk-workbench-test"

_STORE_HOME = tempfile.mkdtemp(prefix="wb-bench-home-")
"""The children's run store: evaluate saves every run by default, as a user's would."""

CHILD_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no cost-map fetch at import
    "LITELLM_TELEMETRY": "False",
    "TQDM_DISABLE": "1",
    "PYTHONWARNINGS": "ignore",
    "NO_PROXY": "127.0.0.1,localhost",
}

# ---------------------------------------------------------------------------------------
# data and suite (deterministic)
# ---------------------------------------------------------------------------------------

_TOPICS = [
    "photosynthesis",
    "the French revolution",
    "TCP congestion control",
    "binary search",
    "the water cycle",
    "compound interest",
    "plate tectonics",
    "vaccination",
    "the Pythagorean theorem",
    "supply and demand",
    "garbage collection",
    "black holes",
]

CRITERIA = [
    ("accuracy", "The answer is factually consistent with the reference answer."),
    ("completeness", "The answer covers every fact of the reference answer."),
    ("clarity", "The answer is clear and well organised."),
    ("relevance", "The answer addresses the question that was asked."),
    ("concision", "The answer has no filler or repetition."),
]

PROMPT = "Question:\n${question}\n\nAnswer:\n${answer}\n\nReference answer:\n${reference}"


def make_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topic = _TOPICS[i % len(_TOPICS)]
        ref = " ".join(
            f"{topic.capitalize()} fact {j}: it follows rule {rng.randint(1, 99)}."
            for j in range(rng.randint(2, 6))
        )
        out = ref if rng.random() < 0.6 else ref.replace("rule", "exception to rule", 1)
        rows.append(
            {
                "id": f"row-{i}",
                "question": (
                    f"Q{i}: In two to six sentences, explain {topic} (variant {rng.randint(1, 10**6)})."
                ),
                "answer": f"Answer: {out}",
                "reference": ref,
            }
        )
    return rows


def make_suite(n_criteria: int, mode: str = "joint") -> Any:
    import workbench as wb

    task = wb.JudgeTask(
        id="quality",
        prompt=PROMPT,
        mode=mode,
        scale=(1, 5),
        threshold=4,
        criteria=[wb.Criterion(name=n, description=d) for n, d in CRITERIA[:n_criteria]],
    )
    return wb.Suite(name="bench", tasks=[task])


# ---------------------------------------------------------------------------------------
# litellm settings that may remove per-call work (measured with --tweaks)
# ---------------------------------------------------------------------------------------


def _tweak_no_message_logging(litellm: Any) -> None:
    litellm.turn_off_message_logging = True


def _tweak_no_callbacks(litellm: Any) -> None:
    for name in (
        "callbacks",
        "success_callback",
        "failure_callback",
        "_async_success_callback",
        "_async_failure_callback",
        "service_callback",
        "input_callback",
    ):
        if isinstance(getattr(litellm, name, None), list):
            setattr(litellm, name, [])


def _tweak_no_token_counter(litellm: Any) -> None:
    litellm.disable_token_counter = True


def _tweak_httpx(litellm: Any) -> None:
    litellm.disable_aiohttp_transport = True


def _tweak_no_cost(litellm: Any) -> None:
    # not a setting: litellm prices every response (Logging.response_cost_calculator, called from
    # the call path and again by the success handler); stubbing it out measures what that costs
    from litellm.litellm_core_utils import litellm_logging

    litellm_logging.Logging.response_cost_calculator = lambda self, *a, **kw: None  # type: ignore[method-assign]
    litellm_logging.Logging._record_zero_cost_diagnostic = lambda self, *a, **kw: None  # type: ignore[method-assign]


def _tweak_skip_success_logging(litellm: Any) -> None:
    # not a public setting: litellm skips scheduling its async success-logging task (standard
    # logging payload, second cost pass) for calls it marks internal through this ContextVar
    from litellm._internal_context import is_internal_call

    is_internal_call.set(True)


TWEAKS = {
    "no_message_logging": _tweak_no_message_logging,
    "no_callbacks": _tweak_no_callbacks,
    "no_token_counter": _tweak_no_token_counter,
    "httpx": _tweak_httpx,
    "no_cost": _tweak_no_cost,
    "skip_success_logging": _tweak_skip_success_logging,
    "no_response_format": lambda litellm: None,  # raw litellm side only: send no response_format
}


def apply_tweaks(names: str) -> list[str]:
    applied = []
    if not names:
        return applied
    import litellm

    for name in names.split(","):
        name = name.strip()
        if name:
            TWEAKS[name](litellm)
            applied.append(name)
    return applied


# ---------------------------------------------------------------------------------------
# children
# ---------------------------------------------------------------------------------------


class _Profiler:
    """cProfile of one timed section when ``path`` is set; a no-op otherwise."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.prof = None

    def __enter__(self) -> _Profiler:
        if self.path:
            import cProfile

            self.prof = cProfile.Profile()
            self.prof.enable()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.prof is not None:
            self.prof.disable()
            self.prof.dump_stats(self.path)


class _PySpy:
    """py-spy sampling this very process (all threads; only samples holding the GIL) while the section runs,
    writing collapsed stacks to ``path``; a no-op when ``path`` is unset."""

    def __init__(self, path: str | None, binary: str | None, rate: int = 250) -> None:
        self.path, self.binary, self.rate, self.proc = path, binary, rate, None

    def __enter__(self) -> _PySpy:
        if self.path:
            import signal  # noqa: F401

            self.proc = subprocess.Popen(
                [
                    self.binary or "py-spy",
                    "record",
                    "--pid",
                    str(os.getpid()),
                    "--rate",
                    str(self.rate),
                    "--format",
                    "raw",
                    "--threads",
                    "--gil",
                    "--output",
                    self.path,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            time.sleep(1.0)  # let it attach before the section starts
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            import signal

            self.proc.send_signal(signal.SIGINT)  # our own py-spy, by PID: it writes the file and exits
            self.proc.wait(60)


def _timed(
    fn: Any, profile: str | None = None, pyspy: str | None = None, pyspy_bin: str | None = None
) -> tuple[Any, float, float]:
    with _PySpy(pyspy, pyspy_bin):
        cpu0, t0 = time.process_time(), time.perf_counter()
        with _Profiler(profile):
            out = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return out, wall, cpu


def _frame(rows: list[dict[str, str]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows).set_index("id")


def _cells_ok(run: Any) -> int:
    return int(run.results["score"].notna().sum())


def child_workbench(a: argparse.Namespace, transport: str = "auto") -> dict[str, Any]:
    t = time.perf_counter()
    import workbench as wb

    if not a.lazy_import:  # import litellm as setup, as the raw side does; workbench imports it lazily
        import litellm  # noqa: F401
    tweaks = apply_tweaks(a.tweaks)
    df = _frame(make_rows(a.n))
    suite = make_suite(a.criteria, a.mode)
    setup_s = time.perf_counter() - t
    kw = {
        "model": a.model,
        "api_base": a.base_url,
        "api_key": API_KEY,
        "concurrency": a.c,
        "progress": False,
        "transport": transport,
    }
    if a.cache_dir:
        kw.update(use_cache=True, cache_dir=a.cache_dir)
    else:
        kw.update(use_cache=False)
    run, wall, cpu = _timed(lambda: wb.evaluate(df, suite, **kw), a.profile, a.pyspy, a.pyspy_bin)
    out = {
        "wall_s": wall,
        "cpu_s": cpu,
        "cells_ok": _cells_ok(run),
        "cells": a.n * a.criteria,
        "setup_s": setup_s,
        "calls": run.calls,
        "tweaks": tweaks,
        "litellm_imported": "litellm" in sys.modules,
    }
    if a.second:  # a second run in the same (now warm) process
        run2, wall2, cpu2 = _timed(lambda: wb.evaluate(df, suite, **kw))
        out.update(wall2_s=wall2, cpu2_s=cpu2, cells_ok2=_cells_ok(run2))
    return out


def _requests(a: argparse.Namespace, rows: list[dict[str, str]]) -> tuple[list[Any], dict[str, Any]]:
    from workbench import judge

    suite = make_suite(a.criteria, a.mode)
    task = suite.tasks[0]
    messages = [judge.build_messages(task, task.criteria, r.__getitem__, max_field_chars=8000) for r in rows]
    return messages, judge.response_format(task, task.criteria)


def _ok(text: str | None, names: list[str]) -> bool:
    try:
        d = json.loads(text or "")
        return all(isinstance(d[k]["score"], int) for k in names)
    except Exception:
        return False


async def _litellm_pass(a: argparse.Namespace, messages: list[Any], rf: dict[str, Any], caching: bool) -> int:
    import litellm

    sem = asyncio.Semaphore(a.c)
    names = [n for n, _ in CRITERIA[: a.criteria]]

    async def one(m: list[dict[str, str]]) -> bool:
        async with sem:
            kw: dict[str, Any] = {"caching": True} if caching else {}
            if rf is not None:
                kw["response_format"] = rf
            resp = await litellm.acompletion(
                model=a.model, api_base=a.base_url, api_key=API_KEY, messages=m, temperature=0, **kw
            )
            return (
                _ok(resp.choices[0].message.content, names)
                if rf is not None
                else bool(resp.choices[0].message.content)
            )

    res = await asyncio.gather(*(one(m) for m in messages), return_exceptions=True)
    errors = [r for r in res if isinstance(r, BaseException)]
    if errors:
        print(f"litellm errors: {len(errors)}; first: {errors[0]!r}"[:500], file=sys.stderr)
    return sum(1 for r in res if r is True)


def child_litellm(a: argparse.Namespace) -> dict[str, Any]:
    t = time.perf_counter()
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    tweaks = apply_tweaks(a.tweaks)
    messages, rf = _requests(a, make_rows(a.n))
    if "no_response_format" in tweaks:
        rf = None
    setup_s = time.perf_counter() - t
    ok, wall, cpu = _timed(
        lambda: asyncio.run(_litellm_pass(a, messages, rf, caching=False)), a.profile, a.pyspy, a.pyspy_bin
    )
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "cells_ok": ok * a.criteria,
        "cells": a.n * a.criteria,
        "setup_s": setup_s,
        "tweaks": tweaks,
    }


def child_litellm_cache(a: argparse.Namespace) -> dict[str, Any]:
    import litellm
    from litellm.caching.caching import Cache

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    tmp = tempfile.mkdtemp(prefix="wb-bench-litellm-cache-")
    litellm.cache = Cache(type="disk", disk_cache_dir=tmp)
    messages, rf = _requests(a, make_rows(a.n))
    try:
        ok_cold, cold, _ = _timed(lambda: asyncio.run(_litellm_pass(a, messages, rf, caching=True)))
        time.sleep(1.0)  # litellm writes the cache from background tasks
        before = _stats(a.port)["requests"]
        ok, wall, cpu = _timed(lambda: asyncio.run(_litellm_pass(a, messages, rf, caching=True)))
        warm_requests = _stats(a.port)["requests"] - before
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "cold_wall_s": cold,
        "cells_ok": ok * a.criteria,
        "cold_cells_ok": ok_cold * a.criteria,
        "cells": a.n * a.criteria,
        "warm_requests": warm_requests,
    }


def child_openai_sdk(a: argparse.Namespace) -> dict[str, Any]:
    """Reference point: the OpenAI SDK alone (what litellm's openai provider wraps)."""
    t = time.perf_counter()
    import openai

    messages, rf = _requests(a, make_rows(a.n))
    names = [n for n, _ in CRITERIA[: a.criteria]]
    setup_s = time.perf_counter() - t

    async def go() -> int:
        client = openai.AsyncOpenAI(base_url=a.base_url, api_key=API_KEY, max_retries=0)
        sem = asyncio.Semaphore(a.c)

        async def one(m: list[dict[str, str]]) -> bool:
            async with sem:
                r = await client.chat.completions.create(
                    model=a.model.split("/", 1)[-1], messages=m, response_format=rf, temperature=0
                )
                return _ok(r.choices[0].message.content, names)

        res = await asyncio.gather(*(one(m) for m in messages), return_exceptions=True)
        await client.close()
        return sum(1 for r in res if r is True)

    ok, wall, cpu = _timed(lambda: asyncio.run(go()), a.profile, a.pyspy, a.pyspy_bin)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "cells_ok": ok * a.criteria,
        "cells": a.n * a.criteria,
        "setup_s": setup_s,
    }


def child_aiohttp(a: argparse.Namespace) -> dict[str, Any]:
    """Reference floor: one aiohttp POST per call with the same body, JSON by the stdlib."""
    t = time.perf_counter()
    import aiohttp

    messages, rf = _requests(a, make_rows(a.n))
    names = [n for n, _ in CRITERIA[: a.criteria]]
    setup_s = time.perf_counter() - t
    url = a.base_url + "/chat/completions"
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}

    async def go() -> int:
        sem = asyncio.Semaphore(a.c)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=a.c)) as session:

            async def one(m: list[dict[str, str]]) -> bool:
                body = json.dumps(
                    {
                        "model": a.model.split("/", 1)[-1],
                        "messages": m,
                        "response_format": rf,
                        "temperature": 0,
                    }
                )
                async with sem, session.post(url, data=body, headers=headers) as r:
                    data = json.loads(await r.read())
                return _ok(data["choices"][0]["message"]["content"], names)

            res = await asyncio.gather(*(one(m) for m in messages), return_exceptions=True)
        return sum(1 for r in res if r is True)

    ok, wall, cpu = _timed(lambda: asyncio.run(go()), a.profile, a.pyspy, a.pyspy_bin)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "cells_ok": ok * a.criteria,
        "cells": a.n * a.criteria,
        "setup_s": setup_s,
    }


def child_lean(a: argparse.Namespace, priced: bool = False) -> dict[str, Any]:
    """workbench's lean transport driven as the engine drives it: a semaphore of C, the body
    built per call (``build_body``), ``LeanClient.chat`` and the verdict parsed; with
    ``priced``, each reply also priced from litellm's table (``litellm.cost_per_token``, as
    ``LLM.price`` does). The route is resolved once, in the setup (litellm imported there)."""
    t = time.perf_counter()
    from workbench.llm import LeanClient, build_body, resolve_route

    messages, rf = _requests(a, make_rows(a.n))
    names = [n for n, _ in CRITERIA[: a.criteria]]
    t_route = time.perf_counter()
    decision = resolve_route(a.model, {"api_base": a.base_url, "api_key": API_KEY}, params={"temperature": 0})
    route_s = time.perf_counter() - t_route
    if decision.route is None:
        raise RuntimeError(f"no lean route for {a.model}: {decision.reason}")
    route = decision.route
    price = None
    if priced:
        import litellm

        def price(prompt: int | None, completion: int | None) -> float | None:
            try:
                p, c = litellm.cost_per_token(
                    model=a.model, prompt_tokens=prompt or 0, completion_tokens=completion or 0
                )
            except Exception:
                return None
            return float(p + c)

    setup_s = time.perf_counter() - t

    async def go() -> int:
        sem = asyncio.Semaphore(a.c)
        async with LeanClient(concurrency=a.c) as client:

            async def one(m: list[dict[str, str]]) -> bool:
                async with sem:
                    body = build_body(route.model_name, m, rf, route.params)
                    reply = await client.chat(route, body, timeout=60)
                if price is not None:
                    price(reply.prompt_tokens, reply.completion_tokens)
                return _ok(reply.text, names)

            res = await asyncio.gather(*(one(m) for m in messages), return_exceptions=True)
        errors = [r for r in res if isinstance(r, BaseException)]
        if errors:
            print(f"lean errors: {len(errors)}; first: {errors[0]!r}"[:500], file=sys.stderr)
        return sum(1 for r in res if r is True)

    ok, wall, cpu = _timed(lambda: asyncio.run(go()), a.profile, a.pyspy, a.pyspy_bin)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "cells_ok": ok * a.criteria,
        "cells": a.n * a.criteria,
        "setup_s": setup_s,
        "route_s": route_s,
    }


CHILDREN = {
    "workbench": child_workbench,  # transport="auto": the lean path for this OpenAI-compatible server
    "workbench_litellm": lambda a: child_workbench(a, transport="litellm"),
    "lean": child_lean,
    "lean_priced": lambda a: child_lean(a, priced=True),
    "litellm": child_litellm,
    "litellm_cache": child_litellm_cache,
    "openai_sdk": child_openai_sdk,
    "aiohttp": child_aiohttp,
}


def child_main(a: argparse.Namespace) -> None:
    a.base_url = f"http://127.0.0.1:{a.port}/v1"
    try:
        out = CHILDREN[a.child](a)
        out["status"] = "ok"
    except Exception as e:  # report, don't crash the parent
        import traceback

        out = {
            "status": "error",
            "error": f"{type(e).__name__}: {e}"[:1000],
            "traceback": traceback.format_exc()[-3000:],
        }
    print("BENCH_RESULT " + json.dumps(out, default=str), flush=True)
    sys.stdout.flush()
    os._exit(0)  # don't wait for background threads (litellm's logging workers)


# ---------------------------------------------------------------------------------------
# parent
# ---------------------------------------------------------------------------------------


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _http(port: int, path: str, method: str = "GET") -> bytes:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, data=b"" if method == "POST" else None
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def _stats(port: int) -> dict[str, Any]:
    return json.loads(_http(port, "/stats"))


def _proc_cpu(pid: int) -> float:
    """utime + stime of a process (Linux /proc), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


class Server:
    """``python -m workbench.testing`` in its own process, stopped by PID."""

    def __init__(self, latency_ms: float, python: str = sys.executable) -> None:
        self.latency_ms = latency_ms
        self.port = free_port()
        # kept open for the server's lifetime and removed in stop(): not a with-block
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            "w+", prefix="wb-bench-server-", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            [python, "-m", "workbench.testing", "--port", str(self.port), "--latency-ms", str(latency_ms)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=str(REPO),
        )
        for _ in range(300):
            try:
                if _http(self.port, "/health"):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"judge server did not start; see {self.log.name}")

    def cpu(self) -> float:
        return _proc_cpu(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()  # our own server, by PID
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


def run_child(
    server: Server,
    child: str,
    *,
    n: int,
    c: int,
    criteria: int,
    mode: str = "joint",
    model: str = MODEL,
    python: str = sys.executable,
    extra: list[str] | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--child",
        child,
        "--port",
        str(server.port),
        "--n",
        str(n),
        "--c",
        str(c),
        "--criteria",
        str(criteria),
        "--mode",
        mode,
        "--model",
        model,
        *(extra or []),
    ]
    env = {**os.environ, **CHILD_ENV}
    env.setdefault("WORKBENCH_HOME", _STORE_HOME)  # runs are saved (the default), never into the checkout
    _http(server.port, "/reset", "POST")
    cpu0 = server.cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, cwd=str(REPO)
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # our own child, by PID
        out, err = proc.communicate()
    total = time.perf_counter() - t0
    time.sleep(0.2)
    stats = _stats(server.port)
    res: dict[str, Any] = {"status": "no-result", "stderr": err[-2000:]}
    for line in out.splitlines():
        if line.startswith("BENCH_RESULT "):
            res = json.loads(line[len("BENCH_RESULT ") :])
    if res.get("status") != "ok" and "stderr" not in res:
        res["stderr"] = err[-2000:]
    res.update(
        {
            "side": child,
            "n": n,
            "c": c,
            "criteria": criteria,
            "mode": mode,
            "process_s": total,
            "requests": stats["requests"],
            "max_in_flight": stats["max_in_flight"],
            "server_by_status": stats.get("by_status"),
            "server_cpu_s": server.cpu() - cpu0,
        }
    )
    return res


def _child_total_cpu() -> float:
    ru = __import__("resource").getrusage(__import__("resource").RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_child_cpu(server: Server, child: str, **kw: Any) -> dict[str, Any]:
    """run_child, plus the child's whole CPU (imports included) from RUSAGE_CHILDREN."""
    before = _child_total_cpu()
    res = run_child(server, child, **kw)
    res.setdefault("child_cpu_s", _child_total_cpu() - before)
    return res


def _med(rs: list[dict[str, Any]], k: str) -> float | None:
    vals = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(vals) if vals else None


def part_throughput(a: argparse.Namespace, report: dict[str, Any]) -> str:
    server = Server(a.latency_ms)
    results: list[dict[str, Any]] = []
    try:
        for cfg in a.configs.split(","):
            n, c = (int(x) for x in cfg.lower().split("x"))
            sides = [x.strip() for x in a.sides.split(",") if x.strip()]
            for rep in range(a.reps):
                for side in sides if rep % 2 == 0 else sides[::-1]:  # alternate order
                    extra = ["--tweaks", a.tweaks] if a.tweaks else []
                    if a.lazy_import:
                        extra.append("--lazy-import")
                    if a.profile:
                        os.makedirs(a.profile, exist_ok=True)
                        extra += ["--profile", os.path.join(a.profile, f"{side}.n{n}_c{c}.rep{rep}.prof")]
                    if a.pyspy:
                        os.makedirs(a.pyspy, exist_ok=True)
                        extra += [
                            "--pyspy",
                            os.path.join(a.pyspy, f"{side}.n{n}_c{c}.rep{rep}.txt"),
                            "--pyspy-bin",
                            a.pyspy_bin,
                        ]
                    r = run_child_cpu(server, side, n=n, c=c, criteria=3, model=a.model, extra=extra)
                    r["rep"] = rep
                    results.append(r)
                    print(
                        f"throughput n={n} c={c} rep={rep} {side:9s} {r.get('status')} "
                        f"wall={r.get('wall_s', 0):.3f}s "
                        f"cpu={r.get('cpu_s', 0):.2f}s req={r['requests']} inflight={r['max_in_flight']} "
                        f"ok={r.get('cells_ok')}/{r.get('cells')} {r.get('error', '')}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        server.stop()
    report["throughput"] = results
    lines = [
        (
            f"### Throughput (latency {a.latency_ms:g} ms, model {a.model}, joint judge with 3 criteria, "
            "caching off, "
            f"median of {a.reps} reps{', tweaks ' + a.tweaks if a.tweaks else ''})"
        ),
        "",
        (
            "| N | C | side | wall s (min-max) | ideal s | ratio to ideal | client CPU s (eval) "
            "| CPU ms/call "
            "| child CPU s (total) | server CPU s | requests | max in-flight | cells ok |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary = []
    for cfg in a.configs.split(","):
        n, c = (int(x) for x in cfg.lower().split("x"))
        ideal = n * a.latency_ms / 1000 / c
        for side in [x.strip() for x in a.sides.split(",") if x.strip()]:
            rs = [
                r
                for r in results
                if r["n"] == n and r["c"] == c and r["side"] == side and r.get("status") == "ok"
            ]
            if not rs:
                lines.append(f"| {n} | {c} | {side} | failed | | | | | | | | | |")
                continue
            wall = _med(rs, "wall_s")
            cpu = _med(rs, "cpu_s")
            row = {
                "n": n,
                "c": c,
                "side": side,
                "wall_s": wall,
                "ideal_s": ideal,
                "ratio": wall / ideal,
                "cpu_s": cpu,
                "cpu_ms_per_call": 1000 * cpu / n,
                "child_cpu_s": _med(rs, "child_cpu_s"),
                "server_cpu_s": _med(rs, "server_cpu_s"),
                "requests": _med(rs, "requests"),
                "max_in_flight": _med(rs, "max_in_flight"),
                "cells_ok": _med(rs, "cells_ok"),
                "cells": rs[0]["cells"],
                "reps": len(rs),
            }
            summary.append(row)
            lines.append(
                f"| {n} | {c} | {side} | {wall:.3f} "
                f"({min(r['wall_s'] for r in rs):.3f}-{max(r['wall_s'] for r in rs):.3f}) "
                f"| {ideal:.3f} | {wall / ideal:.2f} | {cpu:.2f} | {row['cpu_ms_per_call']:.2f} "
                f"| {row['child_cpu_s']:.2f} | {row['server_cpu_s']:.2f} | {row['requests']:g} "
                f"| {row['max_in_flight']:g} "
                f"| {row['cells_ok']:g}/{row['cells']} |"
            )
    report["throughput_summary"] = summary
    return "\n".join(lines)


def part_warm(a: argparse.Namespace, report: dict[str, Any]) -> str:
    server = Server(a.warm_latency_ms)
    results: list[dict[str, Any]] = []
    lines = [
        (
            f"### Warm rerun from workbench's cache ({a.warm_n} rows x {a.warm_criteria} criteria; "
            "cold fill against "
            f"a {a.warm_latency_ms:g} ms server at C={a.warm_c}; warm: median of {a.reps} fresh processes)"
        ),
        "",
        (
            "| mode | cold calls | cold wall s | warm wall s, fresh process (min-max) | warm CPU s "
            "| warm requests "
            "| warm wall s, 2nd run in process | cells ok |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    try:
        for mode in a.warm_modes.split(","):
            cache = tempfile.mkdtemp(prefix=f"wb-bench-cache-{mode}-")
            try:
                kw = {
                    "n": a.warm_n,
                    "c": a.warm_c,
                    "criteria": a.warm_criteria,
                    "mode": mode,
                    "model": a.model,
                }
                cold = run_child_cpu(server, "workbench", extra=["--cache-dir", cache], **kw)
                cold["phase"] = "cold"
                results.append(cold)
                print(
                    f"warm {mode} cold: {cold.get('status')} wall={cold.get('wall_s', 0):.2f}s "
                    f"req={cold['requests']} "
                    f"ok={cold.get('cells_ok')} {cold.get('error', '')}",
                    file=sys.stderr,
                    flush=True,
                )
                warm = []
                for rep in range(a.reps):
                    extra = ["--cache-dir", cache, "--second", "--lazy-import"]
                    if a.pyspy:
                        os.makedirs(a.pyspy, exist_ok=True)
                        extra += [
                            "--pyspy",
                            os.path.join(a.pyspy, f"warm_{mode}.n{a.warm_n}.rep{rep}.txt"),
                            "--pyspy-bin",
                            a.pyspy_bin,
                        ]
                    r = run_child_cpu(server, "workbench", extra=extra, **kw)
                    r["phase"], r["rep"] = "warm", rep
                    results.append(r)
                    warm.append(r)
                    print(
                        f"warm {mode} rep={rep}: {r.get('status')} wall={r.get('wall_s', 0):.3f}s "
                        f"second={r.get('wall2_s', 0):.3f}s req={r['requests']} ok={r.get('cells_ok')} "
                        f"{r.get('error', '')}",
                        file=sys.stderr,
                        flush=True,
                    )
            finally:
                shutil.rmtree(cache, ignore_errors=True)
            ok = [r for r in warm if r.get("status") == "ok"]
            if not ok or cold.get("status") != "ok":
                lines.append(f"| {mode} | {cold['requests']} | {cold.get('error', 'failed')} | | | | | |")
                continue
            lines.append(
                f"| {mode} | {cold['requests']} | {cold['wall_s']:.2f} | {_med(ok, 'wall_s'):.3f} "
                f"({min(r['wall_s'] for r in ok):.3f}-{max(r['wall_s'] for r in ok):.3f}) "
                f"| {_med(ok, 'cpu_s'):.2f} | {max(r['requests'] for r in ok)} | {_med(ok, 'wall2_s'):.3f} "
                f"| {_med(ok, 'cells_ok'):g}/{ok[0]['cells']} |"
            )
    finally:
        server.stop()
    report["warm"] = results
    return "\n".join(lines)


def part_litellm_cache(a: argparse.Namespace, report: dict[str, Any]) -> str:
    python = a.litellm_cache_python
    if not python or not Path(python).exists():
        return "### litellm disk cache: skipped (no --litellm-cache-python with fastapi installed)"
    server = Server(a.warm_latency_ms)
    try:
        r = run_child_cpu(
            server, "litellm_cache", n=a.litellm_cache_n, c=a.warm_c, criteria=5, model=a.model, python=python
        )
    finally:
        server.stop()
    report["litellm_cache"] = r
    if r.get("status") != "ok":
        return f"### litellm disk cache: failed: {r.get('error') or r.get('stderr', '')[-500:]}"
    n = a.litellm_cache_n
    return (
        f"### litellm's own disk cache ({n} calls, 5-criteria joint messages, C={a.warm_c}, {python})\n\n"
        f"cold {r['cold_wall_s']:.2f} s; warm {r['wall_s']:.3f} s = {1000 * r['wall_s'] / n:.2f} ms a hit "
        f"({1000 * r['cpu_s'] / n:.2f} ms CPU a hit); requests during warm pass: {r['warm_requests']}; "
        f"cells ok {r['cells_ok']}/{r['cells']}"
    )


PRICED = "openai/gpt-4o-mini"
SETTINGS: list[tuple[str, str, str | None, str]] = [
    # (label, side, model (None: --model), tweaks)
    ("workbench, unpriced model (baseline of the throughput table)", "workbench", None, ""),
    ("workbench, priced model", "workbench", PRICED, ""),
    ("workbench, priced, litellm.turn_off_message_logging=True", "workbench", PRICED, "no_message_logging"),
    (
        "workbench, priced, litellm.disable_aiohttp_transport=True (httpx transport)",
        "workbench",
        PRICED,
        "httpx",
    ),
    (
        "workbench, priced, success-logging task skipped (private is_internal_call ContextVar)",
        "workbench",
        PRICED,
        "skip_success_logging",
    ),
    (
        "workbench, priced, cost calculation stubbed out (not a setting: its share)",
        "workbench",
        PRICED,
        "no_cost",
    ),
    ("workbench, priced, both of the above", "workbench", PRICED, "skip_success_logging,no_cost"),
    (
        "workbench, model aiohttp_openai/gpt-4o-mini (litellm's aiohttp provider, no OpenAI SDK)",
        "workbench",
        "aiohttp_openai/gpt-4o-mini",
        "",
    ),
    (
        "workbench, model hosted_vllm/gpt-4o-mini (litellm's httpx handler, no OpenAI SDK)",
        "workbench",
        "hosted_vllm/gpt-4o-mini",
        "",
    ),
    ("raw litellm, priced model", "litellm", PRICED, ""),
    (
        "raw litellm, priced, no response_format (what the shared harness's litellm peer sends)",
        "litellm",
        PRICED,
        "no_response_format",
    ),
    ("lean transport alone (LeanClient as the engine drives it, same body)", "lean", PRICED, ""),
    ("lean transport, each reply priced (litellm.cost_per_token)", "lean_priced", PRICED, ""),
    ("OpenAI SDK alone (AsyncOpenAI, same body)", "openai_sdk", PRICED, ""),
    ("aiohttp alone (one POST per call, same body): floor", "aiohttp", PRICED, ""),
]


def part_settings(a: argparse.Namespace, report: dict[str, Any]) -> str:
    """litellm settings and request paths that may remove per-call CPU, interleaved over --reps rounds."""
    n, c = (int(x) for x in a.settings_config.lower().split("x"))
    ideal = n * a.latency_ms / 1000 / c
    server = Server(a.latency_ms)
    results: list[dict[str, Any]] = []
    try:
        for rep in range(a.reps):
            order = SETTINGS if rep % 2 == 0 else SETTINGS[::-1]
            for label, side, model, tweaks in order:
                extra = ["--tweaks", tweaks] if tweaks else []
                r = run_child_cpu(server, side, n=n, c=c, criteria=3, model=model or a.model, extra=extra)
                r.update(label=label, rep=rep)
                results.append(r)
                print(
                    f"settings rep={rep} {label[:70]:70s} {r.get('status')} wall={r.get('wall_s', 0):.2f}s "
                    f"cpu={r.get('cpu_s', 0):.2f}s inflight={r['max_in_flight']} ok={r.get('cells_ok')} "
                    f"{r.get('error', '')[:200]}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        server.stop()
    report["settings"] = results
    base = None
    lines = [
        (
            f"### litellm settings and request paths (N={n}, C={c}, latency {a.latency_ms:g} ms, "
            "joint judge with 3 "
            f"criteria, caching off; median of {a.reps} interleaved rounds)"
        ),
        "",
        "| variant | CPU ms/call | vs priced workbench | wall s | ratio to ideal | cost USD | cells ok |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = []
    for label, *_ in SETTINGS:
        rs = [r for r in results if r["label"] == label and r.get("status") == "ok"]
        if not rs:
            err = next(
                (r.get("error") or r.get("stderr", "")[-200:] for r in results if r["label"] == label), ""
            )
            lines.append(f"| {label} | failed: {str(err)[:150]} | | | | | |")
            continue
        cpu = 1000 * _med(rs, "cpu_s") / n
        if label == "workbench, priced model":
            base = cpu
        cost = rs[0].get("calls", {}).get("cost_usd") if isinstance(rs[0].get("calls"), dict) else None
        rows.append(
            {
                "label": label,
                "cpu_ms_per_call": cpu,
                "wall_s": _med(rs, "wall_s"),
                "cost_usd": cost,
                "cells_ok": _med(rs, "cells_ok"),
                "cells": rs[0]["cells"],
            }
        )
    for row in rows:
        delta = (
            ""
            if base is None
            else f"{row['cpu_ms_per_call'] - base:+.2f} ({row['cpu_ms_per_call'] / base - 1:+.0%})"
        )
        cost = "-" if row["cost_usd"] is None else f"{row['cost_usd']:.4f}"
        lines.append(
            f"| {row['label']} | {row['cpu_ms_per_call']:.2f} | {delta} | {row['wall_s']:.2f} "
            f"| {row['wall_s'] / ideal:.2f} | {cost} | {row['cells_ok']:g}/{row['cells']} |"
        )
    report["settings_summary"] = rows
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="throughput,warm,litellm_cache")
    p.add_argument("--configs", default="400x16,2000x64", help="NxC pairs for the throughput part")
    p.add_argument("--settings-config", default="2000x64", help="NxC of the settings part")
    p.add_argument(
        "--sides",
        default="workbench,workbench_litellm,litellm,openai_sdk,aiohttp",
        help="throughput part: which sides to run: workbench (transport auto: the lean path here), "
        "workbench_litellm (transport='litellm'), litellm (raw acompletion + semaphore), openai_sdk and "
        "aiohttp (reference floors); also lean, lean_priced (the lean transport driven directly)",
    )
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument(
        "--model",
        default=MODEL,
        help="litellm model string sent to the fake server; a priced one "
        "(openai/gpt-4o-mini) exercises litellm's cost path as a real run does",
    )
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--warm-n", type=int, default=10_000)
    p.add_argument("--warm-criteria", type=int, default=5)
    p.add_argument("--warm-modes", default="joint,per_criterion")
    p.add_argument("--warm-latency-ms", type=float, default=0.0)
    p.add_argument("--warm-c", type=int, default=64)
    p.add_argument("--litellm-cache-n", type=int, default=2000)
    p.add_argument("--litellm-cache-python", default="/tmp/bench-venv/bin/python")
    p.add_argument("--tweaks", default="", help=f"litellm settings applied in children: {', '.join(TWEAKS)}")
    p.add_argument(
        "--profile",
        default=None,
        help="directory for cProfile dumps of the throughput children "
        "(main thread only: litellm runs part of each call in an executor thread, see --pyspy)",
    )
    p.add_argument(
        "--pyspy",
        default=None,
        help="directory for py-spy collapsed stacks (all threads) of the "
        "throughput children; analyse with benchmarks/profile_judge.py",
    )
    p.add_argument("--pyspy-bin", default=shutil.which("py-spy") or "/tmp/bench-venv/bin/py-spy")
    p.add_argument("--json", default=None, help="write every raw result and the summaries here")
    # child options
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=400, help=argparse.SUPPRESS)
    p.add_argument("--c", type=int, default=16, help=argparse.SUPPRESS)
    p.add_argument("--criteria", type=int, default=3, help=argparse.SUPPRESS)
    p.add_argument("--mode", default="joint", help=argparse.SUPPRESS)
    p.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--second", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--lazy-import",
        action="store_true",
        help="workbench side: leave litellm's import inside the timed evaluate (first call in a kernel)",
    )
    a = p.parse_args()
    if a.child:
        child_main(a)
        return
    report: dict[str, Any] = {"argv": sys.argv[1:], "python": sys.version.split()[0], "cpus": os.cpu_count()}
    try:
        from importlib.metadata import version

        report["versions"] = {
            k: version(k) for k in ("litellm", "openai", "httpx", "aiohttp", "diskcache", "pandas")
        }
    except Exception:
        pass
    try:
        report["git_head"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        report["workbench_dirty"] = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "workbench"], cwd=REPO, capture_output=True, text=True
            ).stdout.strip()
        )
    except OSError:
        pass
    report["loadavg_start"] = os.getloadavg()
    parts = [x.strip() for x in a.parts.split(",") if x.strip()]
    tables = []
    for part in parts:
        fn = {
            "throughput": part_throughput,
            "warm": part_warm,
            "litellm_cache": part_litellm_cache,
            "settings": part_settings,
        }[part]
        tables.append(fn(a, report))
    report["tables"] = tables
    report["loadavg_end"] = os.getloadavg()
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(report, indent=1, default=str))
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
