"""``wb.PairwiseTask``: which of two outputs is better, asked in both orders.

A pairwise judge is a :class:`~workbench.JudgeTask` whose criteria answer ``"1"``, ``"2"`` or
``"tie"`` about two outputs shown as *Output 1* and *Output 2*. :meth:`PairwiseTask.evaluate`
builds that task, runs it twice through :func:`~workbench.evaluate_async` (A first, then B
first), maps each verdict back to A or B, and reports per criterion the position-swap
inconsistency (the two orders name different winners), how often the first position won,
and B's win rate over A with a bootstrap interval. The engine and the runner are untouched:
a pairwise judgment is two ordinary judge runs and their reading.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..config import JudgeConfig
from ..display import findings_html
from ..errors import WorkbenchError
from ..frame import evaluate_async, run_sync
from ..run import Run
from ..specs import Criterion, JudgeTask, Suite

__all__ = ["PAIRWISE_COLUMNS", "PAIRWISE_TABLE_COLUMNS", "Pairwise", "PairwiseTask"]

VERDICTS = ("1", "2", "tie")
"""What a pairwise criterion answers: output 1 is better, output 2 is, or neither."""

SLOTS = ("output_1", "output_2")
"""Placeholders a prompt may use for the two outputs, in the order shown."""

PAIRWISE_COLUMNS: tuple[str, ...] = (
    "row",
    "task",
    "criterion",
    "status",
    "verdict_ab",
    "verdict_ba",
    "winner_ab",
    "winner_ba",
    "winner",
    "consistent",
    "preference_b",
    "reason_ab",
    "reason_ba",
    "error",
)
"""The columns of ``Pairwise.results``: per (row, criterion), the verdict with A shown first
(``verdict_ab``) and with B first (``verdict_ba``), each mapped to ``a``/``b``/``tie``, the
row's ``winner`` (the same in both orders, else ``inconsistent``), ``preference_b`` (B's share
of the two verdicts, a tie counting half), both reasons and an ``error`` when either order
failed (``status`` is then ``error`` and the row is left out of the figures)."""

PAIRWISE_TABLE_COLUMNS: tuple[str, ...] = (
    "task",
    "criterion",
    "n",
    "a_wins",
    "b_wins",
    "ties",
    "inconsistent",
    "swap_inconsistency",
    "first_position_rate",
    "win_rate_b",
    "win_rate_low",
    "win_rate_high",
    "errors",
)
"""The columns of ``Pairwise.table``, one row per criterion."""


class PairwiseTask(BaseModel):
    """A judge that says which of two outputs is better, per criterion, asked in both orders.

    The prompt gives the shared context (``${question}``...); the two outputs (the values at
    the paths ``a`` and ``b``) are shown after it as *Output 1* and *Output 2*, or where the
    prompt places ``${output_1}`` and ``${output_2}``. Each row is judged twice, A first and
    B first, so a judge that prefers a position is caught (``swap_inconsistency``) and its
    preference cancels out of the win rate. Outputs of two saved versions of an application
    are compared by putting them side by side in one DataFrame (a run stores verdicts, not
    the outputs judged), e.g. ``df.join(other["answer"].rename("answer_v2"))``.

    Example:
        >>> import workbench as wb
        >>> task = wb.PairwiseTask(id="better", prompt="Question: ${question}", a="answer_v1",
        ...     b="answer_v2", criteria=[wb.Criterion(name="helpful", description="Answers the question.")])
        >>> print(task.judge_task("ba").prompt)
        Question: ${question}
        <BLANKLINE>
        Output 1:
        ${answer_v2}
        <BLANKLINE>
        Output 2:
        ${answer_v1}
        >>> task.judge_task().criteria[0].scale
        ['1', '2', 'tie']
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: str
    """Names the judgment in results (``task``)."""
    prompt: str
    """The shared context, with ``${path}`` templates; may place ``${output_1}``/``${output_2}``."""
    a: str
    """The path of output A: a column (``"answer_v1"``) or a dot-path into one
    (``"response_v1.answer"``)."""
    b: str
    """The path of output B."""
    criteria: list[Criterion] = Field(min_length=1)
    """What "better" means; each criterion gets its own verdict."""
    ties: bool = True
    """Allow ``"tie"`` as a verdict."""
    guidelines: str = ""
    """Extra instructions for the judge."""
    model: str | None = None
    """A litellm model string overriding the run's model."""

    @field_validator("a", "b")
    @classmethod
    def _source(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name the column (or path) that holds the output")
        return value

    def judge_task(self, order: str = "ab") -> JudgeTask:
        """The :class:`~workbench.JudgeTask` asked with A shown first (``"ab"``) or B first (``"ba"``)."""
        if order not in ("ab", "ba"):
            raise WorkbenchError(f"order={order!r}: the order is 'ab' (A shown first) or 'ba'")
        first, second = (self.a, self.b) if order == "ab" else (self.b, self.a)
        prompt = self.prompt
        if not all(f"${{{s}}}" in prompt for s in SLOTS):
            prompt = f"{prompt}\n\nOutput 1:\n${{{SLOTS[0]}}}\n\nOutput 2:\n${{{SLOTS[1]}}}"
        prompt = prompt.replace(f"${{{SLOTS[0]}}}", f"${{{first}}}").replace(
            f"${{{SLOTS[1]}}}", f"${{{second}}}"
        )
        answers = '"1" if Output 1 is better, "2" if Output 2 is better' + (
            ', "tie" if neither is' if self.ties else ""
        )
        scale = list(VERDICTS if self.ties else VERDICTS[:2])
        criteria = [
            c.model_copy(
                update={
                    "description": f"{c.description}\nWhich output is better on this? Answer {answers}.",
                    "scale": scale,
                    "threshold": None,
                }
            )
            for c in self.criteria
        ]
        guidelines = (
            "You compare two outputs for the same input. Judge them on their content only: the order "
            "they are shown in and their length say nothing about which is better."
        )
        return JudgeTask(
            id=self.id,
            prompt=prompt,
            criteria=criteria,
            scale=scale,
            guidelines=f"{guidelines}\n{self.guidelines}".strip(),
            model=self.model,
        )

    def suite(self, order: str = "ab") -> Suite:
        """A suite of the one judge task in that order (``version``: a hash of this task, and
        the order)."""
        digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:8]
        return Suite(name=f"pairwise-{self.id}", version=f"{digest}-{order}", tasks=[self.judge_task(order)])

    def evaluate(
        self,
        df: pd.DataFrame,
        *,
        judge: JudgeConfig | None = None,
        model: str | None = None,
        rows: Any = None,
        progress: bool | Callable[[Any], Any] = False,
        confidence: float = 0.95,
        n_boot: int = 2000,
        seed: int = 0,
        **options: Any,
    ) -> Pairwise:
        """Judge every row in both orders; see :meth:`evaluate_async` for async code.

        Args:
            df: one row per input, with the columns of ``a`` and ``b`` (never modified).
            judge, model, **options: how judge calls are made, as in :func:`~workbench.evaluate`.
            rows: only these rows (index labels or a boolean mask).
            progress: show the progress bars of the two runs.
            confidence, n_boot, seed: the win rate's percentile bootstrap interval.

        Returns:
            A :class:`Pairwise`; ``wb.compare(pairwise)`` reads it as B against A.

        Raises:
            ColumnsError: ``a``, ``b`` or a template of the prompt names no column (before any call).
            WorkbenchError, ConfigError: as :func:`~workbench.evaluate`.
        """
        return run_sync(
            lambda: self.evaluate_async(
                df,
                judge=judge,
                model=model,
                rows=rows,
                progress=progress,
                confidence=confidence,
                n_boot=n_boot,
                seed=seed,
                **options,
            )
        )

    async def evaluate_async(
        self,
        df: pd.DataFrame,
        *,
        judge: JudgeConfig | None = None,
        model: str | None = None,
        rows: Any = None,
        progress: bool | Callable[[Any], Any] = False,
        confidence: float = 0.95,
        n_boot: int = 2000,
        seed: int = 0,
        **options: Any,
    ) -> Pairwise:
        """:meth:`evaluate` for async code."""
        import asyncio

        config = JudgeConfig.build(judge, model=model, **options)
        run_ab, run_ba = await asyncio.gather(
            evaluate_async(df, self.suite("ab"), rows=rows, judge=config, progress=progress, save=False),
            evaluate_async(df, self.suite("ba"), rows=rows, judge=config, progress=progress, save=False),
        )
        return Pairwise.of(self, run_ab, run_ba, confidence=confidence, n_boot=n_boot, seed=seed)


