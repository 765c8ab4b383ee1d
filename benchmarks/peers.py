"""workbench as one more engine in the shared peer benchmark harness, without modifying it.

The harness (``../shared/bench/bench/run_peers.py``) runs every peer (phoenix-evals,
pydantic-evals, ragas, deepeval, raw litellm) in its own child interpreter against its own
fake OpenAI server, and builds the child command from its module's ``__file__``. This
script loads that file as a module (from source, so nothing is written next to it),
registers ``peer_workbench`` in its ``PEERS`` and ``LIB_OF``, points the module's
``__file__`` at this script, and calls the harness's ``main()``. The harness's children
therefore run this script with ``--child PEER``, which registers the peer again and
dispatches to the harness's own child entry (network guard included).

The workbench peer judges what the ``litellm`` peer judges: one criterion, an integer
1-5 score with a reason, over the input, output and reference of each row
(``judge_user``/``RUBRIC`` in run_peers.py), through ``wb.evaluate_async`` (what
``wb.evaluate`` runs with ``asyncio.run`` in a script) with ``use_cache=False``. Only the
evaluation is timed into ``wall_s``; importing pandas, workbench and litellm and building
the frame and suite is ``import_s``, as for the other peers.

The peers' libraries are not in workbench's venv: make a separate one (the harness runs its
children with ``sys.executable``)::

    python3 -m venv /tmp/bench-venv
    /tmp/bench-venv/bin/pip install -r ../shared/bench/requirements.txt
    /tmp/bench-venv/bin/pip install -e .
    /tmp/bench-venv/bin/python benchmarks/peers.py --n 400 --c 16 --latency-ms 50 --reps 3
    /tmp/bench-venv/bin/python benchmarks/peers.py --n 2000 --c 64 --reps 1 --timeout 300 \\
        --peers litellm,workbench,pydantic_evals,ragas

Every option of run_peers.py works. Results go to ``benchmarks/out/peers/<tag>/`` unless
``--out-dir`` is given (never into shared/). The harness's location can be overridden with
``WORKBENCH_SHARED_BENCH=/path/to/run_peers.py``.
"""

from __future__ import annotations

import os
import sys
import time
import types
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_HARNESS = HERE.parent.parent / "shared" / "bench" / "bench" / "run_peers.py"


def load_harness(path: Path | None = None) -> types.ModuleType:
    """run_peers.py as a module named ``run_peers``, compiled from source (no __pycache__ is
    written beside it), with the workbench peer registered and children routed to this script."""
    path = Path(path or os.environ.get("WORKBENCH_SHARED_BENCH") or DEFAULT_HARNESS).resolve()
    if not path.is_file():
        sys.exit(f"shared benchmark harness not found at {path}; set WORKBENCH_SHARED_BENCH")
    mod = types.ModuleType("run_peers")
    mod.__file__ = str(path)
    sys.modules["run_peers"] = mod
    exec(compile(path.read_text(), str(path), "exec"), mod.__dict__)
    register(mod)
    # the harness builds its child command from Path(__file__): make it this script. HERE/ROOT
    # (server script, default output dir) were computed at load time and stay the harness's.
    mod.__file__ = str(Path(__file__).resolve())
    return mod


def register(mod: types.ModuleType) -> None:
    async def peer_workbench(ctx: Any) -> dict[str, Any]:
        """workbench: one JudgeTask, one criterion on a 1-5 integer scale, caching off."""
        t = time.perf_counter()
        import litellm  # noqa: F401 - workbench imports it lazily on the first call; here it is setup
        import pandas as pd

        import workbench as wb

        df = pd.DataFrame(ctx.rows).set_index("id")
        task = wb.JudgeTask(
            id="judge",
            prompt="INPUT:\n${input}\n\nOUTPUT:\n${output}\n\nREFERENCE:\n${reference}",
            guidelines="Compare the OUTPUT with the REFERENCE for the given INPUT.",
            scale=(1, 5),
            criteria=[wb.Criterion(name="correctness", description=mod.RUBRIC)],
        )
        suite = wb.Suite(name="bench", tasks=[task])
        ctx.import_s = time.perf_counter() - t
        t0 = time.perf_counter()
        run = await wb.evaluate_async(
            df,
            suite,
            model="openai/fake",
            api_base=ctx.base_url,
            api_key="x",
            concurrency=ctx.c,
            use_cache=False,
            progress=False,
        )
        wall = time.perf_counter() - t0
        res = run.results
        scored = res["score"].notna()
        errors = res["error"].notna()
        sample = res.loc[scored, ["score", "reason"]].head(1).to_dict("records")
        return {
            "wall_s": wall,
            "rows_ok": int(scored.sum()),
            "error_cells": int(errors.sum()),
            "first_error": str(res.loc[errors, "error"].iloc[0])[:300] if errors.any() else None,
            "calls": run.calls,
            "sample": str(sample)[:200],
        }

    mod.PEERS["workbench"] = peer_workbench
    mod.LIB_OF["workbench"] = "workbench"
    if "workbench" not in mod.DEFAULT_PEERS:
        mod.DEFAULT_PEERS.append("workbench")
    versions = mod.pkg_versions

    def pkg_versions() -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        out = versions()
        try:
            out["workbench"] = version("workbench")
        except PackageNotFoundError:
            out["workbench"] = None
        return out

    mod.pkg_versions = pkg_versions


def main() -> None:
    mod = load_harness()
    if "--child" not in sys.argv and not any(
        a == "--out-dir" or a.startswith("--out-dir=") for a in sys.argv
    ):
        sys.argv[1:1] = ["--out-dir", str(HERE / "out" / "peers")]  # never the harness's results/
    mod.main()


if __name__ == "__main__":
    main()
