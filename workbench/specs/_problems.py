"""The checks a spec needs beyond its fields' types, and the wording of what they find.

Pure: no pydantic, no YAML. A problem found in a list (a suite's tasks, a task's criteria)
travels with the index of the item it belongs to, so problems are listed in the order of
the file and a YAML suite can name the line of the right task even when ids repeat.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import cap_list, did_you_mean

__all__ = [
    "AFTER_ALL",
    "BEFORE_ALL",
    "Problem",
    "at_line",
    "check_id",
    "check_scale",
    "check_threshold",
    "graph_problems",
    "item_label",
    "suite_head",
    "summary",
]

Problem = tuple[int, str]
"""A problem and the index of the list item it belongs to (a task or a criterion), or
:data:`BEFORE_ALL` / :data:`AFTER_ALL` for problems of the whole spec."""

BEFORE_ALL = -1
"""Index of a problem with the spec's own fields (``name``, an empty ``tasks``): listed first."""

AFTER_ALL = 1 << 30
"""Index of a problem that spans items (a dependency cycle): listed last."""

_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def check_id(value: str, what: str) -> str:
    """``value`` when it can be used in paths; else ``ValueError`` with a usable spelling."""
    if not _ID.match(value):
        usable = re.sub(r"[^A-Za-z0-9_-]", "_", value) or "x"
        raise ValueError(
            f"{what} {value!r} must start with a letter or '_' and hold only letters, digits, "
            f"'_' and '-' (it is used in paths such as '{usable}.score')"
        )
    return value


def check_scale(scale: Any) -> None:
    """Raise ``ValueError`` for a scale that cannot be scored: an empty range, repeated
    labels, fewer than two labels."""
    if isinstance(scale, tuple):
        lo, hi = scale
        if lo >= hi:
            raise ValueError(f"scale {scale} must go from low to high, e.g. (1, 5)")
    elif isinstance(scale, list):
        if len(scale) < 2 or len(set(scale)) != len(scale):
            raise ValueError(f"scale labels {scale} must be at least two distinct labels")
    elif isinstance(scale, dict) and len(scale) < 2:
        raise ValueError(f"scale {scale} must map at least two labels to scores")


def check_threshold(threshold: Any, scale: Any) -> None:
    """Raise ``ValueError`` when ``threshold`` cannot be met on ``scale``.

    Example:
        >>> check_threshold(4, (1, 5))
        >>> check_threshold(9, (1, 5))
        Traceback (most recent call last):
        ...
        ValueError: threshold 9 is outside the scale 1..5
    """
    if threshold is None:
        return
    if isinstance(scale, tuple):
        if isinstance(threshold, str) or not scale[0] <= threshold <= scale[1]:
            shown = int(threshold) if isinstance(threshold, float) and threshold.is_integer() else threshold
            raise ValueError(f"threshold {shown!r} is outside the scale {scale[0]}..{scale[1]}")
    elif scale == "binary":
        raise ValueError("a binary scale needs no threshold: 'pass' passes; remove 'threshold'")
    elif isinstance(scale, list) and threshold not in scale:
        raise ValueError(f"threshold {threshold!r} is not one of the labels {scale}")
    elif isinstance(scale, dict) and not isinstance(threshold, (int, float)) and threshold not in scale:
        raise ValueError(f"threshold {threshold!r} is neither a score nor one of the labels {list(scale)}")


def item_label(items: Any, index: int, kind: str, key: str) -> str:
    """``task 'id'`` (or ``task #3`` when it has no id) for ``items[index]``, a dict or a spec."""
    raw = items[index] if isinstance(items, list) and 0 <= index < len(items) else None
    name = raw.get(key) if isinstance(raw, dict) else getattr(raw, key, None)
    return f"{kind} {name!r}" if name else f"{kind} #{index + 1}"


