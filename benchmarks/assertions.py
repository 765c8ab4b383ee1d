"""Benchmark: 10 assertions of mixed kinds over N rows, workbench vs hand-written pandas.

What it measures, all in one run on the same deterministic data (numpy seed):

* ``wb.evaluate(df, suite)`` with 10 assertion tasks (numeric comparisons, in_range,
  contains / not_contains, a regex, a length check, is_json, a path into a JSON string
  column, one_of on a label column), results frame included;
* the same 10 checks hand-written in vectorised pandas, producing 10 boolean columns;
* optionally scouter-ml's ``EvalDataset`` on the same records, in a child process run by
  another interpreter (``--scouter-python``), because scouter lives in its own venv.

Both sides are timed in this process (interleaved, ``--reps`` times, after a warm-up) and
must agree on the pass count of every check (a workbench ``error`` cell counts as not
passed). Peak memory of each side is measured in a fresh child process of this script
(``--only``): the peak RSS added by the evaluation over the RSS after data generation
(Linux ``/proc/self/clear_refs`` resets the high-water mark), plus the absolute peak.

Usage:
    .venv/bin/python benchmarks/assertions.py                       # 1,000,000 rows, 3 reps
    .venv/bin/python benchmarks/assertions.py --rows 100000 --breakdown
    .venv/bin/python benchmarks/assertions.py --scouter-python /tmp/scouter-venv/bin/python
    .venv/bin/python benchmarks/assertions.py --json out.json

Only the standard library is imported at module level, so the scouter child can run this
file with an interpreter that has scouter (and no workbench).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

SEED = 20240611
CATEGORIES = ["qa", "summarize", "chat", "code", "extract"]
NUMBER_RE = r"\d+(?:\.\d+)? (?:items|percent)"  # a quantity; the "[1]" citation alone is no match

# The 10 checks: (id, path, workbench op, expected, scouter operator name, scouter expected, scouter path)
CHECKS: list[tuple[str, str, str, Any, str, Any, str]] = [
    ("latency_ok", "latency_ms", "less_than", 2000, "LessThan", 2000, "latency_ms"),
    ("tokens_ok", "tokens", "less_than_or_equal", 512, "LessThanOrEqual", 512, "tokens"),
    ("score_range", "score", "in_range", [0.5, 1.0], "InRange", [0.5, 1.0], "score"),
    ("no_apology", "response", "not_contains", "sorry", "NotContains", "sorry", "response"),
    ("cites_source", "response", "contains", "[1]", "Contains", "[1]", "response"),
    ("has_number", "response", "matches", NUMBER_RE, "Matches", NUMBER_RE, "response"),
    ("short_enough", "response", "has_length_less_than", 280, "HasLengthLessThan", 280, "response"),
    ("payload_json", "payload", "is_json", None, "IsJson", True, "payload"),
    (
        "confident",
        "payload.confidence",
        "greater_than_or_equal",
        0.5,
        "GreaterThanOrEqual",
        0.5,
        "payload_obj.confidence",
    ),
    # scouter has no one_of; on this data (labels are CATEGORIES or "unknown") NotEqual
    # "unknown" selects exactly the same rows.
    ("known_category", "category", "one_of", CATEGORIES, "NotEqual", "unknown", "category"),
]
CHECK_IDS = [c[0] for c in CHECKS]


# --- data -----------------------------------------------------------------------------

# fmt: off
# (kept wrapped: the formatter would put each of these 157 words on a line of its own)
VOCAB = [
    "the", "a", "an", "of", "to", "in", "for", "on", "with", "by", "from", "as", "is", "are", "was", "were",
    "be", "been", "it", "this", "that", "these", "those", "model", "answer", "question", "result",
    "results", "data", "value", "values", "report", "table", "user", "users", "customer", "order", "orders",
    "account", "service", "system", "request", "response", "error", "errors", "latency", "token", "tokens",
    "document", "documents", "source", "sources", "page", "section", "summary", "example", "examples",
    "policy", "price", "prices", "product", "products", "feature", "features", "update", "updates",
    "version", "release", "issue", "issues", "support", "team", "teams", "process", "step", "steps",
    "option", "options", "setting", "settings", "file", "files", "query", "queries", "search", "index",
    "record", "records", "field", "fields", "note", "notes", "time", "date", "year", "month", "week",
    "should", "can", "will", "may", "might", "must", "would", "could", "please", "also", "however",
    "therefore", "because", "while", "first", "second", "third", "next", "last", "new", "old", "main",
    "other", "same", "different", "important", "relevant", "available", "required", "optional", "recent",
    "current", "previous", "total", "average", "median", "maximum", "minimum", "increase", "decrease",
    "improve", "reduce", "check", "verify", "confirm", "review", "compare", "explain", "describe",
    "returns", "contains", "includes", "shows", "uses", "needs", "provides", "supports", "allows",
    "requires", "means",
]
# fmt: on
NON_ASCII = ["café", "naïve", "—", "“quoted”", "résumé", "±", "→", "déjà vu"]


def generate(n: int, seed: int = SEED, non_ascii: float = 0.02) -> Any:
    """A realistic, deterministic frame of n LLM-app log rows."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    latency = np.round(rng.lognormal(np.log(900.0), 0.6, n), 1)  # ~91% < 2000 ms
    tokens = np.rint(rng.lognormal(np.log(250.0), 0.6, n)).astype(np.int64)  # ~88% <= 512
    score = np.round(rng.beta(4.0, 2.0, n), 3)  # ~81% >= 0.5
    score[rng.random(n) < 0.01] = np.nan

    # response text: a slice of a long random-word corpus, with markers mixed in
    words = np.array(VOCAB)[rng.integers(0, len(VOCAB), 3_000_000)]
    corpus = " ".join(words.tolist())
    span = len(corpus) - 400
    starts = rng.integers(0, span, n).tolist()
    lengths = rng.integers(50, 301, n).tolist()  # ~92% shorter than 280
    sorry = (rng.random(n) < 0.08).tolist()
    cite = (rng.random(n) < 0.85).tolist()
    number = (rng.random(n) < 0.70).tolist()
    nums = rng.integers(1, 5000, n).tolist()
    decimals = (rng.random(n) < 0.3).tolist()
    odd = (rng.random(n) < non_ascii).tolist()
    odd_pick = rng.integers(0, len(NON_ASCII), n).tolist()
    find = corpus.find
    response = []
    for i in range(n):
        head = "I'm sorry, but " if sorry[i] else ""
        mid = ""
        if number[i]:
            mid = f" about {nums[i]}.{nums[i] % 10} percent" if decimals[i] else f" roughly {nums[i]} items"
        if odd[i]:
            mid += " " + NON_ASCII[odd_pick[i]]
        tail = " [1]" if cite[i] else ""
        body_len = max(lengths[i] - len(head) - len(mid) - len(tail) - 1, 5)
        s = find(" ", starts[i]) + 1
        body = corpus[s : s + body_len].rstrip()
        text = f"{head}{body}{mid}{tail}."
        response.append(text[0].upper() + text[1:])

    # payload: JSON text; ~3% malformed, ~2% of the valid ones lack "confidence"
    conf = np.round(rng.beta(5.0, 2.0, n), 2).tolist()  # ~89% >= 0.5
    n_src = rng.integers(1, 4, n).tolist()
    doc = rng.integers(1, 100_000, n).tolist()
    bad = rng.random(n)
    bad_kind = rng.integers(0, 3, n).tolist()
    no_conf = (rng.random(n) < 0.02).tolist()
    ans_start = rng.integers(0, span, n).tolist()
    payload = []
    for i in range(n):
        s = find(" ", ans_start[i]) + 1
        answer = corpus[s : s + 40].rstrip()
        sources = ", ".join(f'{{"url": "http://docs.example.org/doc/{doc[i] + k}"}}' for k in range(n_src[i]))
        c = "" if no_conf[i] else f', "confidence": {conf[i]:.2f}'
        text = f'{{"answer": "{answer}", "sources": [{sources}]{c}}}'
        if bad[i] < 0.03:
            k = bad_kind[i]
            if k == 0:  # truncated generation
                text = text[: len(text) * 2 // 3]
            elif k == 1:  # a Python repr instead of JSON
                text = text.replace('"', "'")
            else:  # trailing comma
                text = text[:-1] + ", }"
        payload.append(text)

    cat_idx = rng.integers(0, len(CATEGORIES), n)
    category = np.array([*CATEGORIES, "unknown"], dtype=object)[
        np.where(rng.random(n) < 0.06, len(CATEGORIES), cat_idx)
    ]
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "latency_ms": latency,
            "tokens": tokens,
            "score": score,
            "response": pd.array(response, dtype="str"),
            "payload": pd.array(payload, dtype="str"),
            "category": pd.array(category.tolist(), dtype="str"),
        }
    )


