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
  to fix its reply once.

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

# internals, importable from here as they were before the split into a package
from ._prompt import (  # noqa: F401  (fence_token, like ScaleKind, is public but not in __all__)  # noqa: F401
    _FORBID,
    _ROLE,
    _UNTRUSTED,
    _inline_refs,
    _model_for,
    _placeholder,
    _schema_for,
    _shape,
    _system_text,
    _template_parts,
    build_messages,
    cut_middle,
    fence_token,
    render_prompt,
    repair_messages,
    response_format,
    system_prompt,
    verdict_model,
)
from ._scales import _BINARY, _RESOLVED, ResolvedCriterion, ScaleKind, _labels_text, _num, _resolve, effective  # noqa: F401  # noqa: F401
from ._verdict import (  # noqa: F401
    _DECODER,
    _FENCE,
    _OBJECT_START,
    Verdict,
    _check_one,
    _extract,
    _integer,
    _loads,
    _reject_constant,
    _show,
    overall,
    parse_verdict,
)

__all__ = [
    "ResolvedCriterion",
    "Verdict",
    "build_messages",
    "cut_middle",
    "effective",
    "overall",
    "parse_verdict",
    "render_prompt",
    "repair_messages",
    "response_format",
    "system_prompt",
    "verdict_model",
]
