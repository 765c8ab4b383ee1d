"""The evaluated rows as columns: values extracted along paths (JSON cells parsed once
per run), and the outputs of finished tasks, addressed as ``<task id>.<field>``.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import cap_list, shorten
from .paths import (
    PathError,
    Segment,
    format_path,
    loads_json_cells,
    not_json,
    parse_path,
    resolve,
    to_plain,
)
from .responses import DERIVED, FIELDS, complete, normalize_column, plain

__all__ = ["Context", "Output", "gc_paused"]

CHUNK_ROWS = 65_536
"""Rows of a JSON column parsed at a time by :meth:`Context.prepare`."""


@dataclass(eq=False)
class Output:
    """What a task exposes to its dependents, addressed as ``<task id>.<field>...``."""

    fields: dict[str, pd.Series]
    missing: dict[str, np.ndarray] = field(default_factory=dict)
    """Per field: object array holding, for rows where the field has no value, why."""


class Context:
    """The evaluated rows, with cached column parses and the outputs of finished tasks."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self.n = len(df)
        self.columns: dict[str, Any] = {str(c): c for c in df.columns}
        self.outputs: dict[str, Output] = {}
        self._parsed: dict[str, tuple[list[Any], list[str | None] | None]] = {}
        self._parse_errors: dict[str, list[str | None] | None] = {}
        self._extracted: dict[tuple[Segment, ...], tuple[pd.Series, np.ndarray | None]] = {}
        self._responses: dict[str, tuple[list[dict[str, Any] | None], list[str | None]]] = {}
        self._sdk: dict[str, list[Any] | None] = {}

    # --- roots ----------------------------------------------------------------------

    def split_root(self, segments: tuple[Segment, ...]) -> tuple[str, str, int]:
        """Which column or task a path starts at: ``(kind, name, segments used)``.

        A column whose name contains dots wins over a shorter prefix.
        """
        strs = []
        for s in segments:
            if not isinstance(s, str):
                break
            strs.append(s)
        for k in range(len(strs), 0, -1):
            name = ".".join(strs[:k])
            if name in self.columns:
                return "column", name, k
        if strs and strs[0] in self.outputs:
            return "task", strs[0], 1
        return "unknown", str(segments[0]), 1

    def parsed_column(self, name: str) -> tuple[list[Any], list[str | None] | None]:
        """Column ``name``'s cells with JSON strings parsed (once per run), and per cell the
        reason it is not JSON (``None`` when every string parsed).

        Example:
            >>> import pandas as pd
            >>> cells, errors = Context(pd.DataFrame({"r": ['{"a": 1}', "oops"]})).parsed_column("r")
            >>> cells, errors[1][:48]
            ([{'a': 1}, None], "column 'r' holds a string that is not valid JSON")
        """
        if name not in self._parsed:
            with gc_paused():  # also for judge prompts, which parse outside _run_assertion
                self._parsed[name] = _parse_json_cells(name, self.df[self.columns[name]].tolist())
        return self._parsed[name]

    def parse_errors(self, name: str) -> list[str | None] | None:
        """Per cell of column ``name``, why it is not JSON (``None`` when every string parsed).

        Example:
            >>> import pandas as pd
            >>> Context(pd.DataFrame({"r": ['{"a": 1}', "[]"]})).parse_errors("r") is None
            True
        """
        if name in self._parse_errors:
            return self._parse_errors[name]
        return self.parsed_column(name)[1]

    def prepare(
        self, paths: Iterable[str], json_columns: Iterable[str] = (), *, chunk_rows: int = CHUNK_ROWS
    ) -> None:
        """Read, ahead of the tasks, every path into a JSON column in one pass over the column,
        :data:`CHUNK_ROWS` rows at a time, so that a large column's parsed cells are never all
        held at once (a million small JSON objects take about a gigabyte as Python objects).

        What is read is exactly what :meth:`extract` would read, and :meth:`extract` then
        serves it; ``json_columns`` are columns whose parse errors alone are needed (``is_json``).
        Paths into provider responses or SDK objects, task outputs and frames of a few chunks
        are left to :meth:`extract`.

        Example:
            >>> import pandas as pd
            >>> ctx = Context(pd.DataFrame({"r": ['{"a": 1}', '{"a": 2}', "oops"]}))
            >>> ctx.prepare(["r.a"], chunk_rows=2)
            >>> values, errors = ctx.extract("r.a")
            >>> values.tolist(), errors[2][:48]
            ([1, 2, None], "column 'r' holds a string that is not valid JSON")
        """
        if self.n <= chunk_rows:
            return
        wanted: dict[str, list[tuple[tuple[Segment, ...], tuple[Segment, ...]]]] = {}
        for name in json_columns:
            if name in self.columns and name not in self._parsed and name not in self._parse_errors:
                wanted.setdefault(name, [])
        for path in paths:
            try:
                segments = parse_path(path)
            except PathError:
                continue  # extract reports it, with the task
            kind, name, used = self.split_root(segments)
            rest = segments[used:]
            if kind != "column" or not rest or segments in self._extracted or name in self._parsed:
                continue
            if rest[0] in FIELDS or self._dumped(name) is not None:
                continue  # responses and SDK objects are read from the whole column
            wanted.setdefault(name, []).append((segments, rest))
        for name, reads in wanted.items():
            if name in self._parse_errors:
                continue
            reads = list(dict.fromkeys(reads))
            column = self.df[self.columns[name]]
            errors: list[str | None] = []
            values: list[list[Any]] = [[] for _ in reads]
            missing: list[np.ndarray | None] = [None] * len(reads)  # made at the first missing value
            with gc_paused():
                for start in range(0, self.n, chunk_rows):
                    cells, chunk_errors = _parse_json_cells(
                        name, column.iloc[start : start + chunk_rows].tolist()
                    )
                    errors += chunk_errors if chunk_errors is not None else [None] * len(cells)
                    for k, (_, rest) in enumerate(reads):
                        v, e = _descend(cells, rest, name, chunk_errors)
                        values[k] += v.tolist()
                        if e is not None:
                            m = missing[k]
                            if m is None:
                                m = missing[k] = np.full(self.n, None, dtype=object)
                            m[start : start + len(cells)] = e
                    del cells
            self._parse_errors[name] = errors if any(e is not None for e in errors) else None
            for k, (segments, _) in enumerate(reads):
                self._extracted[segments] = (pd.Series(values[k], dtype=object), missing[k])

    # --- extraction -----------------------------------------------------------------

    def extract(self, path: str | None) -> tuple[pd.Series, np.ndarray | None]:
        """The value at ``path`` for every row, and per row the reason it is missing.

        A top-level column comes back with its own dtype (so vectorised checks apply);
        a deeper path comes back as an object Series of plain values.
        """
        if path is None:
            return self._whole_rows(), None
        segments = parse_path(path)
        if segments not in self._extracted:
            self._extracted[segments] = self._extract(segments)
        return self._extracted[segments]

    def _whole_rows(self) -> pd.Series:
        records = self.df.rename(columns=str).to_dict(orient="records")
        return pd.Series([{k: to_plain(v) for k, v in r.items()} for r in records], dtype=object)

    def _extract(self, segments: tuple[Segment, ...]) -> tuple[pd.Series, np.ndarray | None]:
        kind, name, used = self.split_root(segments)
        rest = segments[used:]
        if kind == "column":
            if not rest:
                return self.df[self.columns[name]].reset_index(drop=True), None
            view = self._response_view(name, rest)
            if view is not None:
                return view
            cells, parse_errors = self.parsed_column(name)
            return _descend(cells, rest, name, parse_errors)
        if kind == "task":
            return self._extract_output(name, rest)
        raise PathError(
            f"path {format_path(segments)!r} starts with {name!r}, which is neither a column nor a task"
        )

    # --- provider responses: the one hook of workbench.responses -------------------------

    def responses(self, name: str) -> tuple[list[dict[str, Any] | None], list[str | None]]:
        """Column ``name``'s cells as normalised provider responses, once per run (every task
        reading ``response.tool_calls``, ``response.content``... shares them): per cell its
        record, or None and why it holds none (see :func:`workbench.responses.normalize_column`).

        Example:
            >>> import pandas as pd
            >>> ctx = Context(pd.DataFrame({"r": ['{"role": "assistant", "content": "hi"}', "{}"]}))
            >>> [r and r["content"] for r in ctx.responses("r")[0]]
            ['hi', None]
        """
        if name not in self._responses:
            cells, _ = self.parsed_column(name)
            with gc_paused():
                self._responses[name] = normalize_column(cells)
        return self._responses[name]

    def _response_view(
        self, name: str, rest: tuple[Segment, ...]
    ) -> tuple[pd.Series, np.ndarray | None] | None:
        """A path into a column of responses: a normalised field (``tool_calls``, ...) of each
        cell that holds a response, the raw cell for any other; SDK objects dumped for raw
        paths. None when the ordinary descent applies unchanged."""
        head = rest[0]
        if head not in FIELDS:
            dumped = self._dumped(name)
            return None if dumped is None else _descend(dumped, rest, name, self.parse_errors(name))
        records, reasons = self.responses(name)
        if all(r is None for r in records):
            return None  # no response in the column: its cells keep their own keys and messages
        cells, parse_errors = self.parsed_column(name)
        if head in DERIVED:
            records = [r if r is None else complete(r) for r in records]
        view = [c if r is None else r for r, c in zip(records, cells)]
        values, errors = _descend(view, rest, name, parse_errors)
        if errors is not None:
            for i in np.flatnonzero(~pd.isna(errors)):
                if (
                    records[i] is None
                    and reasons[i] is not None
                    and (parse_errors is None or parse_errors[i] is None)
                ):
                    errors[i] = f"'{name}' {reasons[i]}, so it has no {head!r}"
        return values, errors

    def _dumped(self, name: str) -> list[Any] | None:
        """The parsed cells of a column holding SDK objects, those dumped (``model_dump``), so
        raw paths walk them (``response.choices.0.message``); None for a column without any."""
        if name not in self._sdk:
            column = self.df[self.columns[name]]
            found = column.dtype == object and any(
                type(c) not in _PLAIN and callable(getattr(c, "model_dump", None)) for c in column.tolist()
            )
            if found:
                cells, _ = self.parsed_column(name)
                self._sdk[name] = [plain(c) for c in cells]
            else:
                self._sdk[name] = None
        return self._sdk[name]

    def _extract_output(self, task_id: str, rest: tuple[Segment, ...]) -> tuple[pd.Series, np.ndarray | None]:
        out = self.outputs[task_id]
        strs = [s for s in rest if isinstance(s, str)]
        for k in range(len(strs), 0, -1):
            key = ".".join(strs[:k])
            if key in out.fields:
                base = out.fields[key]
                missing = out.missing.get(key)
                if k == len(rest):
                    return base.reset_index(drop=True), missing
                values, errors = _descend(base.tolist(), rest[k:], f"{task_id}.{key}", None)
                return values, _merge_missing(missing, errors)
        # the whole output (or a group of fields) as one object per row
        prefix = ".".join(strs) + "." if strs else ""
        keys = [k for k in out.fields if k.startswith(prefix)]
        if not keys or len(strs) != len(rest):
            raise PathError(
                f"task {task_id!r} has no output {'.'.join(map(str, rest))!r}; "
                f"it has {cap_list([f'{task_id}.{k}' for k in out.fields])}"
            )
        columns = {k[len(prefix) :]: out.fields[k].tolist() for k in keys}
        rows = [_nest({k: to_plain(v[i]) for k, v in columns.items()}) for i in range(self.n)]
        missing = None
        for key in keys:
            missing = _merge_missing(missing, out.missing.get(key))
        return pd.Series(rows, dtype=object), missing


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return out