# --- the two implementations ----------------------------------------------------------


def make_suite(ids: list[str] | None = None) -> Any:
    import workbench as wb

    tasks = [
        wb.AssertionTask(id=cid, path=path, op=op, expected=expected)
        for cid, path, op, expected, *_ in CHECKS
        if ids is None or cid in ids
    ]
    return wb.Suite(name="bench", version="1", tasks=tasks)


# the baseline's JSON parser, in a dict so that --orjson-baseline can swap in orjson.loads
_BASELINE: dict[str, Callable[[Any], Any]] = {"loads": json.loads}


def _loads_or_none(text: Any) -> Any:
    try:
        return _BASELINE["loads"](text)
    except (TypeError, ValueError):
        return None


def _confidence(obj: Any) -> Any:
    return obj.get("confidence") if isinstance(obj, dict) else None


def pandas_steps() -> dict[str, Any]:
    """The baseline as named steps (each takes the frame and a scratch dict)."""
    import pandas as pd

    def parse(df: pd.DataFrame, scratch: dict) -> None:
        scratch["parsed"] = df["payload"].map(_loads_or_none)

    def payload_json(df: pd.DataFrame, scratch: dict) -> Any:
        return scratch["parsed"].notna()

    def confident(df: pd.DataFrame, scratch: dict) -> Any:
        conf = pd.to_numeric(scratch["parsed"].map(_confidence), errors="coerce")
        return conf >= 0.5

    return {
        "latency_ok": lambda df, s: df["latency_ms"] < 2000,
        "tokens_ok": lambda df, s: df["tokens"] <= 512,
        "score_range": lambda df, s: df["score"].between(0.5, 1.0),
        "no_apology": lambda df, s: ~df["response"].str.contains("sorry", regex=False),
        "cites_source": lambda df, s: df["response"].str.contains("[1]", regex=False),
        "has_number": lambda df, s: df["response"].str.contains(NUMBER_RE, regex=True),
        "short_enough": lambda df, s: df["response"].str.len() < 280,
        "(parse payload)": parse,
        "payload_json": payload_json,
        "confident": confident,
        "known_category": lambda df, s: df["category"].isin(CATEGORIES),
    }


