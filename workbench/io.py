"""Load a dataset file into a DataFrame, ready for :func:`workbench.evaluate`.

Example:
    >>> import json, tempfile, pathlib
    >>> from workbench.io import load_dataset
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "answers.jsonl"
    >>> row = {"id": "a1", "response": '{"answer": "Paris"}', "meta": {"lang": "en"}}
    >>> _ = path.write_text(json.dumps(row) + "\\n")
    >>> df = load_dataset(path)
    >>> df.loc["a1", "response"], df.loc["a1", "meta"]
    ('{"answer": "Paris"}', {'lang': 'en'})
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .assertions import json_type
from .errors import DataError, cap_list, shorten

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SUPPORTED_EXTENSIONS", "load_dataset"]


def _frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    # from plain Python values, not pd.read_json: strings holding JSON stay strings, nested
    # values stay dicts/lists, and nothing is guessed to be a date
    return pd.DataFrame(records)


_TOO_DEEP = (
    "is nested too deeply to read (arrays or objects inside one another hundreds of levels deep); "
    "flatten the deepest values"
)


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
                raise DataError(msg) from None
            except RecursionError:
                raise DataError(f"'{path}' line {lineno} {_TOO_DEEP}") from None
            if not isinstance(value, dict):
                msg = (
                    f"'{path}' line {lineno} holds a JSON {json_type(value)}, not an object: "
                    f"{shorten(line.strip(), 80)!r}. Each line of a .jsonl file must hold one object "
                    'such as {"id": "r1", "response": "..."}.'
                )
                raise DataError(msg)
            records.append(value)
    return _frame(records)


def _load_json(path: Path) -> pd.DataFrame:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        msg = f"'{path}' is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        raise DataError(msg) from None
    except RecursionError:
        raise DataError(f"'{path}' {_TOO_DEEP}") from None
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return _frame(data)
    got = "an array holding non-objects" if isinstance(data, list) else f"a JSON {json_type(data)}"
    msg = (
        f'\'{path}\' must hold an array of row objects, e.g. [{{"id": "r1", "response": "..."}}]; '
        f"it holds {got}. Write it with df.to_json(path, orient='records'), or use one object per line "
        "in a .jsonl file."
    )
    raise DataError(msg)


def _load_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    # only empty cells are missing: answers such as "None" or "NA" are text to evaluate
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _load_parquet(path: Path) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    df = table.to_pandas()
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_nested(column.type):
            # Arrow would hand back numpy arrays for lists; paths and operators expect the
            # plain lists and dicts a JSON row would give
            df[name] = pd.Series(column.to_pylist(), index=df.index, dtype=object)
    return df


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
    ``"NA"`` or ``"None"`` stays text. A ``.json`` file holds an array of row objects (what
    ``df.to_json(path, orient="records")`` writes); blank lines in a ``.jsonl`` are skipped.

    If the data has an ``id`` column whose values are unique and present, it becomes the
    index (and is no longer a column), so the ``row`` of each result is that id and
    ``rows=["s001"]`` selects by it. Otherwise the index is ``0..n-1`` and ``id`` stays a column.

    Args:
        path: the file; its ending chooses the reader (case-insensitive).

    Returns:
        A new DataFrame, one row per record.

    Raises:
        DataError: the file does not exist (the message gives the current directory),
            its ending is not supported (the message lists the supported ones), or its
            content cannot be read as rows: a ``.jsonl`` line that is not a JSON object (with
            its line number), a ``.json`` file that is not an array of objects, JSON nested too
            deeply for the parser, or a file its parser rejects (bad CSV, a corrupt Parquet
            file, text that is not UTF-8).

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
        raise DataError(msg)
    if not path.is_file():
        where = "is a directory, not a file" if path.is_dir() else "does not exist"
        msg = f"dataset '{path}' {where} (current directory: {Path.cwd()})"
        raise DataError(msg)
    try:
        df = loader(path)
    except DataError:
        raise
    except (ValueError, OSError) as e:  # the parsers' own errors: CSV syntax, Arrow, encoding
        msg = f"cannot read '{path}' as {suffix[1:]}: {type(e).__name__}: {shorten(str(e), 300)}"
        raise DataError(msg) from e
    if "id" in df.columns and df["id"].notna().all() and df["id"].is_unique:
        df = df.set_index("id")
    return df
