"""A batch-mode run's input rows, kept in the store so that any process can run it again.

Columns that hold text (or numbers, booleans, dates) are kept as Arrow columns with their
dtypes; columns of other objects (dicts, lists, mixed values) are kept as one JSON text per
cell and parsed back, so a cell comes back equal to what it was (a tuple comes back as a list).
The index (levels and names) and the column names are kept as they were.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"q": ["hi", None], "meta": [{"x": 1}, [1, 2]]}, index=pd.Index([7, 9], name="id"))
    >>> back = decode_inputs(encode_inputs(df))
    >>> back.equals(df), back.index.name, back.loc[7, "meta"]
    (True, 'id', {'x': 1})
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import orjson
import pandas as pd

__all__ = ["decode_inputs", "encode_inputs"]

_META = b"workbench.inputs"


def encode_inputs(df: pd.DataFrame) -> bytes:
    """``df`` as bytes (an Arrow IPC stream) that :func:`decode_inputs` reads back."""
    import pyarrow as pa

    flat = df.reset_index()
    n_index = df.index.nlevels
    arrays: list[Any] = []
    as_json: list[int] = []
    for i in range(flat.shape[1]):
        col = flat.iloc[:, i]
        if col.dtype == object and not all(v is None or isinstance(v, str) for v in col):
            arrays.append(pa.array([orjson.dumps(v, default=str).decode() for v in col], type=pa.string()))
            as_json.append(i)
            continue
        try:
            arrays.append(pa.Array.from_pandas(col))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            arrays.append(pa.array([orjson.dumps(v, default=str).decode() for v in col], type=pa.string()))
            as_json.append(i)
    meta = {
        "index_names": [None if n is None else str(n) for n in df.index.names],
        "n_index": n_index,
        "columns": [_label(c) for c in df.columns],
        "json": as_json,
        "dtypes": [str(t) for t in flat.dtypes],
    }
    table = pa.table(arrays, names=[f"c{i}" for i in range(len(arrays))])
    table = table.replace_schema_metadata({_META: json.dumps(meta).encode()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def decode_inputs(data: bytes) -> pd.DataFrame:
    """The DataFrame :func:`encode_inputs` wrote."""
    import pyarrow as pa

    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    meta = json.loads((table.schema.metadata or {})[_META])
    columns: dict[str, Any] = {}
    for i, name in enumerate(table.column_names):
        col = table.column(name)
        if i in meta["json"]:
            columns[name] = pd.Series([orjson.loads(str(v)) for v in col.to_pylist()], dtype=object)
        else:
            series = col.to_pandas()
            dtype = meta["dtypes"][i]
            if str(series.dtype) != dtype:
                with contextlib.suppress(TypeError, ValueError):  # kept as Arrow gave it
                    series = series.astype(dtype)
            columns[name] = series
    frame = pd.DataFrame(columns)
    n_index = meta["n_index"]
    index_cols = list(frame.columns[:n_index])
    out: pd.DataFrame = frame.set_index(index_cols) if n_index > 1 else frame.set_index(index_cols[0])
    out.index = out.index.set_names(meta["index_names"])
    out.columns = [_unlabel(c) for c in meta["columns"]]
    return out


def _label(c: Any) -> Any:
    return list(c) if isinstance(c, tuple) else c


def _unlabel(c: Any) -> Any:
    return tuple(c) if isinstance(c, list) else c
