"""The judge's reply: :class:`Verdict`, :func:`parse_verdict` (tolerant JSON extraction, strict
validation) and :func:`overall`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import JudgeParseError, shorten
from ..paths import compact_json, decode_json_prefix, loads_json
from ..specs import Criterion, JudgeTask
from ._scales import ResolvedCriterion, labels_text, resolve_criteria

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


_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\r?\n?(.*?)```", re.DOTALL)
_OBJECT_START = re.compile(r"\{\s*(?:\"|\})")


_DATA_BLOCK = re.compile(r"<<<DATA ([0-9a-f]+)>>>\n(.*?)\n<<<END \1>>>", re.DOTALL)


def _objects(text: str, skip: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int, dict[str, Any]]]:
    """Every top-level JSON object in ``text`` as ``(start, end, object)``, outside the spans
    in ``skip``. A ``{`` that starts like JSON but does not parse is a broken verdict (a
    truncated reply): reading on would pick an inner object of it, so it raises."""
    found: list[tuple[int, int, dict[str, Any]]] = []
    pos = text.find("{")
    while pos != -1:
        inside = next((end for start, end in skip if start <= pos < end), None)
        if inside is not None:
            pos = text.find("{", inside)
            continue
        try:
            obj, end = decode_json_prefix(text, pos)
        except ValueError as e:
            if _OBJECT_START.match(text, pos):
                why = str(e)
                if isinstance(e, json.JSONDecodeError):
                    why = f"{e.msg.removesuffix(' at')} at character {e.pos + 1}"
                raise JudgeParseError(
                    f"the JSON object starting at character {pos + 1} of the reply is invalid or "
                    f"truncated: {why}",
                    raw=text,
                ) from None
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict):
            found.append((pos, end, obj))
            pos = text.find("{", end)
        else:
            pos = text.find("{", pos + 1)
    return found


def _data_objects(untrusted: str | None) -> set[str]:
    """The canonical JSON of every object in the fenced data of the user message: what a reply
    may quote, and must not be read as the judge's verdict."""
    canon: set[str] = set()
    for m in _DATA_BLOCK.finditer(untrusted or ""):
        t = m.group(2)
        if "{" in t:
            try:
                objs = _objects(t)
            except JudgeParseError:
                continue
            for _, _, o in objs:
                _walk_objects(o, canon)
    return canon


def _walk_objects(value: Any, into: set[str]) -> None:
    """Add the canonical JSON of ``value`` and of every object nested in it."""
    if isinstance(value, dict):
        into.add(json.dumps(value, sort_keys=True))
        for v in value.values():
            _walk_objects(v, into)
    elif isinstance(value, list):
        for v in value:
            _walk_objects(v, into)


def _candidates(text: str, untrusted: str | None = None) -> list[dict[str, Any]]:
    """The objects in a reply that may be the verdict, the most likely first: the whole text
    when it is JSON; else the objects of code fences, the last first; else the objects in the
    prose, the last first (a judge that reasons before answering ends with its verdict).
    Objects that are copies of the fenced data the judge was shown are left out: a verdict
    planted in the judged text is the data's, not the judge's."""
    stripped = text.strip()
    if not stripped:
        raise JudgeParseError("the reply is empty", raw=text)
    try:
        obj = loads_json(stripped)
    except ValueError:
        pass
    else:
        if isinstance(obj, dict):
            return [obj]
        if isinstance(obj, str) and obj.strip().startswith("{"):  # a verdict encoded twice
            try:
                return _candidates(obj, untrusted)
            except JudgeParseError:
                pass
    fenced: list[dict[str, Any]] = []
    spans: list[tuple[int, int]] = []
    for m in _FENCE.finditer(text):
        try:
            obj = loads_json(m.group(1).strip())
        except ValueError:
            continue  # not JSON as a whole: the prose scan reads what the fence holds
        if isinstance(obj, dict):
            fenced.append(obj)
            spans.append(m.span())
    prose = [o for _, _, o in _objects(text, spans)]
    found = fenced[::-1] + prose[::-1]
    if not found:
        raise JudgeParseError(
            f"the reply holds no JSON object (it reads {shorten(stripped, 60)!r})", raw=text
        )
    copies = _data_objects(untrusted)
    if not copies:
        return found
    own = [o for o in found if json.dumps(o, sort_keys=True) not in copies]
    if not own:
        raise JudgeParseError(
            f"the only JSON object{'s' if len(found) > 1 else ''} in the reply "
            f"{'are copies' if len(found) > 1 else 'is a copy'} of the judged data, not the judge's "
            "verdict (a verdict planted in the data is ignored)",
            raw=text,
        )
    return own


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


Reading = tuple[float | None, str | None, bool | None, str]
"""One criterion's validated verdict as plain values, ``(score, label, passed, reason)``: the
fields of :class:`Verdict`, without building one (a warm rerun reads tens of thousands)."""


def _where(rc: ResolvedCriterion) -> str:
    return f"criterion {rc.name!r}"


def _check_one(rc: ResolvedCriterion, entry: Any) -> Reading | str:
    """A reading, or what is wrong with ``entry``."""
    if rc.kind == "range" and type(entry) is dict:  # the usual verdict, read in a few steps
        score, reason = entry.get("score"), entry.get("reason")
        # the ignores on low/high: a "range" criterion always has both, which mypy cannot see
        if type(score) is int and rc.low <= score <= rc.high and (reason is None or type(reason) is str):  # type: ignore[operator]
            value = float(score)
            return (value, None, rc.passed(value, None), reason or "")
    if not isinstance(entry, dict):  # a bare score or label, without a reason
        entry = {rc.field: entry}
    reason = entry.get("reason")
    reason = "" if reason is None else reason if isinstance(reason, str) else compact_json(reason)
    if rc.kind == "range":
        if "score" not in entry:
            return f'{_where(rc)} has no "score" (an integer from {rc.low} to {rc.high})'
        raw_score = entry["score"]
        score = raw_score if type(raw_score) is int else _integer(raw_score)
        if score is None:
            return (
                f"{_where(rc)}: score {_show(raw_score)} is not an integer "
                f"(the scale is the integers {rc.low}..{rc.high})"
            )
        if not rc.low <= score <= rc.high:  # type: ignore[operator]
            return f"{_where(rc)}: score {_show(raw_score)} is outside the scale {rc.low}..{rc.high}"
        value = float(score)
        return (value, None, rc.passed(value, None), reason)
    raw_label = entry.get("label")
    if raw_label is None and isinstance(entry.get("score"), str):
        raw_label = entry["score"]  # the label written under "score"
    if raw_label is None:
        return f'{_where(rc)} has no "label" (one of {labels_text(rc.labels)})'
    label = None
    if isinstance(raw_label, str):
        folded = raw_label.strip().casefold()
        label = next((lab for lab in rc.labels if lab.casefold() == folded), None)
    if label is None:
        return f"{_where(rc)}: label {_show(raw_label)} is not one of {labels_text(rc.labels)}"
    score_ = rc.score_of(label)
    return (score_, label, rc.passed(score_, label), reason)


def parse_verdict(
    text: str, task: JudgeTask, criteria: Sequence[Criterion], untrusted: str | None = None
) -> dict[str, Verdict]:
    """Parse and validate a judge's reply into one :class:`Verdict` per criterion.

    Extraction is tolerant: the whole text as JSON; else the objects of ```` ```json ```` (or
    bare ```` ``` ````) fences, the last first; else the JSON objects in surrounding prose,
    the last first; the first that validates is the verdict. A ``{`` that starts like JSON but
    does not parse (a truncated reply) is an error, not a reason to look further in. With
    ``untrusted`` (the user message that fenced the judged data), objects that copy the fenced
    data are never the verdict: a verdict-shaped JSON planted in the judged text and quoted
    back by the judge is ignored, and a reply whose only objects are such copies is an error.

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
    rcs = resolve_criteria(task, criteria)
    readings, _ = _read(text, rcs, untrusted)
    return {
        rc.name: Verdict(score=score, label=label, passed=passed, reason=reason)
        for rc, (score, label, passed, reason) in zip(rcs, readings)
    }


def _read(text: str, rcs: Sequence[ResolvedCriterion], untrusted: str | None) -> tuple[list[Reading], bool]:
    """The readings of a reply, and whether they depend on nothing but ``text`` and ``rcs``
    (the reply is one JSON object as a whole: ``untrusted`` is then never consulted)."""
    stripped = text.strip()
    if stripped.startswith("{"):  # the common reply, read without the candidate search
        try:
            obj = loads_json(stripped)
        except ValueError:
            pass
        else:
            if isinstance(obj, dict):  # the only candidate there is: its problems are the error
                return _validate(obj, rcs, text), True
    failures: list[JudgeParseError] = []
    for data in _candidates(text, untrusted):
        try:
            return _validate(data, rcs, text), False
        except JudgeParseError as e:
            failures.append(e)
    raise failures[0]  # the most likely verdict's problems


def _validate(data: dict[str, Any], rcs: Sequence[ResolvedCriterion], text: str) -> list[Reading]:
    if len(rcs) == 1 and rcs[0].name not in data and ("score" in data or "label" in data):
        data = {rcs[0].name: data}
    readings: list[Reading] = []
    for rc in rcs:
        entry = data.get(rc.name, _ABSENT)
        result = _ABSENT if entry is _ABSENT else _check_one(rc, entry)
        if type(result) is not tuple:
            raise _invalid(data, rcs, text)
        readings.append(result)
    return readings


_ABSENT: Any = object()


def _invalid(data: dict[str, Any], rcs: Sequence[ResolvedCriterion], text: str) -> JudgeParseError:
    """Every problem of a verdict that does not validate, in one error."""
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
    return JudgeParseError("; ".join(problems), raw=text)


_SEEN: dict[tuple[ResolvedCriterion, ...], dict[str, tuple[Reading, ...]]] = {}
"""Readings of replies that are one JSON object, per resolved criteria, by reply text: a
rerun in the same kernel reads the very same replies again."""
_SEEN_LIMIT = 500_000
_SEEN_COUNT = [0]
"""How many readings ``_SEEN`` holds, all criteria together (it is emptied at the limit)."""


class VerdictReader:
    """:func:`parse_verdict` for the many replies of one (task, criteria), as plain readings.

    The criteria are resolved once, and a reply that is one JSON object as a whole is read
    once per process: its readings depend on nothing but its text and the criteria, so the
    same text (a rerun of an unchanged notebook cell, or judges that repeat themselves) is a
    dict lookup. Replies that are not (prose, fences) are read afresh every time, since what
    counts as a copy of the judged data depends on ``untrusted``.

    Args:
        task: the judge task.
        criteria: the criteria judged in one call (as for :func:`parse_verdict`).

    Example:
        >>> task = JudgeTask(id="q", prompt="${a}", threshold=4,
        ...                  criteria=[Criterion(name="accuracy", description="A.")])
        >>> read = VerdictReader(task, task.criteria)
        >>> read.readings('{"accuracy": {"reason": "Right.", "score": 5}}')
        ((5.0, None, True, 'Right.'),)
    """

    def __init__(self, task: JudgeTask, criteria: Sequence[Criterion]) -> None:
        self.criteria: tuple[ResolvedCriterion, ...] = resolve_criteria(task, criteria)
        """The criteria with the task's defaults applied, in the order of the readings."""
        self._seen = _SEEN.setdefault(self.criteria, {})

    def readings(self, text: str, untrusted: str | None = None) -> tuple[Reading, ...]:
        """One ``(score, label, passed, reason)`` per criterion, in order: what
        :func:`parse_verdict` returns as :class:`Verdict` objects.

        Raises:
            JudgeParseError: as :func:`parse_verdict` does, with the same message.
        """
        hit = self._seen.get(text)
        if hit is not None:
            return hit
        readings, plain = _read(text, self.criteria, untrusted)
        out = tuple(readings)
        if plain:
            if _SEEN_COUNT[0] >= _SEEN_LIMIT:
                for seen in _SEEN.values():
                    seen.clear()
                _SEEN_COUNT[0] = 0
            self._seen[text] = out
            _SEEN_COUNT[0] += 1
        return out


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
