"""Load a dataset file into a DataFrame, ready for :func:`workbench.evaluate`.

Example:
    >>> import tempfile, pathlib
    >>> from workbench.io import load_dataset
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "answers.jsonl"
    >>> _ = path.write_text('{"id": "a1", "response": "{\\\\"answer\\\\": \\\\"Paris\\\\"}"}\\n')
    >>> load_dataset(path).loc["a1", "response"]
    '{"answer": "Paris"}'
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ColumnsError, cap_list, shorten

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SUPPORTED_EXTENSIONS", "load_dataset"]


def _frame(records: list[dict[str, Any]] | dict[str, list[Any]]) -> pd.DataFrame:
    import pandas as pd

    # from plain Python values, not pd.read_json: strings holding JSON stay strings, nested
    # values stay dicts/lists, and nothing is guessed to be a date
    return pd.DataFrame(records)


def _load_jsonl(path: Path) -> pd.DataFrame:
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                msg = (
                    f"'{path}' line {lineno} is not valid JSON ({e.msg} at column {e.colno}): "
                    f"{shorten(line.strip(), 80)!r}. Each line of a .jsonl file must hold one JSON object."
                )
                raise ColumnsError(msg) from None
            if not isinstance(value, dict):
                msg = (
                    f"'{path}' line {lineno} holds a JSON {type(value).__name__}, not an object: "
                    f"{shorten(line.strip(), 80)!r}. Each line of a .jsonl file must hold one object "
                    'such as {"id": "r1", "response": "..."}.'
                )
                raise ColumnsError(msg)
            records.append(value)
    return _frame(records)


def _load_json(path: Path) -> pd.DataFrame:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        msg = f"'{path}' is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        raise ColumnsError(msg) from None
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return _frame(data)
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        lengths = {len(v) for v in data.values()}
        if len(lengths) == 1:
            return _frame(data)
    msg = (
        f"'{path}' must hold an array of objects (one per row), e.g. [{{\"id\": \"r1\", \"response\": \"...\"}}], "
        f"or an object of equally long column arrays; it holds a {type(data).__name__}. "
        "For one object per line, name the file .jsonl."
    )
    raise ColumnsError(msg)


def _load_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    # only empty cells are missing: answers such as "None" or "NA" are text to evaluate
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _load_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    df = table.to_pandas()
    for name, column in zip(table.column_names, table.columns):
        kind = column.type
        if pa.types.is_nested(kind):
            # Arrow hands back numpy arrays for lists and loses nothing else; plain
            # lists and dicts are what paths and operators expect in a cell
            df[name] = pd_object(column.to_pylist())
    return df


def pd_object(values: list[Any]) -> Any:
    import pandas as pd

    return pd.Series(values, dtype=object).to_numpy()


_LOADERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".jsonl": _load_jsonl,
    ".json": _load_json,
    ".csv": _load_csv,
    ".parquet": _load_parquet,
}

SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(_LOADERS)
"""File endings :func:`load_dataset` reads."""


def load_dataset(path: str | Path) -> pd.DataFrame:
    """Read a ``.jsonl``, ``.json``, ``.csv`` or ``.parquet`` file into a DataFrame.

    Cells are kept as the file has them: a string holding JSON (``'{"answer": ...}'``)
    stays a string, for paths and ``is_json`` to look into; a nested JSON value (an object
    or array in a ``.jsonl``/``.json`` row, a list or struct column in Parquet) becomes a
    Python ``dict``/``list``. In a ``.csv`` only empty cells are missing, so an answer of
    ``"NA"`` or ``"None"`` stays text. A ``.json`` file holds an array of row objects or an
    object of equally long column arrays; blank lines in a ``.jsonl`` are skipped.

    If the data has an ``id`` column whose values are unique and present, it becomes the
    index (and is no longer a column), so the ``row`` of each result is that id and
    ``rows=["s001"]`` selects by it. Otherwise the index is ``0..n-1`` and ``id`` stays a column.

    Args:
        path: the file; its ending chooses the reader (case-insensitive).

    Returns:
        A new DataFrame, one row per record.

    Raises:
        ColumnsError: the file does not exist (the message gives the current directory),
            its ending is not supported (the message lists the supported ones), or its
            content is not rows: a ``.jsonl`` line that is not a JSON object (with its line
            number), or a ``.json`` file that is neither records nor columns.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.jsonl"
        >>> _ = path.write_text('{"id": "s1", "answer": "yes"}\\n{"id": "s2", "answer": "no"}\\n')
        >>> load_dataset(path)
           answer
        id
        s1    yes
        s2     no
    """
    path = Path(path)
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        msg = (
            f"cannot read '{path}': unsupported file type {suffix or '(no extension)'!r}; "
            f"supported are {cap_list(list(SUPPORTED_EXTENSIONS))}. Rename the file or convert it."
        )
        raise ColumnsError(msg)
    if not path.is_file():
        where = "is a directory, not a file" if path.is_dir() else "does not exist"
        msg = f"dataset '{path}' {where} (current directory: {Path.cwd()})"
        raise ColumnsError(msg)
    df = loader(path)
    if "id" in df.columns and df["id"].notna().all() and df["id"].is_unique:
        df = df.set_index("id")
    return df
