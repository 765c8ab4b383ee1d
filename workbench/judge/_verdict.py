"""The judge's reply: :class:`Verdict`, :func:`parse_verdict` (tolerant JSON extraction, strict
validation) and :func:`overall`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency
    _orjson = None  # type: ignore[assignment]

from ..errors import JudgeParseError, shorten
from ..paths import compact_json
from ..specs import Criterion, JudgeTask
from ._scales import ResolvedCriterion, _labels_text, _resolve

# --- verdicts ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The judge's validated verdict on one criterion.

    Example:
        >>> Verdict(score=4.0, label=None, passed=True, reason="Mostly right.").score
        4.0
    """

    score: float | None
    """The numeric score (``range``, ``binary``, ``mapping``); ``None`` for a ``labels`` scale."""
    label: str | None
    """The canonical label (``binary``, ``labels``, ``mapping``); ``None`` for a ``range``."""
    passed: bool | None
    """Whether the threshold is met; ``None`` when nothing makes it pass or fail."""
    reason: str
    """The judge's explanation (``""`` when it gave none)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\r?\n?(.*?)```", re.DOTALL)
_OBJECT_START = re.compile(r"\{\s*(?:\"|\})")


def _loads(text: str) -> Any:
    if _orjson is not None:  # strict JSON like _DECODER, several times faster; it decides only successes
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass
    obj, end = _DECODER.raw_decode(text)
    if text[end:].strip():
        raise ValueError("extra text after the JSON value")
    return obj


def _extract(text: str) -> dict[str, Any]:
    """The verdict object in a reply: the whole text, else a code fence, else the first JSON
    object in surrounding prose."""
    stripped = text.strip()
    if not stripped:
        raise JudgeParseError("the reply is empty", raw=text)
    try:
        obj = _loads(stripped)
    except ValueError:
        pass
    else:
        if isinstance(obj, dict):
            return obj
        if isinstance(obj, str) and obj.strip().startswith("{"):  # a verdict encoded twice
            try:
                return _extract(obj)
            except JudgeParseError:
                pass
    for m in _FENCE.finditer(text):
        try:
            obj = _loads(m.group(1).strip())
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    pos = text.find("{")
    while pos != -1:
        try:
            obj, _ = _DECODER.raw_decode(text, pos)
        except ValueError as e:
            # a '{' that starts like JSON but does not parse is a broken verdict; reading on
            # would pick an inner object of it, e.g. one criterion of a truncated reply
            if _OBJECT_START.match(text, pos):
                why = str(e)
                if isinstance(e, json.JSONDecodeError):
                    why = f"{e.msg.removesuffix(' at')} at character {e.pos + 1}"
                raise JudgeParseError(
                    f"the JSON object starting at character {pos + 1} of the reply is invalid or "
                    f"truncated: {why}",
                    raw=text,
                ) from None
        else:
            return obj
        pos = text.find("{", pos + 1)
    raise JudgeParseError(f"the reply holds no JSON object (it reads {shorten(stripped, 60)!r})", raw=text)


def _show(value: Any) -> str:
    return shorten(json.dumps(value, ensure_ascii=False, default=str), 60)


def _integer(value: Any) -> int | None:
    """An integer score from ``4``, ``4.0``, ``"4"`` or ``"4.0"``; ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return int(number) if number.is_integer() else None
    return None


def _check_one(rc: ResolvedCriterion, entry: Any) -> Verdict | str:
    """A verdict, or what is wrong with ``entry``."""
    if not isinstance(entry, dict):  # a bare score or label, without a reason
        entry = {rc.field: entry}
    reason = entry.get("reason")
    reason = "" if reason is None else reason if isinstance(reason, str) else compact_json(reason)
    where = f"criterion {rc.name!r}"
    if rc.kind == "range":
        if "score" not in entry:
            return f'{where} has no "score" (an integer from {rc.low} to {rc.high})'
        raw_score = entry["score"]
        score = _integer(raw_score)
        if score is None:
            return (
                f"{where}: score {_show(raw_score)} is not an integer "
                f"(the scale is the integers {rc.low}..{rc.high})"
            )
        if not rc.low <= score <= rc.high:  # type: ignore[operator]
            return f"{where}: score {_show(raw_score)} is outside the scale {rc.low}..{rc.high}"
        value = float(score)
        return Verdict(score=value, label=None, passed=rc.passed(value, None), reason=reason)
    raw_label = entry.get("label")
    if raw_label is None and isinstance(entry.get("score"), str):
        raw_label = entry["score"]  # the label written under "score"
    if raw_label is None:
        return f'{where} has no "label" (one of {_labels_text(rc.labels)})'
    label = None
    if isinstance(raw_label, str):
        folded = raw_label.strip().casefold()
        label = next((lab for lab in rc.labels if lab.casefold() == folded), None)
    if label is None:
        return f"{where}: label {_show(raw_label)} is not one of {_labels_text(rc.labels)}"
    score_ = rc.score_of(label)
    return Verdict(score=score_, label=label, passed=rc.passed(score_, label), reason=reason)