def _merge_missing(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    if b is None:
        return a
    return np.where(pd.isna(a), b, a)


def _parse_json_cells(name: str, cells: list[Any]) -> tuple[list[Any], list[str | None] | None]:
    """Parse every string cell as JSON; other cells stay as they are."""
    out, failures = loads_json_cells(cells)
    if failures is None:
        return out, None
    errors: list[str | None] = [None] * len(cells)
    for i, why in failures.items():
        errors[i] = f"column '{name}' holds {not_json(why)}: {shorten(cells[i], 60)!r}"
    return out, errors


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many containers: parsing a million JSON cells
    otherwise triggers collection after collection over the growing heap (3x slower)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


_PLAIN = frozenset((dict, list, str, int, float, bool, type(None)))
"""Cell types that are never an SDK object (checked first: a failed getattr costs more)."""


class _Slow(Exception):
    pass


def _descend(
    cells: Sequence[Any], rest: tuple[Segment, ...], root: str, parse_errors: Sequence[str | None] | None
) -> tuple[pd.Series, np.ndarray | None]:
    """Follow ``rest`` into every cell: a fast loop for plain dict/list steps, and
    :func:`resolve` (which parses JSON strings and explains failures) for the rest."""
    steps = [(str(s), int(s) if isinstance(s, int) or s.lstrip("-").isdigit() else None) for s in rest]
    out: list[Any] = [None] * len(cells)
    errors: np.ndarray | None = None
    for i, v in enumerate(cells):
        if parse_errors is not None and parse_errors[i] is not None:
            if errors is None:
                errors = np.full(len(cells), None, dtype=object)
            errors[i] = parse_errors[i]
            continue
        try:
            for key, idx in steps:
                t = type(v)
                if t is dict:
                    v = v[key]
                elif t is list and idx is not None:
                    v = v[idx]
                else:
                    raise _Slow
            out[i] = v
        except (_Slow, KeyError, IndexError):
            try:
                out[i] = resolve(cells[i], (root, *rest), start=1)  # messages name the path from root
            except PathError as e:
                if errors is None:
                    errors = np.full(len(cells), None, dtype=object)
                errors[i] = str(e)
    return pd.Series(out, dtype=object), errors
