"""Benchmark: agent checks over N provider responses, workbench vs the same checks by hand.

What it measures, all in one run on the same deterministic data (numpy seed):

* ``wb.evaluate(df, suite)`` with 8 agent checks over a column of OpenAI chat completions
  held as JSON text (as a JSONL log loads): ``tool_called``, ``tool_not_called``,
  ``tool_called_with_args``, ``tool_call_count``, ``not_tool_call_subsequence`` at
  ``response.tool_calls``, and existing operators at ``response.finish_reason``,
  ``response.total_tokens`` and ``response.content``, each passing 70-97% of the rows;
  results frame included (reasons for the failing cells);
* the same 8 checks written by hand in pandas as the issue puts it: parse once (``orjson``,
  or ``json`` with ``--json-baseline``), pull the tool calls out once, then one vectorised
  expression or comprehension per check, giving 8 boolean columns.

Both sides are timed in this process (interleaved, ``--reps`` times, after a warm-up) and
must agree on the pass count of every check (a workbench ``error`` cell counts as not
passed): 1% of the responses are truncated JSON and 2% of the calls have arguments that do
not parse, which both sides must treat alike.

Usage:
    .venv/bin/python benchmarks/agent_assertions.py                # 100,000 responses, 5 reps
    .venv/bin/python benchmarks/agent_assertions.py --rows 20000 --profile
    .venv/bin/python benchmarks/agent_assertions.py --json out.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from typing import Any

SEED = 20251120
TOOLS = ["search_docs", "get_weather", "get_invoice", "create_ticket", "refund_payment"]
CITIES = ["Paris", "Oslo", "Rome", "Lima", "Kyoto"]

# (id, path, op, expected); each passes 70-97% of the rows, as checks of a working agent do
CHECKS: list[tuple[str, str, str, Any]] = [
    ("searched", "response.tool_calls", "tool_called", "search_docs"),
    ("no_refund", "response.tool_calls", "tool_not_called", "refund_payment"),
    (
        "search_limit",
        "response.tool_calls",
        "tool_called_with_args",
        {"name": "search_docs", "arguments": {"limit": 5}},
    ),
    ("few_calls", "response.tool_calls", "tool_call_count", {"max": 4}),
    (
        "ticket_after_search",
        "response.tool_calls",
        "not_tool_call_subsequence",
        ["create_ticket", "search_docs"],
    ),
    ("finished", "response.finish_reason", "equals", "stop"),
    ("budget", "response.total_tokens", "less_than", 2000),
    ("answered", "response.content", "is_not_empty", None),
]
CHECK_IDS = [c[0] for c in CHECKS]


def generate(n: int, seed: int = SEED) -> Any:
    """n chat completions as JSON text, an agent's last response of a run: a documentation
    search on most (its arguments cut short on 2%), other tools after it (a refund on some,
    a ticket before the search on a few, up to 6 calls), a text answer on most, finish
    reasons, usage; 1% of the responses truncated."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    search = (rng.random(n) < 0.88).tolist()
    extra = rng.choice([0, 1, 2, 3, 4, 5], size=n, p=[0.45, 0.3, 0.12, 0.07, 0.04, 0.02]).tolist()
    tool = rng.integers(1, len(TOOLS) - 1, size=n * 5).tolist()  # get_weather, get_invoice, create_ticket
    refund = (rng.random(n) < 0.04).tolist()
    early_ticket = (rng.random(n) < 0.04).tolist()
    city = rng.integers(0, len(CITIES), size=n * 5).tolist()
    cut = (rng.random(n) < 0.02).tolist()
    limit = np.where(rng.random(n) < 0.97, 5, 10).tolist()
    text = (rng.random(n) < 0.75).tolist()
    length = (rng.random(n) < 0.05).tolist()
    prompt = rng.integers(200, 1700, size=n).tolist()
    completion = rng.integers(10, 400, size=n).tolist()
    broken = (rng.random(n) < 0.01).tolist()
    out = []
    k = 0
    for i in range(n):
        names = (["create_ticket"] if early_ticket[i] else []) + (["search_docs"] if search[i] else [])
        for _ in range(extra[i]):
            names.append(TOOLS[tool[k]])
            k += 1
        if refund[i]:
            names.append("refund_payment")
        calls = []
        for j, name in enumerate(names):
            if name == "search_docs":
                args = json.dumps({"query": f"question {i}", "limit": limit[i]})
                if cut[i]:
                    args = args[: len(args) // 2]
            elif name == "get_weather":
                args = json.dumps({"city": CITIES[city[k % len(city)]], "units": "metric"})
            else:
                args = json.dumps({"id": f"X-{i}-{j}"})
            calls.append(
                {"id": f"call_{i}_{j}", "type": "function", "function": {"name": name, "arguments": args}}
            )
        message: dict[str, Any] = {
            "role": "assistant",
            "content": f"Here is the answer to question {i}." if text[i] else None,
            "refusal": None,
        }
        if calls:
            message["tool_calls"] = calls
        finish = "length" if length[i] else ("stop" if text[i] else "tool_calls")
        body = {
            "id": f"chatcmpl-{i}",
            "object": "chat.completion",
            "created": 1763629200 + i,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt[i],
                "completion_tokens": completion[i],
                "total_tokens": prompt[i] + completion[i],
            },
            "system_fingerprint": "fp_bench",
        }
        s = json.dumps(body)
        out.append(s[: len(s) // 2] if broken[i] else s)
    return pd.DataFrame({"response": pd.array(out, dtype="str")})


# --- the two implementations ----------------------------------------------------------------


def make_suite() -> Any:
    import workbench as wb

    tasks = [wb.AssertionTask(id=cid, path=path, op=op, expected=exp) for cid, path, op, exp in CHECKS]
    return wb.Suite(name="agent-bench", version="1", tasks=tasks)


def run_workbench(df: Any, suite: Any) -> Any:
    import workbench as wb

    return wb.evaluate(df, suite, save=False, progress=False)  # the run store's save is timed apart


def run_pandas(df: Any, loads: Any) -> Any:
    """The checks as a pandas user writes them: parse once, tool calls out once, then one
    expression per check."""
    import pandas as pd

    def parse(text: str) -> Any:
        try:
            return loads(text)
        except ValueError:
            return None

    def args(call: dict[str, Any]) -> Any:
        try:
            return loads(call["function"]["arguments"])
        except ValueError:
            return None

    parsed = df["response"].map(parse)
    ok = parsed.notna()
    first = parsed.map(lambda r: r["choices"][0] if r is not None else None)
    calls = first.map(lambda c: (c["message"].get("tool_calls") or []) if c is not None else [])
    names = calls.map(lambda cs: [c["function"]["name"] for c in cs])
    flat = names.explode()
    counts = names.str.len()

    def search_limit(cs: list[dict[str, Any]]) -> bool:
        for c in cs:
            if c["function"]["name"] == "search_docs":
                a = args(c)
                if isinstance(a, dict) and a.get("limit") == 5 and not isinstance(a.get("limit"), bool):
                    return True
        return False

    def ticket_then_search(ns: list[str], want: tuple[str, ...] = ("create_ticket", "search_docs")) -> bool:
        k = 0
        for n in ns:
            if k < len(want) and n == want[k]:
                k += 1
        return k == len(want)

    finish = first.map(lambda c: c["finish_reason"] if c is not None else None)
    total = pd.to_numeric(parsed.map(lambda r: r["usage"]["total_tokens"] if r is not None else None))
    content = first.map(lambda c: c["message"]["content"] if c is not None else None)
    return pd.DataFrame(
        {
            "searched": flat.eq("search_docs").groupby(level=0).any() & ok,
            "no_refund": ~flat.eq("refund_payment").groupby(level=0).any() & ok,
            "search_limit": calls.map(search_limit) & ok,
            "few_calls": counts.le(4) & ok,
            "ticket_after_search": ~names.map(ticket_then_search) & ok,
            "finished": finish.eq("stop"),
            "budget": total.lt(2000),
            "answered": content.notna() & content.ne(""),
        }
    )


def workbench_counts(run: Any) -> dict[str, int]:
    r = run.results
    return {cid: int((r["task"].eq(cid) & r["status"].eq("passed")).sum()) for cid in CHECK_IDS}


def pandas_counts(frame: Any) -> dict[str, int]:
    return {cid: int(frame[cid].fillna(False).astype(bool).sum()) for cid in CHECK_IDS}


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one workbench run")
    args = parser.parse_args()

    import orjson

    df = generate(args.rows)
    suite = make_suite()
    warm = df.head(2000)
    run_workbench(warm, suite)
    run_pandas(warm, orjson.loads)
    run_pandas(warm, json.loads)

    sides: dict[str, list[float]] = {"workbench": [], "pandas_orjson": [], "pandas_json": []}
    counts: dict[str, dict[str, int]] = {}
    for _ in range(args.reps):
        t, run = timed(run_workbench, df, suite)
        sides["workbench"].append(t)
        counts["workbench"] = workbench_counts(run)
        del run
        for side, loads in (("pandas_orjson", orjson.loads), ("pandas_json", json.loads)):
            t, frame = timed(run_pandas, df, loads)
            sides[side].append(t)
            counts[side] = pandas_counts(frame)
    disagree = {
        cid: (counts["workbench"][cid], counts["pandas_orjson"][cid], counts["pandas_json"][cid])
        for cid in CHECK_IDS
        if len({counts["workbench"][cid], counts["pandas_orjson"][cid], counts["pandas_json"][cid]}) > 1
    }
    load = os.getloadavg()
    print(
        f"{args.rows:,} responses, {len(CHECKS)} checks, {args.reps} reps; "
        f"load average {load[0]:.1f} {load[1]:.1f}"
    )
    for cid in CHECK_IDS:
        print(f"  {cid:<20} passed {counts['workbench'][cid]:>7,}")
    best = {side: min(ts) for side, ts in sides.items()}
    median = {side: statistics.median(ts) for side, ts in sides.items()}
    for side in sides:
        print(f"{side:<14} best {best[side]:.3f} s  median {median[side]:.3f} s")
    for base in ("pandas_orjson", "pandas_json"):
        print(
            f"workbench / {base}: {best['workbench'] / best[base]:.2f}x best, "
            f"{median['workbench'] / median[base]:.2f}x median"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"rows": args.rows, "best": best, "median": median, "counts": counts, "load": load},
                f,
                indent=2,
            )
    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.runcall(run_workbench, df, suite)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    if disagree:
        print(f"DISAGREE (workbench, pandas orjson, pandas json): {disagree}")
        sys.exit(1)


if __name__ == "__main__":
    main()