def parse_verdict(text: str, task: JudgeTask, criteria: Sequence[Criterion]) -> dict[str, Verdict]:
    """Parse and validate a judge's reply into one :class:`Verdict` per criterion.

    Extraction is tolerant: the whole text as JSON; else the first ```` ```json ```` (or
    bare ```` ``` ````) fence holding an object; else the first JSON object in surrounding
    prose. A ``{`` that starts like JSON but does not parse (a truncated reply) is an error,
    not a reason to look further in.

    Validation is strict: every criterion must be present (extra keys are ignored). A range
    score must be an integer within the range: ``4``, ``4.0`` and ``"4"`` are accepted as 4,
    ``4.5`` and ``"four"`` are not, and booleans are not numbers. A label must be one of the
    scale's labels, matched ignoring case and surrounding spaces, and is returned in its
    canonical spelling. A missing or null ``reason`` is ``""``; a non-string one becomes
    compact JSON text. With exactly one criterion the flat shape ``{"score": 4, "reason": ...}``
    is accepted too, and a bare value (``{"accuracy": 4}``) counts as a score or label
    without a reason.

    Raises:
        JudgeParseError: nothing valid could be read; the message lists every problem
            (criterion, value, what is allowed) and ``raw`` holds ``text``.

    Example:
        >>> task = JudgeTask(id="q", prompt="${a}", scale=["poor", "fair", "good"], threshold="fair",
        ...                  criteria=[Criterion(name="tone", description="Polite.")])
        >>> reply = 'Sure! ```json\\n{"tone": {"reason": "Kind.", "label": "Good"}}\\n```'
        >>> parse_verdict(reply, task, task.criteria)
        {'tone': Verdict(score=None, label='good', passed=True, reason='Kind.')}
    """
    rcs = _resolve(task, criteria)
    data = _extract(text)
    if len(rcs) == 1 and rcs[0].name not in data and ("score" in data or "label" in data):
        data = {rcs[0].name: data}
    verdicts: dict[str, Verdict] = {}
    problems: list[str] = []
    missing = [rc.name for rc in rcs if rc.name not in data]
    if missing:
        names = ", ".join(repr(n) for n in missing)
        expected = ", ".join(repr(rc.name) for rc in rcs)
        has = ", ".join(repr(k) for k in list(data)[:10]) or "none"
        problems.append(
            f"{'criterion' if len(missing) == 1 else 'criteria'} {names} "
            f"{'is' if len(missing) == 1 else 'are'} missing; the verdict needs the keys {expected} "
            f"(it has {has})"
        )
    for rc in rcs:
        if rc.name in data:
            result = _check_one(rc, data[rc.name])
            if isinstance(result, str):
                problems.append(result)
            else:
                verdicts[rc.name] = result
    if problems:
        raise JudgeParseError("; ".join(problems), raw=text)
    return verdicts


def overall(task: JudgeTask, verdicts: Mapping[str, Verdict]) -> float | None:
    """The weighted mean of the task's criteria scores (weights from ``Criterion.weight``).

    ``None`` when a criterion has no verdict or no score (a missing score must not count as
    0), or when the weights sum to 0. Only meaningful when ``task.overall`` is set.

    Example:
        >>> task = JudgeTask(id="q", prompt="${a}", overall=True, criteria=[
        ...     Criterion(name="a", description="A.", weight=3), Criterion(name="b", description="B.")])
        >>> v = lambda s: Verdict(score=s, label=None, passed=None, reason="")
        >>> overall(task, {"a": v(5.0), "b": v(1.0)})
        4.0
    """
    total = weights = 0.0
    for c in task.criteria:
        verdict = verdicts.get(c.name)
        if verdict is None or verdict.score is None:
            return None
        total += c.weight * verdict.score
        weights += c.weight
    return total / weights if weights else None