@dataclass(eq=False)
class Pairwise:
    """What :meth:`PairwiseTask.evaluate` returns: B against A, per row and criterion.

    Attributes:
        task: the pairwise task.
        results: per (row, criterion), both verdicts and the winner (:data:`PAIRWISE_COLUMNS`).
        table: per criterion (:data:`PAIRWISE_TABLE_COLUMNS`): ``n`` rows judged in both
            orders; ``a_wins``/``b_wins``/``ties`` where both orders agree, ``inconsistent``
            where they do not; ``swap_inconsistency`` = inconsistent / n; ``first_position_rate``,
            the share of non-tie verdicts that chose the output shown first (0.5 for a judge
            with no position bias); ``win_rate_b``, the mean of ``preference_b`` (B winning
            both orders counts 1, a tie or a split 0.5), with its bootstrap interval;
            ``errors``, rows left out because an order failed.
        run_ab, run_ba: the two judge runs (A shown first, B shown first).
        confidence: level of the interval.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> from workbench.testing import JudgeServer
        >>> task = wb.PairwiseTask(id="better", prompt="Which reads better?", a="v1", b="v2",
        ...     criteria=[wb.Criterion(name="clarity", description="Easy to follow.")])
        >>> df = pd.DataFrame({"v1": ["ok", "fine", "so-so"], "v2": ["great", "good", "best"]})
        >>> always_first = lambda body: '{"clarity": {"reason": "the first", "label": "1"}}'
        >>> with JudgeServer(script=always_first) as server:
        ...     p = task.evaluate(df, model=server.model, **server.litellm_kwargs, use_cache=False)
        >>> p.table[["n", "inconsistent", "swap_inconsistency", "first_position_rate", "win_rate_b"]]
           n  inconsistent  swap_inconsistency  first_position_rate  win_rate_b
        0  3             3                 1.0                  1.0         0.5
    """

    task: PairwiseTask
    results: pd.DataFrame
    table: pd.DataFrame
    run_ab: Run
    run_ba: Run
    confidence: float = 0.95

    @classmethod
    def of(
        cls,
        task: PairwiseTask,
        run_ab: Run,
        run_ba: Run,
        *,
        confidence: float = 0.95,
        n_boot: int = 2000,
        seed: int = 0,
    ) -> Pairwise:
        """The reading of the two runs (A first, B first) of ``task.judge_task()``."""
        keys = ["row", "task", "criterion"]
        ab = run_ab.results[[*keys, "status", "label", "reason", "error"]]
        ba = run_ba.results[[*keys, "status", "label", "reason", "error"]]
        both = ab.merge(ba, on=keys, how="outer", suffixes=("_ab", "_ba"), sort=False)
        ok = both["status_ab"].astype(str).isin(["scored", "passed", "failed"]) & both["status_ba"].astype(
            str
        ).isin(["scored", "passed", "failed"])
        verdict_ab = both["label_ab"].astype(object).where(ok, None)
        verdict_ba = both["label_ba"].astype(object).where(ok, None)
        winner_ab = verdict_ab.map({"1": "a", "2": "b", "tie": "tie"})
        winner_ba = verdict_ba.map({"1": "b", "2": "a", "tie": "tie"})
        consistent = (winner_ab == winner_ba).where(ok, None)
        winner = winner_ab.where(consistent.fillna(False).astype(bool), "inconsistent").where(ok, None)
        share = {"a": 0.0, "tie": 0.5, "b": 1.0}
        preference = (winner_ab.map(share) + winner_ba.map(share)) / 2
        errors = both["error_ab"].astype(object).where(both["error_ab"].notna(), both["error_ba"])
        results = pd.DataFrame(
            {
                "row": both["row"].to_numpy(dtype=object),
                "task": pd.array(both["task"].astype(str), dtype="string"),
                "criterion": pd.array(both["criterion"].astype(str), dtype="string"),
                "status": pd.array(np.where(ok, "judged", "error"), dtype="string"),
                "verdict_ab": pd.array(verdict_ab, dtype="string"),
                "verdict_ba": pd.array(verdict_ba, dtype="string"),
                "winner_ab": pd.array(winner_ab, dtype="string"),
                "winner_ba": pd.array(winner_ba, dtype="string"),
                "winner": pd.array(winner, dtype="string"),
                "consistent": pd.array(consistent, dtype="boolean"),
                "preference_b": pd.array(preference.to_numpy(dtype=np.float64), dtype="Float64"),
                "reason_ab": pd.array(both["reason_ab"].astype(object), dtype="string"),
                "reason_ba": pd.array(both["reason_ba"].astype(object), dtype="string"),
                "error": pd.array(errors.where(~ok, None), dtype="string"),
            }
        )
        table = _table(results, confidence, n_boot, seed)
        return cls(task, results, table, run_ab, run_ba, confidence)

    def sides(self) -> tuple[Run, Run]:
        """The pairwise results as two runs ``wb.compare`` reads, A then B: per (row, criterion)
        a ``scored`` cell whose score is that side's preference share (B's is ``preference_b``,
        A's its complement), so the comparison's delta is B's preference over A's, its wins
        the rows B won in both orders. Rows where an order failed are error cells."""
        r = self.results
        judged = (r["status"] == "judged").to_numpy(dtype=bool)
        preference = r["preference_b"].to_numpy(dtype=np.float64, na_value=np.nan)
        suite = self.task.suite()

        def side(score: np.ndarray, name: str) -> Run:
            n = len(r)
            frame = pd.DataFrame(
                {
                    "row": r["row"].to_numpy(dtype=object),
                    "task": r["task"],
                    "criterion": r["criterion"],
                    "kind": pd.array(["judge"] * n, dtype="string"),
                    "status": pd.array(np.where(judged, "scored", "error"), dtype="string"),
                    "passed": pd.array([None] * n, dtype="boolean"),
                    "score": pd.array(np.where(judged, score, np.nan), dtype="Float64"),
                    "label": r["winner"],
                    "reason": r["reason_ab"],
                    "error": r["error"],
                }
            )
            return Run(suite=suite, results=frame, label=name)

        return side(1 - preference, self.task.a), side(preference, self.task.b)

    def _lines(self) -> list[str]:
        t = self.task
        lines = [f"Pairwise {t.id!r}: B ({t.b}) against A ({t.a}), each row judged in both orders"]
        for r in self.table.to_dict("records"):
            parts = [f"n={r['n']}"]
            if r["n"]:
                parts.append(
                    f"B wins {r['b_wins']}, A wins {r['a_wins']}, ties {r['ties']}, "
                    f"inconsistent {r['inconsistent']} "
                    f"(position-swap inconsistency {r['swap_inconsistency']:.0%})"
                )
                parts.append(
                    f"B's win rate {r['win_rate_b']:.2f} [{r['win_rate_low']:.2f}, {r['win_rate_high']:.2f}]"
                )
                if pd.notna(r["first_position_rate"]):
                    parts.append(f"first position chosen {r['first_position_rate']:.0%}")
            if r["errors"]:
                parts.append(f"{r['errors']} rows left out (an order failed)")
            lines.append(f"  {r['criterion']}: " + ", ".join(parts))
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._lines())

    def _repr_html_(self) -> str:
        return findings_html(self._lines(), self.table, 3)