def run_pandas(df: Any) -> Any:
    """The 10 checks written the way a competent pandas user would: 10 boolean columns."""
    import pandas as pd

    steps = pandas_steps()
    scratch: dict = {}
    out = {}
    for name, fn in steps.items():
        r = fn(df, scratch)
        if r is not None:
            out[name] = r
    return pd.DataFrame(out, index=df.index)


def run_workbench(df: Any, suite: Any) -> Any:
    import workbench as wb

    return wb.evaluate(df, suite, save=False)  # the run store's save is timed apart


def workbench_counts(run: Any) -> dict[str, dict[str, int]]:
    import numpy as np

    r = run.results
    task = r["task"].cat.codes.to_numpy()
    status = r["status"].cat.codes.to_numpy()
    cats = list(r["status"].cat.categories)
    names = list(r["task"].cat.categories)
    out = {}
    for k, name in enumerate(names):
        counts = np.bincount(status[task == k], minlength=len(cats))
        out[name] = {cats[j]: int(counts[j]) for j in range(len(cats))}
    return out


def pandas_counts(frame: Any) -> dict[str, int]:
    return {c: int(frame[c].to_numpy(dtype=bool).sum()) for c in CHECK_IDS}


# --- measurement helpers --------------------------------------------------------------


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _maxrss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb / 1024


