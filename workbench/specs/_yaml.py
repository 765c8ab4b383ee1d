"""Reading suite files: YAML and JSON text to plain data, with the line each task starts on.

Suite files come from anywhere (a colleague, a ported Scouter suite, a pull request), so
reading one must be bounded: YAML aliases may stand for at most :data:`ALIAS_BUDGET`
values beyond those the file writes out (a few hundred bytes of nested aliases can
otherwise stand for billions of values, and every later step walks them), an alias may not
stand for a value that contains it, and nesting too deep for the parser is refused, all
with the line and a fix rather than a hang or a ``RecursionError``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError

__all__ = ["ALIAS_BUDGET", "load_json", "load_yaml", "read_source"]

ALIAS_BUDGET = 100_000
"""How many values a suite file's YAML aliases may add to the values it writes out."""


def read_source(source: str | Path) -> tuple[str, str]:
    """The text of ``source`` (a path, a file name ending in .yaml/.yml/.json, or the text
    itself) and how messages name it."""
    if isinstance(source, Path):
        return source.read_text(encoding="utf-8"), f"file '{source}'"
    if "\n" not in source and len(source) < 4096 and source.strip().endswith((".yaml", ".yml", ".json")):
        path = Path(source)
        if not path.exists():
            raise SpecError(f"file '{source}' does not exist (current directory: {Path.cwd()})")
        return path.read_text(encoding="utf-8"), f"file '{source}'"
    return source, "the text"


def load_json(text: str, origin: str) -> Any:
    """Parse JSON text; a syntax error or a nesting too deep is a :class:`SpecError`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        msg = f"{origin} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        raise SpecError(msg) from None
    except RecursionError:
        raise SpecError(_too_deep(origin, "JSON")) from None


def load_yaml(text: str, origin: str) -> tuple[Any, dict[int, int]]:
    """Parse YAML text safely: the data, and a map of task index -> line its task starts on.

    Raises:
        SpecError: a syntax error (with its line), aliases that expand past
            :data:`ALIAS_BUDGET` or refer to their own value (with the alias's line), or
            nesting too deep to read.
    """
    loader = _SuiteLoader(text, origin)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_expansion(loader, node, origin)
        return loader.construct_document(node), _task_lines(node)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        context, cmark = getattr(e, "context", None), getattr(e, "context_mark", None)
        if context and cmark:
            problem += f" ({context} started at line {cmark.line + 1})"
        raise SpecError(f"{origin} is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise SpecError(_too_deep(origin, "YAML")) from None
    finally:
        loader.dispose()


def _too_deep(origin: str, language: str) -> str:
    return (
        f"{origin} is nested too deeply to read as {language} (lists or mappings inside one another "
        "hundreds of levels deep); a suite needs a few levels: flatten the deepest values"
    )


class _SuiteLoader(yaml.SafeLoader):
    """PyYAML's safe loader, also noting each alias it meets (the node it stands for and
    where it is written) and refusing an alias inside the value it names."""

    def __init__(self, stream: str, origin: str) -> None:
        super().__init__(stream)
        self.origin = origin
        self.aliases: list[tuple[yaml.Node, int, str]] = []  # node, 1-based line, anchor
        self._open: list[str] = []  # anchors whose value is still being read

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        # types-PyYAML annotates peek_event in some versions, not in others
        event = self.peek_event()  # type: ignore[no-untyped-call, unused-ignore]
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent) and anchor is not None:
            mark = event.start_mark
            line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
            if anchor in self._open:
                raise SpecError(
                    f"{self.origin} cannot be read: the alias '*{anchor}' at line {line}, column {column} "
                    f"stands for a value that contains it, so it never ends; write that value out "
                    f"instead of '*{anchor}'"
                )
            node = super().compose_node(parent, index)
            if node is not None:
                self.aliases.append((node, line, anchor))
            return node
        if anchor is None:
            return super().compose_node(parent, index)
        self._open.append(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.pop()


def _expanded_sizes(root: yaml.Node) -> dict[int, int]:
    """For every distinct node under ``root``: how many values it stands for once every
    alias in it is written out. Computed once per node (aliases share nodes), without
    recursion."""
    sizes: dict[int, int] = {}
    todo: list[tuple[yaml.Node, bool]] = [(root, False)]
    while todo:
        node, children_done = todo.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done:
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
        else:
            todo.append((node, True))
            todo.extend((c, False) for c in children if id(c) not in sizes)
    return sizes


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_expansion(loader: _SuiteLoader, root: yaml.Node, origin: str) -> None:
    if not loader.aliases:
        return
    sizes = _expanded_sizes(root)
    written, total = len(sizes), sizes[id(root)]
    if total - written <= ALIAS_BUDGET:
        return
    node, line, anchor = max(loader.aliases, key=lambda a: sizes[id(a[0])])
    raise SpecError(
        f"{origin} is refused: its YAML aliases make its {written:,} written values stand for {total:,}, "
        f"more than the {ALIAS_BUDGET:,} that aliases may add (the alias '*{anchor}' at line {line} "
        f"alone stands for {sizes[id(node)]:,}). Aliases of aliases multiply like this in an 'alias bomb'; "
        "a suite needs none of that: write the repeated parts out, or alias only small shared values"
    )


def _task_lines(node: yaml.Node) -> dict[int, int]:
    """Map task index -> 1-based line where that task starts in the YAML."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    for key, value in node.value:
        if getattr(key, "value", None) == "tasks" and isinstance(value, yaml.SequenceNode):
            return {i: item.start_mark.line + 1 for i, item in enumerate(value.value)}
    return {}
