"""Where a judge run's client CPU goes: buckets of py-spy samples, per call.

Input: the collapsed stacks that ``benchmarks/judge_throughput.py --pyspy DIR`` writes
(py-spy ``record --format raw --threads --gil``: every thread, only samples holding the GIL,
so a thread waiting for the GIL is not counted). Each sample goes to the first bucket whose
rule matches its stack (most specific first), so the buckets add up to 100%.

litellm runs the sync half of every ``acompletion`` (``completion()``: parameter mapping,
provider config, logging setup) in the default ThreadPoolExecutor, which cProfile in the
main thread does not see; py-spy samples every thread, so that half is counted here.

Usage:
    .venv/bin/python benchmarks/judge_throughput.py --parts throughput --configs 2000x64 --reps 1 \\
        --pyspy benchmarks/out/pyspy
    .venv/bin/python benchmarks/profile_judge.py benchmarks/out/pyspy/*.n2000_c64.rep0.txt --calls 2000
"""

from __future__ import annotations

import argparse
import collections
import json
import re
from collections.abc import Callable
from pathlib import Path

Rule = tuple[str, Callable[[str, str], bool]]


def _has(*needles: str) -> Callable[[str, str], bool]:
    return lambda stack, thread: any(n in stack for n in needles)


def _re(pattern: str) -> Callable[[str, str], bool]:
    rx = re.compile(pattern)
    return lambda stack, thread: rx.search(stack) is not None


_LITELLM = _re(
    r"\(litellm/|litellm_logging\.py|logging_utils\.py|gpt_transformation\.py|fallback_generalizations\.py"
    r"|aiohttp_transport\.py|OpenAIChatCompletion|\(openai\.py:|http_handler\.py|get_llm_provider_logic"
)

RULES: list[Rule] = [
    (
        "litellm: cost calculation (completion_cost, get_model_info, zero-cost diagnostic)",
        _has(
            "cost_calculator.py",
            "response_cost_calculator",
            "_record_zero_cost_diagnostic",
            "cost_per_token",
            "get_model_info",
            "fallback_generalizations.py",
            "_cached_get_model_info",
        ),
    ),
    (
        "openai SDK: request body transform (TypedDict walk of messages + response_format)",
        _has("openai/_utils/_transform.py"),
    ),
    (
        "openai SDK: response parse into pydantic models",
        _has("LegacyAPIResponse.parse", "_process_response_data", "AsyncAPIClient._process_response"),
    ),
    (
        "HTTP: openai SDK build request + send (httpx, litellm's aiohttp transport)",
        _has(
            "openai/_base_client.py",
            "(httpx/",
            "(aiohttp/",
            "aiohttp_transport.py",
            "(yarl/",
            "(multidict/",
            "(h11/",
            "(httpcore/",
        ),
    ),
    ("openai SDK: other (client wrappers)", _has("(openai/")),
    (
        "litellm: logging (Logging object, success handlers, standard logging payload)",
        _has("litellm_logging.py", "logging_worker.py", "function_setup", "(litellm/_logging.py"),
    ),
    (
        "litellm: response object (convert_to_model_response_object, ModelResponse)",
        _has(
            "convert_to_model_response_object",
            "convert_dict_to_response",
            "ModelResponse.__init__",
            "(litellm/types/utils.py",
        ),
    ),
    (
        "litellm: sync completion() in executor thread (param mapping, provider config)",
        lambda s, t: t != "MainThread" and "litellm" in s,
    ),
    (
        "litellm: other (wrapper_async, dispatch, get_llm_provider, optional params)",
        _LITELLM,
    ),
    ("executor threads: thread handoff (run_in_executor, futures, wakeups)", lambda s, t: t != "MainThread"),
    (
        "workbench: cache key (canonical JSON + sha256)",
        _has("cache_key (workbench/llm.py", "LLM.key (workbench"),
    ),
    (
        "workbench: disk cache reads (prefetch: SQLite + unpickle, diskcache get)",
        _has("LLM.prefetch", "(diskcache/"),
    ),
    ("workbench: cache hit to Completion", _has("LLM.cached (workbench")),
    ("workbench: llm.py other (limiter, Completion, store)", _has("(workbench/llm.py")),
    ("workbench: judge verdict parse", _has("(workbench/judge/_verdict.py")),
    (
        "workbench: plan, render prompts",
        _has("(workbench/judge/_prompt.py", "JudgeRunner.plan", "_template_columns"),
    ),
    (
        "workbench: result blocks and results frame",
        _has("_blocks (workbench", "_results_frame", "_empty_block", "_overall_block"),
    ),
    ("workbench: other (engine, runner, frame)", _has("(workbench/")),
    ("benchmark harness (raw side: JSON check of the reply)", _has("judge_throughput.py:")),
    ("asyncio: event loop, task steps, gather (no library frame)", lambda s, t: True),
]