def at_line(problem: Problem, tasks: Any, lines: Mapping[int, int]) -> str:
    """The problem's text with the line its task starts on, after the task's name."""
    index, text = problem
    if index not in lines:
        return text
    label = item_label(tasks, index, "task", "id")
    for named in (label.replace("task ", "task id ", 1), label):
        if text.startswith(named):
            return f"{named} (line {lines[index]}){text[len(named) :]}"
    return f"{label} (line {lines[index]}): {text}"


def suite_head(data: Mapping[str, Any]) -> str:
    """How an error names the suite: ``suite 'support' version 'v2'``, or ``this suite``."""
    name = data.get("name")
    version = data.get("version")
    if name is None:
        return "this suite"
    return f"suite {name!r}" + (f" version {version!r}" if version is not None else "")


def summary(head: str, problems: list[str]) -> str:
    """``3 problems in suite 's' version 'v2':`` and one indented line per problem."""
    n = len(problems)
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{n} problem{'s' if n != 1 else ''} in {head}:\n{lines}"


def graph_problems(tasks: Any, lines: Mapping[int, int]) -> list[Problem]:
    """Duplicate ids, unknown ``depends_on`` ids and cycles, from raw or built tasks.

    Every task is checked, the second of two with one id included: its dependencies
    are its own, not its namesake's.
    """
    if not isinstance(tasks, list):
        return []
    problems: list[Problem] = []
    first: dict[str, int] = {}
    entries: list[tuple[int, str, list[str]]] = []
    for i, t in enumerate(tasks):
        tid = t.get("id") if isinstance(t, dict) else getattr(t, "id", None)
        dep = t.get("depends_on", []) if isinstance(t, dict) else getattr(t, "depends_on", [])
        if not isinstance(tid, str):
            continue
        if tid in first:
            also = f" (first at line {lines[first[tid]]})" if first[tid] in lines else ""
            problems.append((i, f"task id {tid!r} is used more than once; ids must be unique{also}"))
        else:
            first[tid] = i
        entries.append((i, tid, [d for d in dep if isinstance(d, str)] if isinstance(dep, list) else []))
    ids = list(first)
    graph: dict[str, list[str]] = {tid: [] for tid in ids}
    for i, tid, deps in entries:
        for d in deps:
            if d not in first:
                hint = did_you_mean(d, ids)
                text = f"task {tid!r}: depends_on names {d!r}, which is not a task in this suite{hint}"
                problems.append((i, f"{text}; tasks are {cap_list(ids)}"))
            elif d == tid:
                problems.append((i, f"task {tid!r} depends on itself; remove {tid!r} from its depends_on"))
            else:
                graph[tid].append(d)

    def shown(tid: str) -> str:
        return f"{tid} (line {lines[first[tid]]})" if first[tid] in lines else tid

    for c in _cycles(graph):
        path = " -> ".join([*map(shown, c[:-1]), c[-1]])
        how = "(read 'a -> b' as 'a depends on b'); remove one of these dependencies"
        problems.append((AFTER_ALL, f"cycle in depends_on: {path} {how}"))
    return problems


def _cycles(deps: dict[str, list[str]]) -> list[list[str]]:
    """Each distinct cycle once, as a closed path ``a -> b -> a`` (self-loops excluded).

    Depth-first without recursion: a chain of thousands of dependent tasks is a valid suite.
    """
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root, root_deps in deps.items():
        if root in state:
            continue
        state[root] = 1
        path, todo = [root], [iter(root_deps)]
        while todo:
            for d in todo[-1]:
                if d not in deps or d == path[-1]:
                    continue
                if state.get(d) == 1:
                    cycle = [*path[path.index(d) :], d]
                    if frozenset(cycle) not in seen_sets:
                        seen_sets.add(frozenset(cycle))
                        found.append(cycle)
                elif d not in state:
                    state[d] = 1
                    path.append(d)
                    todo.append(iter(deps[d]))
                    break
            else:
                state[path.pop()] = 2
                todo.pop()
    return found
