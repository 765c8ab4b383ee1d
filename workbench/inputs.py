"""What a run is given, checked in one place: the suite (object or file), the DataFrame and
its index, the column mapping, the rows to evaluate, and the model every judge task needs.

``evaluate``, ``estimate``, ``render_messages`` and the widgets call these, so a bad input gets
the same message whichever door it came through, before any work is done.

Example:
    >>> import pandas as pd, workbench as wb
    >>> from workbench.inputs import prepare
    >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="response", op="is_string")])
    >>> df, _ = prepare(
    ...     pd.DataFrame({"answer": ["hi", "yo"]}), suite, rows=[1], columns={"response": "answer"}
    ... )
    >>> df.to_dict("index")
    {1: {'response': 'yo'}}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .engine import reference_problems
from .errors import ColumnsError, SpecError, WorkbenchError, cap_list
from .specs import JudgeTask, Suite

if TYPE_CHECKING:
    from .config import JudgeConfig

__all__ = ["check_index", "load_suite", "prepare", "require_models", "select_rows"]

_SUITE_FILES = (".yaml", ".yml", ".json")


def load_suite(suite: Suite | str | Path) -> Suite:
    """``suite`` itself, or the suite a YAML/JSON file holds.

    Raises:
        SpecError: the file does not exist, has another extension, or holds an invalid suite.
        TypeError: ``suite`` is neither a Suite nor a path.

    Example:
        >>> import workbench as wb
        >>> try:
        ...     load_suite("suite.txt")
        ... except wb.SpecError as e:
        ...     print(e)
        cannot read suite 'suite.txt': expected a .yaml, .yml, .json file, got '.txt'
    """
    if isinstance(suite, Suite):
        return suite
    if not isinstance(suite, str | Path):
        raise TypeError(f"suite must be a wb.Suite or a path to a YAML/JSON file, got {type(suite).__name__}")
    if isinstance(suite, str) and "\n" in suite:
        return Suite.from_yaml(suite)  # YAML text, as Suite.from_yaml takes it
    path = Path(suite)
    suffix = path.suffix.lower()
    if suffix not in _SUITE_FILES:
        got = suffix or "no extension"
        raise SpecError(f"cannot read suite '{path}': expected a {', '.join(_SUITE_FILES)} file, got {got!r}")
    if not path.is_file():
        raise SpecError(f"suite '{path}' does not exist (current directory: {Path.cwd()})")
    return Suite.from_json(path) if suffix == ".json" else Suite.from_yaml(path)


def check_index(df: pd.DataFrame) -> None:
    """Refuse a DataFrame whose index repeats a label: results are keyed by index label.

    Raises:
        ColumnsError: the index has duplicate labels (the message names them and the fix).
    """
    if not df.index.is_unique:
        dupes = df.index[df.index.duplicated()].unique().tolist()
        raise ColumnsError(
            f"the DataFrame's index has duplicate labels {cap_list(dupes)}; results are keyed by index "
            "label, so each row needs its own. Use df.reset_index(drop=True), or set a unique id column "
            "with df.set_index('id')."
        )


def select_rows(df: pd.DataFrame, rows: Any) -> pd.DataFrame:
    """The rows of ``df`` that ``rows`` names: None (all), index labels, or a boolean mask as
    long as ``df`` (a boolean Series must share ``df``'s index).

    Raises:
        ColumnsError: labels not in the index, or a mask with another index.
    """
    if rows is None:
        return df
    if (
        isinstance(rows, pd.Series | np.ndarray | list)
        and len(rows) == len(df)
        and len(rows)
        and all(isinstance(x, bool | np.bool_) for x in (rows.tolist() if hasattr(rows, "tolist") else rows))
    ):
        mask = np.asarray(rows, dtype=bool)
        if isinstance(rows, pd.Series) and not rows.index.equals(df.index):
            raise ColumnsError(
                "rows= is a boolean Series whose index differs from the DataFrame's; align it first"
            )
        return df[mask]
    labels = list(rows) if not np.isscalar(rows) else [rows]
    missing = [x for x in labels if x not in df.index]
    if missing:
        raise ColumnsError(
            f"rows= names {len(missing)} label(s) not in the DataFrame's index: {cap_list(missing)}; "
            f"the index runs {cap_list(list(df.index[:5]), 5)} ({len(df):,} rows). "
            "Pass index labels, or a boolean mask as long as the DataFrame."
        )
    return df.loc[labels]


def prepare(
    df: pd.DataFrame, suite: Suite | str | Path, rows: Any = None, columns: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, Suite]:
    """Check the inputs of a run and select its rows: the suite loaded, the index unique, the
    columns mapped (``{"name_in_suite": "column"}``), the rows selected, and every path and
    ``${var}`` of the suite starting at a column or an upstream task. Every problem is raised
    before any work; the input is never modified.

    Raises:
        ColumnsError: duplicate index labels, a mapping to absent columns, unknown rows, or
            paths that start nowhere (all of them listed, with the columns there are).
        SpecError: the suite file cannot be read.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"evaluate needs a pandas DataFrame, got {type(df).__name__}")
    suite = load_suite(suite)
    check_index(df)
    if columns:
        absent = [c for c in columns.values() if c not in df.columns]
        if absent:
            raise ColumnsError(
                f"columns= maps to {absent}, which are not in the DataFrame; "
                f"columns are {cap_list(list(df.columns))}"
            )
        df = df.rename(columns={v: k for k, v in columns.items()})
    df = select_rows(df, rows)
    problems = reference_problems(suite, list(df.columns))
    if problems:
        n = len(problems)
        raise ColumnsError(
            f"{n} problem{'s' if n != 1 else ''} between suite {suite.name!r} and the DataFrame:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + f"\nColumns in the DataFrame: {cap_list([str(c) for c in df.columns], 30)}."
            + "\nFix the paths, or map names to columns with columns={'name_in_suite': 'column'}."
        )
    return df, suite


def require_models(suite: Suite, judge: JudgeConfig) -> None:
    """Refuse a suite whose judge tasks have no model: neither their own nor the config's.

    Raises:
        WorkbenchError: the judge tasks without a model are named, with the fix.

    Example:
        >>> import workbench as wb
        >>> suite = wb.Suite(name="s", tasks=[wb.JudgeTask(id="q", prompt="${a}",
        ...     criteria=[wb.Criterion(name="ok", description="Correct.")])])
        >>> try:
        ...     require_models(suite, wb.JudgeConfig())
        ... except wb.WorkbenchError as e:
        ...     print(str(e).split(":")[0])
        judge tasks ['q'] need a model
    """
    unmodelled = [t.id for t in suite.tasks if isinstance(t, JudgeTask) and not (t.model or judge.model)]
    if unmodelled:
        raise WorkbenchError(
            f"judge tasks {unmodelled} need a model: pass model='openai/gpt-4o-mini' (any litellm "
            "model string) or judge=wb.JudgeConfig(model=...), or set 'model' on the task. Nothing was run."
        )