def _git_state() -> str:
    """The commit of the checkout this file sits in, with '+dirty' if workbench/ has edits."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "workbench"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def _num(x: Any) -> str:
    return "-" if x is None else f"{x:.0f}"


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def child_memory(side: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run ``--only side`` in a fresh process; return what it printed as JSON."""
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--only",
        side,
        "--rows",
        str(args.rows),
        "--non-ascii",
        str(args.non_ascii),
    ] + (["--orjson-baseline"] if args.orjson_baseline else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-3000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def only_main(args: argparse.Namespace) -> None:
    """Child process: generate, warm up, reset the RSS high-water mark, evaluate once."""
    df = generate(args.rows, non_ascii=args.non_ascii)
    if args.only == "workbench":
        suite = make_suite()
        run_workbench(df.head(1000), suite)  # imports, caches
        fn = lambda: run_workbench(df, suite)
    else:
        run_pandas(df.head(1000))
        fn = lambda: run_pandas(df)
    gc.collect()
    gen_peak = _status_kb("VmHWM")  # high-water mark of data generation, before the reset
    rss_before = _status_kb("VmRSS")
    reset = _reset_peak()
    t, out = timed(fn)
    hwm = _status_kb("VmHWM")
    rss_after = _status_kb("VmRSS")
    result_mb = None
    if args.only == "workbench":
        result_mb = float(out.results.memory_usage(deep=True).sum()) / 2**20
    else:
        result_mb = float(out.memory_usage(deep=True).sum()) / 2**20
    data_mb = float(df.memory_usage(deep=True).sum()) / 2**20
    print(
        json.dumps(
            {
                "side": args.only,
                "seconds": t,
                "data_mb": data_mb,
                "rss_before_mb": rss_before / 1024 if rss_before else None,
                "peak_added_mb": (hwm - rss_before) / 1024 if (reset and hwm and rss_before) else None,
                "retained_mb": (rss_after - rss_before) / 1024 if (rss_after and rss_before) else None,
                "output_mb": result_mb,
                # absolute peak RSS while evaluating (data included); ru_maxrss would not do here:
                # a child forked from a big parent inherits the parent's high-water mark
                "abs_peak_mb": hwm / 1024 if (reset and hwm) else _maxrss_mb(),
                "gen_peak_mb": gen_peak / 1024 if gen_peak else None,
            }
        )
    )


# --- scouter --------------------------------------------------------------------------


def scouter_main(args: argparse.Namespace) -> None:
    """Child process under scouter's interpreter: read JSONL records, evaluate, count."""
    from scouter.evaluate import AssertionTask, ComparisonOperator, EvalDataset, EvalRecord

    with open(args.records) as f:
        rows = [json.loads(line) for line in f]
    tasks = [
        AssertionTask(
            id=cid, context_path=spath, operator=getattr(ComparisonOperator, sop), expected_value=sexp
        )
        for cid, _p, _o, _e, sop, sexp, spath in CHECKS
    ]
    gc.collect()
    rss_before = _status_kb("VmRSS")
    reset = _reset_peak()

    t0 = time.perf_counter()
    records = []
    for i, row in enumerate(rows):
        ctx = dict(row)
        # scouter's paths do not walk into JSON text, so the payload is parsed here; a null
        # in in_range, or a missing field, aborts the whole record, so they get fillers
        # that fail the check (as NaN / a missing key do on the other sides)
        obj = _loads_or_none(row["payload"])
        obj = dict(obj) if isinstance(obj, dict) else {}
        obj.setdefault("confidence", None)
        ctx["payload_obj"] = obj
        if ctx["score"] is None:
            ctx["score"] = -1.0
        records.append(EvalRecord(context=ctx, id=f"r{i}"))
    t_build = time.perf_counter() - t0

    t0 = time.perf_counter()
    results = EvalDataset(records=records, tasks=tasks).evaluate()
    t_eval = time.perf_counter() - t0
    hwm = _status_kb("VmHWM")

    passed = dict.fromkeys(CHECK_IDS, 0)
    errored_records = len(results.errored_tasks)
    for i in range(len(rows)):
        try:
            aligned = results[f"r{i}"]
        except RuntimeError:
            continue
        for tr in aligned.eval_set.records:
            if tr.passed:
                passed[tr.task_id] += 1
    print(
        json.dumps(
            {
                "side": "scouter",
                "rows": len(rows),
                "build_s": t_build,
                "eval_s": t_eval,
                "passed": passed,
                "errored_records": errored_records,
                "peak_added_mb": (hwm - rss_before) / 1024 if (reset and hwm and rss_before) else None,
                "abs_peak_mb": hwm / 1024 if (reset and hwm) else _maxrss_mb(),
            }
        )
    )


def run_scouter(args: argparse.Namespace, df: Any) -> dict[str, Any]:
    n = min(args.scouter_rows, len(df))
    sub = df.iloc[:n]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        path = f.name
        cols = {
            c: sub[c].tolist() for c in ["latency_ms", "tokens", "score", "response", "payload", "category"]
        }
        for i in range(n):
            row = {c: cols[c][i] for c in cols}
            if row["score"] != row["score"]:
                row["score"] = None
            f.write(json.dumps(row) + "\n")
    try:
        cmd = [args.scouter_python, os.path.abspath(__file__), "--only", "scouter", "--records", path]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-3000:]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["expected_passed"] = pandas_counts(run_pandas(sub))
    return out