def load(path: str | Path) -> collections.Counter[tuple[str, str]]:
    """(thread name, stack) -> samples."""
    out: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        stack, n = line.rsplit(" ", 1)
        first, _, rest = stack.partition(";")
        thread = first.split(":", 1)[1].strip() if first.startswith("thread") else "?"
        out[(thread, rest if first.startswith("thread") else stack)] += int(n)
    return out


_HANDLE = "Handle._run (asyncio/events.py"


def _task_part(thread: str, stack: str) -> str:
    """The frames of the asyncio callback or task running in a main-thread sample (after the
    event loop's last ``Handle._run``); empty for the loop's own bookkeeping and polling."""
    if thread != "MainThread":
        return stack
    i = stack.rfind(_HANDLE)
    if i < 0:
        return ""
    j = stack.find(";", i)
    return stack[j + 1 :] if j >= 0 else ""


def buckets(samples: collections.Counter[tuple[str, str]]) -> collections.Counter[str]:
    out: collections.Counter[str] = collections.Counter()
    for (thread, full), n in samples.items():
        stack = _task_part(thread, full)
        for name, rule in RULES:
            if rule(stack, thread):
                out[name] += n
                break
    return out


def detail(path: str, bucket_substr: str, depth: int, top: int) -> str:
    """The most frequent frame paths (the ``depth`` frames nearest the leaf) in the buckets whose
    name contains ``bucket_substr``."""
    c: collections.Counter[str] = collections.Counter()
    total = 0
    for (thread, full), n in load(path).items():
        stack = _task_part(thread, full)
        total += n
        name = next(name for name, rule in RULES if rule(stack, thread))
        if bucket_substr in name:
            frames = [
                re.sub(r" \(.*?([^/]+\.py):\d+\)", r" (\1)", f) for f in (stack or full).split(";")[-depth:]
            ]
            c[" < ".join(reversed(frames))] += n
    lines = [f"{Path(path).name}: buckets matching {bucket_substr!r}, {depth} frames nearest the leaf"]
    lines += [f"  {v / total:5.1%}  {k}" for k, v in c.most_common(top)]
    return "\n".join(lines)


def report(paths: list[str], calls: int, rate: float, top: int) -> tuple[str, dict]:
    data = {}
    per: dict[str, collections.Counter[str]] = {}
    totals = {}
    leaves = {}
    short = [Path(p).name.split(".")[0] for p in paths]
    for p, name in zip(paths, short):
        if short.count(name) > 1:  # the same side from several runs: tell them apart by folder
            name = f"{Path(p).parent.name}/{name}"
        s = load(p)
        per[name] = buckets(s)
        totals[name] = sum(s.values())
        lf: collections.Counter[str] = collections.Counter()
        for (_, stack), n in s.items():
            lf[stack.rsplit(";", 1)[-1]] += n
        leaves[name] = lf
    names = list(per)
    lines = [
        f"py-spy --gil samples at {rate:g} Hz over {calls} calls; µs/call = 1e6 * samples / rate / calls",
        "",
        "| bucket | " + " | ".join(f"{n} µs/call | {n} share" for n in names) + " |",
        "|---|" + "---|---|" * len(names),
    ]
    for bucket, _ in RULES:
        if not any(per[n][bucket] for n in names):
            continue
        cells = []
        for n in names:
            v = per[n][bucket]
            cells += [f"{1e6 * v / rate / calls:.0f}", f"{v / totals[n]:.1%}"]
        lines.append(f"| {bucket} | " + " | ".join(cells) + " |")
    lines.append(
        "| **total (GIL-holding samples)** | "
        + " | ".join(f"**{1e6 * totals[n] / rate / calls:.0f}** | 100%" for n in names)
        + " |"
    )
    for n in names:
        data[n] = {
            "samples": totals[n],
            "ms_per_call": 1000 * totals[n] / rate / calls,
            "buckets": {
                b: {"samples": v, "share": v / totals[n], "ms_per_call": 1000 * v / rate / calls}
                for b, v in per[n].most_common()
            },
        }
        lines += ["", f"top leaf frames, {n}:"]
        lines += [f"  {v / totals[n]:5.1%}  {k}" for k, v in leaves[n].most_common(top)]
    return "\n".join(lines), data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", help="py-spy raw files (<side>.n<N>_c<C>.rep<R>.txt)")
    p.add_argument("--calls", type=int, required=True, help="judge calls made in the profiled section")
    p.add_argument("--rate", type=float, default=250.0, help="py-spy sampling rate used (Hz)")
    p.add_argument("--top", type=int, default=12, help="leaf frames listed per file")
    p.add_argument("--json", default=None)
    p.add_argument("--detail", default=None, help="list frame paths of the buckets whose name contains this")
    p.add_argument("--depth", type=int, default=3, help="frames shown per path with --detail")
    a = p.parse_args()
    if a.detail:
        for path in a.paths:
            print(detail(path, a.detail, a.depth, a.top))
        return
    text, data = report(a.paths, a.calls, a.rate, a.top)
    print(text)
    if a.json:
        Path(a.json).write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
