"""Benchmark: warm reruns from workbench's cache, this checkout against a baseline, side by side.

10,000 rows x 5 criteria (``--n``, ``--criteria``) judged ``joint`` (10,000 calls) and
``per_criterion`` (50,000 calls). A cold pass fills a cache through this checkout's code,
against workbench's fake judge server in its own process (``python -m workbench.testing``,
0 ms latency, stopped by PID). Then, for ``--reps`` rounds, each side runs in a fresh child
interpreter whose ``workbench`` is that side's (``PYTHONPATH``):

* ``fresh``: the first ``wb.evaluate`` of the process (after ``import workbench`` and building
  the frame, litellm not imported), so lazy imports, opening the cache and reading every
  verdict from disk count;
* ``same process``: a second ``wb.evaluate`` in that process, the notebook case (a cell
  rerun in the same kernel).

Both evaluations save the run in a run store (the default, as a user's would). The sides
alternate within each round, so load on the machine hits both alike; medians are reported,
with the ratio this/baseline from the same run. Each warm pass must make 0 requests (the
baseline's included: the cache keys did not change), and each side's results must be equal
to the other's (a digest of the whole results frame, dtypes included, minus ``latency_s``).
The header prints the load average and the CPU pressure (``/proc/pressure/cpu``) at start and
end: on a shared machine, compare the ratios and CPU seconds, not wall seconds across runs.

Usage:
    .venv/bin/python benchmarks/warm_rerun.py                      # this checkout only
    .venv/bin/python benchmarks/warm_rerun.py --baseline-ref main  # and main, side by side
    .venv/bin/python benchmarks/warm_rerun.py --baseline /path/to/other/checkout --reps 5
    .venv/bin/python benchmarks/warm_rerun.py --keep-cache /tmp/wb-warm-caches   # reuse cold fills
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import judge_throughput as jt  # noqa: E402 - the shared data, suite, server and child runner


def child(a: argparse.Namespace) -> dict[str, Any]:
    """Two evaluations in this process: the first (fresh) and the second (same process)."""
    import workbench as wb

    df = jt._frame(jt.make_rows(a.n))
    suite = jt.make_suite(a.criteria, a.mode)
    kw: dict[str, Any] = {
        "model": a.model,
        "api_base": f"http://127.0.0.1:{a.port}/v1",
        "api_key": jt.API_KEY,
        "concurrency": 64,
        "progress": False,
        "use_cache": True,
        "cache_dir": a.cache_dir,
    }
    out: dict[str, Any] = {"workbench": os.path.dirname(os.path.dirname(wb.__file__))}
    for phase in ("fresh", "same"):
        run, wall, cpu = jt._timed(lambda: wb.evaluate(df, suite, **kw))
        out[phase] = {
            "wall_s": wall,
            "cpu_s": cpu,
            "cells_ok": jt._cells_ok(run),
            "cache_hits": run.calls.get("cache_hits"),
            "saved": run.id is not None,
            "digest": _digest(run.results),
        }
    out["litellm_imported"] = "litellm" in sys.modules
    return out


def _digest(results: Any) -> str:
    """A hash of the results frame: every value and dtype, but the (timing) latency column."""
    import pandas as pd

    r = results.drop(columns=["latency_s"])
    h = hashlib.sha256(str(list(r.dtypes.astype(str))).encode())
    h.update(pd.util.hash_pandas_object(r, index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


def run_side(
    server: jt.Server, side: str, path: str, mode: str, cache: str, a: argparse.Namespace
) -> dict[str, Any]:
    env = {
        **os.environ,
        **jt.CHILD_ENV,
        "PYTHONPATH": path,
        "WORKBENCH_HOME": tempfile.mkdtemp(prefix="wb-warm-home-"),
    }
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--port",
        str(server.port),
        "--n",
        str(a.n),
        "--criteria",
        str(a.criteria),
        "--mode",
        mode,
        "--model",
        a.model,
        "--cache-dir",
        cache,
    ]
    jt._http(server.port, "/reset", "POST")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(HERE), timeout=600)
    finally:
        shutil.rmtree(env["WORKBENCH_HOME"], ignore_errors=True)
    res: dict[str, Any] = {"status": "no-result", "stderr": proc.stderr[-2000:]}
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            res = json.loads(line[len("BENCH_RESULT ") :])
    res.update(side=side, mode=mode, requests=jt._stats(server.port)["requests"])
    return res


def fill(server: jt.Server, mode: str, cache: str, a: argparse.Namespace) -> dict[str, Any]:
    """The cold pass: every call made through this checkout's code, C=64."""
    marker = Path(cache) / f"filled-{a.n}x{a.criteria}"
    if marker.exists():
        return {"status": "ok", "reused": True, "requests": 0, "wall_s": float("nan")}
    r = jt.run_child_cpu(
        server,
        "workbench",
        n=a.n,
        c=64,
        criteria=a.criteria,
        mode=mode,
        model=a.model,
        extra=["--cache-dir", cache],
    )
    if r.get("status") == "ok" and r.get("cells_ok") == a.n * a.criteria:
        marker.touch()
    return r