def _table(results: pd.DataFrame, confidence: float, n_boot: int, seed: int) -> pd.DataFrame:
    rows = []
    for (task, criterion), part in results.groupby(["task", "criterion"], sort=False, observed=True):
        judged = part[part["status"] == "judged"]
        winner = judged["winner"].astype(str)
        chosen = pd.concat([judged["verdict_ab"], judged["verdict_ba"]]).astype(str)
        decided = chosen[chosen != "tie"]
        preference = judged["preference_b"].to_numpy(dtype=np.float64)
        n = len(judged)
        low, high = _bootstrap(preference, confidence, n_boot, seed, f"{task}\x1f{criterion}")
        rows.append(
            {
                "task": str(task),
                "criterion": str(criterion),
                "n": n,
                "a_wins": int((winner == "a").sum()),
                "b_wins": int((winner == "b").sum()),
                "ties": int((winner == "tie").sum()),
                "inconsistent": int((winner == "inconsistent").sum()),
                "swap_inconsistency": float((winner == "inconsistent").mean()) if n else np.nan,
                "first_position_rate": float((decided == "1").mean()) if len(decided) else np.nan,
                "win_rate_b": float(preference.mean()) if n else np.nan,
                "win_rate_low": low,
                "win_rate_high": high,
                "errors": int(len(part) - n),
            }
        )
    out = pd.DataFrame(rows, columns=list(PAIRWISE_TABLE_COLUMNS))
    for c in ("task", "criterion"):
        out[c] = out[c].astype("string")
    for c in ("n", "a_wins", "b_wins", "ties", "inconsistent", "errors"):
        out[c] = out[c].astype("Int64")
    for c in ("swap_inconsistency", "first_position_rate", "win_rate_b", "win_rate_low", "win_rate_high"):
        out[c] = pd.array(out[c].to_numpy(dtype=np.float64), dtype="Float64")
    return out


def _bootstrap(
    values: np.ndarray, confidence: float, n_boot: int, seed: int, name: str
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, seeded by ``seed`` and the criterion."""
    if len(values) == 0:
        return float("nan"), float("nan")
    key = int.from_bytes(hashlib.sha256(f"{seed}\x1f{name}".encode()).digest()[:8], "little")
    rng = np.random.default_rng(key)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
