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

from ._server import JudgeServer

__all__ = ["NotebookJudge", "notebook_judge"]

ENV = "WORKBENCH_MODEL"

_lock = threading.Lock()
_shared: JudgeServer | None = None


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


def notebook_judge(model: str | None = None, *, latency_ms: float = 2.0) -> NotebookJudge:
    """The judge for a notebook: ``model``, else ``$WORKBENCH_MODEL``, else the local
    judge server (simulated verdicts, started once per process).

    Args:
        model: a litellm model string, e.g. ``"openai/gpt-4o-mini"``.
        latency_ms: the simulated judge's latency per call.

    Example:
        >>> judge = notebook_judge("openai/gpt-4o-mini")
        >>> judge.simulated, dict(judge)
        (False, {'model': 'openai/gpt-4o-mini'})
    """
    chosen = model or os.environ.get(ENV, "").strip() or None
    if chosen:
        return NotebookJudge(chosen, {}, None)
    global _shared  # noqa: PLW0603 - one shared server per kernel, made on first use
    with _lock:
        if _shared is None:
            _shared = JudgeServer(latency_ms=latency_ms).start()
    return NotebookJudge(_shared.model, _shared.litellm_kwargs, _shared)