def _baseline(a: argparse.Namespace, scratch: str) -> str | None:
    if a.baseline:
        return str(Path(a.baseline).resolve())
    if not a.baseline_ref:
        return None
    target = Path(scratch) / "baseline"
    target.mkdir()
    archive = subprocess.run(
        ["git", "archive", a.baseline_ref, "workbench"], cwd=REPO, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return str(target)


def _pressure() -> str:
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return "n/a"


def _med(rs: list[dict[str, Any]], phase: str, key: str) -> float:
    return statistics.median(r[phase][key] for r in rs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--criteria", type=int, default=5)
    p.add_argument("--modes", default="joint,per_criterion")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--model", default=jt.MODEL)
    p.add_argument("--baseline", default=None, help="a workbench checkout to compare with")
    p.add_argument("--baseline-ref", default=None, help="a git ref of this repository to compare with")
    p.add_argument("--keep-cache", default=None, help="fill caches here once and reuse them in later runs")
    p.add_argument("--json", default=None, help="write every raw result here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--mode", default="joint", help=argparse.SUPPRESS)
    p.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        try:
            out = {"status": "ok", **child(a)}
        except Exception as e:  # report, don't crash the parent
            out = {"status": "error", "error": f"{type(e).__name__}: {e}"[:1000]}
        print("BENCH_RESULT " + json.dumps(out), flush=True)
        os._exit(0)

    os.environ["PYTHONPATH"] = str(REPO)  # the cold fill and the server run this checkout's code
    scratch = tempfile.mkdtemp(prefix="wb-warm-bench-")
    sides = [("this", str(REPO))]
    base = _baseline(a, scratch)
    if base:
        sides.insert(0, ("baseline", base))
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    print(
        f"# warm reruns, {a.n:,} rows x {a.criteria} criteria; {a.reps} rounds; this = {REPO} "
        f"({head.stdout.strip()}){'; baseline = ' + (a.baseline_ref or base) if base else ''}\n"
        f"# start: load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}, cpu pressure {_pressure()}",
        flush=True,
    )
    server = jt.Server(0.0)
    results: list[dict[str, Any]] = []
    header = (
        "| mode | side | fresh wall s (min-max) | fresh CPU s | same process wall s (min-max) "
        "| same process CPU s | requests | cells ok | results digest |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    try:
        for mode in a.modes.split(","):
            root = a.keep_cache or scratch
            cache = os.path.join(root, f"cache-{mode}-{a.n}x{a.criteria}")
            cold = fill(server, mode, cache, a)
            print(
                f"{mode} cold: {cold.get('status')} reused={cold.get('reused', False)} "
                f"wall={cold.get('wall_s', 0):.1f}s requests={cold['requests']}",
                file=sys.stderr,
                flush=True,
            )
            per_side: dict[str, list[dict[str, Any]]] = {s: [] for s, _ in sides}
            for rep in range(a.reps):
                for side, path in sides if rep % 2 == 0 else sides[::-1]:
                    r = run_side(server, side, path, mode, cache, a)
                    r["rep"] = rep
                    results.append(r)
                    if r.get("status") == "ok":
                        per_side[side].append(r)
                    print(
                        f"{mode} {side} rep={rep}: {r.get('status')} "
                        + (
                            f"fresh={r['fresh']['wall_s']:.3f}s/{r['fresh']['cpu_s']:.3f}cpu "
                            f"same={r['same']['wall_s']:.3f}s/{r['same']['cpu_s']:.3f}cpu req={r['requests']}"
                            if r.get("status") == "ok"
                            else r.get("error", r.get("stderr", ""))[-300:]
                        ),
                        file=sys.stderr,
                        flush=True,
                    )
            for side, _ in sides:
                rs = per_side[side]
                if not rs:
                    lines.append(f"| {mode} | {side} | failed | | | | | | |")
                    continue
                fw = [r["fresh"]["wall_s"] for r in rs]
                sw = [r["same"]["wall_s"] for r in rs]
                digests = {r[ph]["digest"] for r in rs for ph in ("fresh", "same")}
                ok = min(r[ph]["cells_ok"] for r in rs for ph in ("fresh", "same"))
                lines.append(
                    f"| {mode} | {side} | {statistics.median(fw):.3f} ({min(fw):.3f}-{max(fw):.3f}) "
                    f"| {_med(rs, 'fresh', 'cpu_s'):.3f} "
                    f"| {statistics.median(sw):.3f} ({min(sw):.3f}-{max(sw):.3f}) "
                    f"| {_med(rs, 'same', 'cpu_s'):.3f} | {max(r['requests'] for r in rs)} "
                    f"| {ok}/{a.n * a.criteria} | {', '.join(sorted(digests))} |"
                )
            if base and per_side["this"] and per_side["baseline"]:
                ratios = [
                    _med(per_side["this"], ph, k) / _med(per_side["baseline"], ph, k)
                    for ph, k in (
                        ("fresh", "wall_s"),
                        ("fresh", "cpu_s"),
                        ("same", "wall_s"),
                        ("same", "cpu_s"),
                    )
                ]
                lines.append(
                    f"| {mode} | this/baseline | " + " | ".join(f"{x:.2f}x" for x in ratios) + " | | | |"
                )
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"# end: load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}, cpu pressure {_pressure()}")
    print("\n".join(lines))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    bad = [r for r in results if r.get("status") != "ok" or r["requests"]]
    digests = {
        (r["mode"], r[ph]["digest"]) for r in results if r.get("status") == "ok" for ph in ("fresh", "same")
    }
    if bad or len(digests) != len({m for m, _ in digests}):
        print("FAILED: a warm pass errored, made requests, or the sides' results differ", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
