"""The judge a notebook uses: a real model when one is configured, else the local server.

Notebooks start with a parameter cell (``MODEL = None``) and call
:func:`notebook_judge`: with a model named there or in ``$WORKBENCH_MODEL`` it is that
model, called through litellm with the usual credentials; with none, it is
:class:`JudgeServer`, started once per process on 127.0.0.1, and the notebook says in one
visible line that its verdicts are simulated, not a model's judgment.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from ._options import ServerOptions
from ._server import JudgeServer

__all__ = ["NotebookJudge", "notebook_judge"]

ENV = "WORKBENCH_MODEL"

_lock = threading.Lock()
_shared: dict[tuple[float, tuple[tuple[int, float], ...], float], JudgeServer] = {}
"""One local server per (latency, score weights, sampling noise), started on first use, for the process."""


class NotebookJudge(Mapping[str, Any]):
    """Which judge a notebook uses, as keyword arguments for ``evaluate``:
    ``wb.evaluate(df, suite, **judge)``.

    Attributes:
        model: the litellm model string.
        simulated: True when the verdicts come from the local test server.
        server: that server, when simulated.
    """

    def __init__(self, model: str, options: Mapping[str, Any], server: JudgeServer | None) -> None:
        self.model = model
        self.simulated = server is not None
        self.server = server
        self._kwargs = {"model": model, **options}

    def __getitem__(self, key: str) -> Any:
        return self._kwargs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kwargs)

    def __len__(self) -> int:
        return len(self._kwargs)

    @property
    def notice(self) -> str:
        """The one line a notebook shows about its judge."""
        if self.simulated:
            return (
                "Judge: SIMULATED verdicts from workbench's local test server (deterministic, not a "
                f"model's judgment). Set {ENV}=openai/gpt-4o-mini (or any litellm model) to use a real model."
            )
        return f"Judge: {self.model} (through litellm; credentials from the environment)."

    def __repr__(self) -> str:
        return self.notice

    def _repr_html_(self) -> str:
        style = "padding:4px 8px;border-left:4px solid " + ("#e69f00" if self.simulated else "#009e73")
        return f'<div style="{style}">{html.escape(self.notice)}</div>'


def notebook_judge(
    model: str | None = None,
    *,
    latency_ms: float = 2.0,
    score_weights: Mapping[int, float] | None = None,
    sampling_noise: float = 0.0,
) -> NotebookJudge:
    """The judge for a notebook: ``model``, else ``$WORKBENCH_MODEL``, else the local
    judge server (simulated verdicts, started once per process and per options).

    Args:
        model: a litellm model string, e.g. ``"openai/gpt-4o-mini"``.
        latency_ms: the simulated judge's latency per call.
        score_weights: how often the simulated judge gives each score, e.g. ``{5: 5, 4: 4,
            3: 1}`` for a lenient judge (see :attr:`ServerOptions.score_weights`); ``None``:
            every score equally often. A real model ignores it. Verdicts are cached as
            usual, so a cache written with other weights still answers for the same prompts.
        sampling_noise: how often the simulated judge, asked again at a temperature above 0,
            answers afresh (see :attr:`ServerOptions.sampling_noise`); a real model ignores it.

    Raises:
        ValueError: ``score_weights`` is not a mapping of integer scores to weights >= 0.

    Example:
        >>> judge = notebook_judge("openai/gpt-4o-mini")
        >>> judge.simulated, dict(judge)
        (False, {'model': 'openai/gpt-4o-mini'})
        >>> notebook_judge("openai/gpt-4o-mini", score_weights={5: 3, 4: 1}).model  # weights unused
        'openai/gpt-4o-mini'
    """
    chosen = model or os.environ.get(ENV, "").strip() or None
    key = (float(latency_ms), tuple(sorted((score_weights or {}).items())), float(sampling_noise))
    if chosen:
        # checked even when unused: a typo shows before the switch to a real model
        ServerOptions(score_weights=score_weights, sampling_noise=sampling_noise)
        return NotebookJudge(chosen, {}, None)
    with _lock:
        server = _shared.get(key)
        if server is None:
            server = _shared[key] = JudgeServer(
                latency_ms=latency_ms, score_weights=score_weights, sampling_noise=sampling_noise
            ).start()
    return NotebookJudge(server.model, server.litellm_kwargs, server)