# --- breakdown --------------------------------------------------------------------------


def breakdown(df: Any, reps: int) -> list[dict[str, Any]]:
    """Per check: workbench evaluate() of a one-task suite (engine and results-frame parts
    split when the internals are importable), and the pandas check alone."""

    try:
        from workbench.engine import Context, run_assertions
        from workbench.frame import _results_frame
    except ImportError:  # internals moved: fall back to the public API only
        Context = None  # type: ignore[assignment]

    steps = pandas_steps()
    rows = []
    all_blocks = []
    for cid in CHECK_IDS:
        suite = make_suite([cid])
        best = {"total": float("inf"), "engine": float("inf"), "frame": float("inf")}
        for _ in range(reps):
            t, _run = timed(run_workbench, df, suite)
            best["total"] = min(best["total"], t)
            del _run
            if Context is not None:
                try:
                    t0 = time.perf_counter()
                    blocks = run_assertions(suite, Context(df))
                    t1 = time.perf_counter()
                    _results_frame(blocks, df.index)
                    t2 = time.perf_counter()
                except Exception as e:  # internals changed shape: report the public numbers only
                    print(f"(engine/frame split unavailable: {type(e).__name__}: {e})")
                    Context = None  # type: ignore[assignment]
                    all_blocks = []
                    continue
                best["engine"] = min(best["engine"], t1 - t0)
                best["frame"] = min(best["frame"], t2 - t1)
        if Context is not None:
            all_blocks += blocks
        p_best = float("inf")
        for _ in range(reps):
            scratch: dict = {}
            t0 = time.perf_counter()
            if cid in ("payload_json", "confident"):
                steps["(parse payload)"](df, scratch)
            steps[cid](df, scratch)
            p_best = min(p_best, time.perf_counter() - t0)
        c = next(c for c in CHECKS if c[0] == cid)
        rows.append(
            {
                "check": cid,
                "op": c[2],
                "dtype": str(df[c[1].split(".")[0]].dtype),
                "wb_s": best["total"],
                "wb_engine_s": best["engine"],
                "wb_frame_s": best["frame"],
                "pandas_s": p_best,
            }
        )
    if Context is not None:
        t, _ = timed(_results_frame, all_blocks, df.index)
        rows.append(
            {
                "check": "(results frame, 10 blocks)",
                "op": "",
                "dtype": "",
                "wb_s": t,
                "wb_engine_s": float("nan"),
                "wb_frame_s": t,
                "pandas_s": float("nan"),
            }
        )
    return rows


def profile_top(df: Any, suite: Any, n: int = 20) -> str:
    import cProfile
    import io
    import pstats

    pr = cProfile.Profile()
    pr.enable()
    run_workbench(df, suite)
    pr.disable()
    buf = io.StringIO()
    pstats.Stats(pr, stream=buf).sort_stats("tottime").print_stats(n)
    return buf.getvalue()


