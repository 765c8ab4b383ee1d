"""LLM-judge prompts and verdicts for a :class:`~workbench.specs.JudgeTask`. Pure: no I/O, no litellm.

A judge call is built from a task, the criteria judged in that call (all of them in
``joint`` mode, one in ``per_criterion`` mode) and a row:

* :func:`build_messages` gives the chat messages: a system message with the role, the
  criteria and their scale anchors, the guidelines and the output format; a user message
  with the task's prompt, every ``${path}`` value fenced as untrusted data.
* :func:`response_format` gives the verdict's JSON schema (OpenAI strict mode), built from
  :func:`verdict_model`.
* :func:`parse_verdict` turns the reply text into one :class:`Verdict` per criterion, or
  raises :class:`~workbench.errors.JudgeParseError`; :func:`repair_messages` asks the model
  to fix its reply once. :class:`VerdictReader` reads the many replies of one run's
  criteria as plain ``(score, label, passed, reason)`` readings.

Everything here is deterministic, because the messages and the schema are the cache key:
the same task and row give byte-identical messages, and in ``per_criterion`` mode an edit
to one criterion changes the messages of that criterion only.

Example:
    >>> from workbench.specs import Criterion, JudgeTask
    >>> task = JudgeTask(id="q", prompt="Answer: ${answer}", threshold=4,
    ...                  criteria=[Criterion(name="accuracy", description="Facts are right.")])
    >>> messages = build_messages(task, task.criteria, {"answer": "Paris"}.__getitem__)
    >>> [m["role"] for m in messages]
    ['system', 'user']
    >>> parse_verdict('{"accuracy": {"reason": "Correct.", "score": 5}}', task, task.criteria)
    {'accuracy': Verdict(score=5.0, label=None, passed=True, reason='Correct.')}
"""

from __future__ import annotations

from ._prompt import (
    build_messages,
    cut_middle,
    fence_token,
    render_prompt,
    repair_messages,
    response_format,
    system_prompt,
    verdict_model,
)
from ._scales import ResolvedCriterion, ScaleKind, effective
from ._verdict import Reading, Verdict, VerdictReader, overall, parse_verdict

__all__ = [
    "Reading",
    "ResolvedCriterion",
    "ScaleKind",
    "Verdict",
    "VerdictReader",
    "build_messages",
    "cut_middle",
    "effective",
    "fence_token",
    "overall",
    "parse_verdict",
    "render_prompt",
    "repair_messages",
    "response_format",
    "system_prompt",
    "verdict_model",
]