# --- main -------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--only", choices=["workbench", "pandas", "scouter"], help="child-process mode")
    p.add_argument("--records", help=argparse.SUPPRESS)
    p.add_argument("--scouter-python", help="interpreter of a venv with scouter-ml (default: skip scouter)")
    p.add_argument(
        "--scouter-rows",
        type=int,
        default=50_000,
        help="rows given to scouter (default 50,000: it needs ~0.7 ms and ~40 KiB per record)",
    )
    p.add_argument(
        "--non-ascii",
        type=float,
        default=0.02,
        help="share of responses holding a non-ASCII character such as an em dash (default 0.02)",
    )
    p.add_argument(
        "--orjson-baseline",
        action="store_true",
        help="the pandas baseline parses JSON with orjson.loads instead of json.loads",
    )
    p.add_argument("--breakdown", action="store_true", help="time each check alone as well")
    p.add_argument("--profile", action="store_true", help="print a cProfile of one workbench run")
    p.add_argument("--no-memory", action="store_true", help="skip the child processes measuring memory")
    p.add_argument("--json", help="write the numbers to this path")
    args = p.parse_args()

    if args.orjson_baseline and args.only != "scouter":
        import orjson

        _BASELINE["loads"] = orjson.loads
    if args.only == "scouter":
        scouter_main(args)
        return
    if args.only:
        only_main(args)
        return

    import pandas as pd

    import workbench as wb

    report: dict[str, Any] = {
        "rows": args.rows,
        "reps": args.reps,
        "non_ascii": args.non_ascii,
        "python": sys.version.split()[0],
        "pandas": pd.__version__,
        "workbench": getattr(wb, "__version__", "?"),
        "commit": _git_state(),
        "json_baseline": "orjson" if args.orjson_baseline else "json",
        "loadavg_start": os.getloadavg(),
    }
    t_gen, df = timed(generate, args.rows, SEED, args.non_ascii)
    print(
        f"generated {args.rows:,} rows in {t_gen:.1f}s "
        f"({df.memory_usage(deep=True).sum() / 2**20:.0f} MiB; dtypes: "
        + ", ".join(f"{c}={t}" for c, t in df.dtypes.astype(str).items())
        + ")"
    )
    suite = make_suite()

    # warm-up: imports, regex and kernel caches
    run_pandas(df.head(2000))
    run_workbench(df.head(2000), suite)

    wb_times, pd_times = [], []
    wb_run = pd_frame = None
    for rep in range(args.reps):
        wb_run = pd_frame = None  # each rep starts from the same heap
        gc.collect()
        t, pd_frame = timed(run_pandas, df)
        pd_times.append(t)
        gc.collect()
        t, wb_run = timed(run_workbench, df, suite)
        wb_times.append(t)
        print(f"  rep {rep + 1}: pandas {pd_times[-1]:.2f}s  workbench {wb_times[-1]:.2f}s", flush=True)

    # agreement: workbench 'passed' == pandas True, per check
    wc = workbench_counts(wb_run)
    pc = pandas_counts(pd_frame)
    mismatches = []
    print(
        f"\n{'check':<16}{'op':<24}{'pandas pass':>12}{'wb pass':>10}{'wb fail':>10}"
        f"{'wb error':>10}{'pass %':>8}"
    )
    for cid, _path, op, *_ in CHECKS:
        w = wc[cid]
        flag = "" if w["passed"] == pc[cid] else "  <-- MISMATCH"
        if flag:
            mismatches.append(cid)
        print(
            f"{cid:<16}{op:<24}{pc[cid]:>12,}{w['passed']:>10,}{w['failed']:>10,}{w['error']:>10,}"
            f"{100 * pc[cid] / args.rows:>7.1f}%{flag}"
        )
    report["counts"] = {cid: {"pandas_passed": pc[cid], **wc[cid]} for cid in CHECK_IDS}
    n_reasons = int(wb_run.results["reason"].notna().sum())
    print(
        f"workbench results: {len(wb_run.results):,} rows, {n_reasons:,} with a reason, "
        f"{wb_run.results.memory_usage(deep=True).sum() / 2**20:.0f} MiB"
    )
    with tempfile.TemporaryDirectory() as store_dir:  # saving to the run store, not in the timings above
        t_save, run_id = timed(wb_run.save, store_dir)
        t_load, _ = timed(wb.load_run, run_id, store_dir)
        on_disk = sum(f.stat().st_size for f in os.scandir(store_dir) if f.is_file())
    report["store"] = {"save_s": t_save, "load_s": t_load, "size_mb": on_disk / 2**20}
    print(
        f"run store: save {t_save:.2f}s, load {t_load:.2f}s, {on_disk / 2**20:.1f} MiB on disk "
        "(evaluate(save=True), the default, adds the save time)"
    )
    del wb_run, pd_frame
    gc.collect()

    summary = {
        "pandas": {"best_s": min(pd_times), "median_s": statistics.median(pd_times), "all_s": pd_times},
        "workbench": {"best_s": min(wb_times), "median_s": statistics.median(wb_times), "all_s": wb_times},
    }
    ratio_best = min(wb_times) / min(pd_times)
    ratio_median = statistics.median(wb_times) / statistics.median(pd_times)
    report["timing"] = summary
    report["ratio_best"], report["ratio_median"] = ratio_best, ratio_median

    if not args.no_memory:
        for side in ("pandas", "workbench"):
            report.setdefault("memory", {})[side] = child_memory(side, args)

    scouter = None
    if args.scouter_python:
        scouter = run_scouter(args, df)
        report["scouter"] = scouter

    # --- the table ---
    report["loadavg_end"] = os.getloadavg()
    print(
        f"\n{args.rows:,} rows x {len(CHECKS)} assertions, {args.reps} reps; workbench {report['commit']}; "
        f"python {report['python']}, pandas {report['pandas']}, {os.cpu_count()} cpus, load average "
        f"{report['loadavg_start'][0]:.1f} -> {report['loadavg_end'][0]:.1f}; baseline JSON parser: "
        f"{report['json_baseline']}"
    )
    print(
        f"{'side':<12}{'best s':>9}{'median s':>10}{'rows/s':>13}{'peak +MiB':>11}"
        f"{'abs peak MiB':>14}{'output MiB':>12}"
    )
    for side in ("pandas", "workbench"):
        s = summary[side]
        m = report.get("memory", {}).get(side, {})
        peak = m.get("peak_added_mb")
        print(
            f"{side:<12}{s['best_s']:>9.2f}{s['median_s']:>10.2f}{args.rows / s['best_s']:>13,.0f}"
            f"{_num(peak):>11}{_num(m.get('abs_peak_mb')):>14}{_num(m.get('output_mb')):>12}"
        )
    if scouter is not None:
        if "error" in scouter:
            print(f"scouter     failed: {scouter['error'][-500:]}")
        else:
            per_m = scouter["eval_s"] / scouter["rows"] * 1e6
            wb_per_m = summary["workbench"]["best_s"] / args.rows * 1e6
            build_m = scouter["build_s"] / scouter["rows"] * 1e6
            print(
                f"{'scouter':<12}{scouter['eval_s']:>9.2f}{'':>10}"
                f"{scouter['rows'] / scouter['eval_s']:>13,.0f}"
                f"{_num(scouter.get('peak_added_mb')):>11}"
                f"{scouter['abs_peak_mb']:>14.0f}{'':>12}"
                f"   ({scouter['rows']:,} rows, 1 run; +{scouter['build_s']:.2f}s building EvalRecords)"
            )
            print(
                f"  scouter per 1M rows: evaluate {per_m:.1f}s, + records {build_m:.1f}s  "
                f"= {(per_m + build_m) / wb_per_m:.0f}x workbench (evaluate alone {per_m / wb_per_m:.0f}x; "
                f"workbench {wb_per_m:.1f}s per 1M rows)"
            )
            bad = [c for c in CHECK_IDS if scouter["passed"][c] != scouter["expected_passed"][c]]
            print(
                "  scouter pass counts "
                + (
                    "agree with pandas on every check"
                    if not bad
                    else "DIFFER on "
                    + ", ".join(
                        f"{c} ({scouter['passed'][c]} vs {scouter['expected_passed'][c]})" for c in bad
                    )
                )
                + f"; {scouter['errored_records']} records errored"
            )
    else:
        print("scouter     skipped (pass --scouter-python PATH to a venv with scouter-ml)")
    print(f"ratio workbench/pandas: best {ratio_best:.2f}x, median {ratio_median:.2f}x (goal <= 1.5x)")
    for side in ("pandas", "workbench"):
        m = report.get("memory", {}).get(side, {})
        if "error" in m:
            print(f"memory child {side} failed:\n{m['error']}")

    if args.breakdown:
        rows = breakdown(df, max(1, min(args.reps, 2)))
        report["breakdown"] = rows
        print(
            f"\nper check, alone (best of {max(1, min(args.reps, 2))}; wb = evaluate() of a one-task suite "
            "= engine + results frame):"
        )
        print(
            f"{'check':<28}{'op':<24}{'dtype':<8}{'wb s':>8}{'engine':>8}{'frame':>8}{'pandas s':>10}{'x':>7}"
        )
        for r in rows:
            ratio = r["wb_s"] / r["pandas_s"] if r["pandas_s"] == r["pandas_s"] else float("nan")
            print(
                f"{r['check']:<28}{r['op']:<24}{r['dtype']:<8}{r['wb_s']:>8.3f}{r['wb_engine_s']:>8.3f}"
                f"{r['wb_frame_s']:>8.3f}{r['pandas_s']:>10.3f}{ratio:>7.1f}"
            )
    if args.profile:
        print("\n" + profile_top(df, suite))

    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2, default=str)
        print(f"wrote {args.json}")
    if mismatches:
        print(f"FAIL: workbench and pandas disagree on {mismatches}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
