"""A stable, fast fingerprint of a DataFrame's index and values.

Numeric, datetime and boolean columns are hashed as their raw bytes (NaN normalised),
Arrow-backed strings as their offsets and UTF-8 bytes, categoricals as categories plus
codes, and object columns (dicts, lists, mixed types) as one canonical JSON document with
sorted keys, so ``{"a": 1, "b": 2}`` and ``{"b": 2, "a": 1}`` hash alike while ``1`` and
``"1"`` do not. Missing values (``None``, ``NaN``, ``pd.NA``) hash alike within a column.
The hash is xxh3-128: about 10 GB/s, so a 1M-row frame of text costs tens of milliseconds.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["data_fingerprint"]

_VERSION = b"workbench-data-v1"


def data_fingerprint(df: pd.DataFrame) -> str:
    """16 hex characters identifying ``df``'s index, column names, dtypes and values.

    The same data gives the same fingerprint in any process; a changed value, label,
    column name or dtype gives another. Index and column *order* count.

    Example:
        >>> import pandas as pd
        >>> a = pd.DataFrame({"q": ["hi", None], "meta": [{"x": 1, "y": 2}, [1, 2]]})
        >>> b = pd.DataFrame({"q": ["hi", None], "meta": [{"y": 2, "x": 1}, [1, 2]]})
        >>> data_fingerprint(a) == data_fingerprint(b), len(data_fingerprint(a))
        (True, 16)
        >>> data_fingerprint(a) == data_fingerprint(a.rename(index={1: 7}))
        False
    """
    import xxhash

    h = xxhash.xxh3_128()
    _feed(h, _VERSION)
    _feed(h, json.dumps([len(df), [str(c) for c in df.columns], [str(t) for t in df.dtypes]]).encode())
    index = df.index
    levels = (
        [index.get_level_values(i) for i in range(index.nlevels)]
        if isinstance(index, pd.MultiIndex)
        else [index]
    )
    for level in levels:
        _feed(h, str(level.dtype).encode())
        _feed(h, _digest(level.array))
    for i in range(df.shape[1]):
        _feed(h, _digest(df.iloc[:, i].array))
    return h.hexdigest()[:16]


def _feed(h: Any, data: bytes | memoryview) -> None:
    """Length-prefixed, so no two sequences of parts hash alike."""
    h.update(len(data).to_bytes(8, "little"))
    h.update(data)


def _digest(values: Any) -> bytes:
    """The xxh3-128 digest of one column's values (a pandas or numpy array)."""
    import xxhash

    h = xxhash.xxh3_128()
    if isinstance(values, pd.Categorical):
        _feed(h, _digest(values.categories.array))
        _feed(h, np.ascontiguousarray(values.codes).view(np.uint8).data)
        return h.digest()
    if _arrow_backed(values):
        return _arrow_digest(values.__arrow_array__())
    if isinstance(values, pd.arrays.DatetimeArray | pd.arrays.TimedeltaArray):
        # view("i8") is the integers behind the values (UTC for a zone, NaT as its sentinel)
        _feed(h, np.ascontiguousarray(values.view("i8")).view(np.uint8).data)
        return h.digest()
    if isinstance(values, pd.arrays.IntegerArray | pd.arrays.FloatingArray | pd.arrays.BooleanArray):
        mask = np.asarray(values.isna())
        numpy_dtype = np.dtype(values.dtype.type)
        data = values.to_numpy(dtype=numpy_dtype, na_value=numpy_dtype.type(0))
        _feed(h, np.ascontiguousarray(mask).view(np.uint8).data)
        return _numpy_digest(data, h)
    array = values.to_numpy() if isinstance(values, pd.api.extensions.ExtensionArray) else np.asarray(values)
    if array.dtype.kind in "biufcmM":
        return _numpy_digest(array, h)
    return _object_digest(np.asarray(array, dtype=object))


def _arrow_backed(values: Any) -> bool:
    dtype = getattr(values, "dtype", None)
    return isinstance(dtype, pd.ArrowDtype) or (
        isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
    )


def _numpy_digest(array: np.ndarray, h: Any) -> bytes:
    if array.dtype.kind in "fc" and np.isnan(array).any():
        array = np.where(np.isnan(array), np.nan, array)  # one NaN bit pattern
    _feed(h, str(array.dtype).encode())
    _feed(h, np.ascontiguousarray(array).view(np.uint8).data)
    return bytes(h.digest())


def _arrow_digest(chunked: Any) -> bytes:
    """Arrow strings: value lengths (-1 for null) and the UTF-8 bytes, independent of how
    the array is chunked. Other Arrow types go through numpy."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import xxhash

    if isinstance(chunked, pa.Array):
        chunked = pa.chunked_array([chunked])
    t = chunked.type
    if not (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
    ):
        return _digest(np.asarray(chunked.to_numpy(zero_copy_only=False), dtype=object))
    lengths, data = xxhash.xxh3_128(), xxhash.xxh3_128()
    wide = pa.types.is_large_string(t) or pa.types.is_large_binary(t)
    for chunk in chunked.chunks:
        if not len(chunk):
            continue
        lengths.update(pc.binary_length(chunk).cast(pa.int64()).fill_null(-1).to_numpy().view(np.uint8).data)
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if wide else np.int32)
        start, end = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
        if end > start:
            data.update(memoryview(chunk.buffers()[2])[start:end])
    return lengths.digest() + data.digest()


def _object_digest(array: np.ndarray) -> bytes:
    """Strings (and missing values) through Arrow; anything else as canonical JSON."""
    import xxhash

    if pd.api.types.infer_dtype(array, skipna=True) in ("string", "empty"):
        import pyarrow as pa

        try:
            return _arrow_digest(
                pa.chunked_array([pa.array(array, type=pa.large_string(), from_pandas=True)])
            )
        except UnicodeEncodeError:  # a lone surrogate: not valid Unicode, so not an Arrow string
            pass
    values = [None if _missing(v) else v for v in array.tolist()]
    return xxhash.xxh3_128(_canonical(values)).digest()


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _canonical(values: list[Any]) -> bytes:
    """JSON with sorted keys; a non-JSON value becomes ``[type name, repr]``."""
    try:
        import orjson

        option = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
        return orjson.dumps(values, option=option, default=_tagged)
    except (ImportError, TypeError):
        pass
    try:
        return json.dumps(values, sort_keys=True, default=_tagged, ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
    except TypeError:  # keys of mixed types cannot be sorted
        try:
            return json.dumps(values, default=_tagged, ensure_ascii=False).encode("utf-8", "surrogatepass")
        except RecursionError:
            return _flat(values)
    except RecursionError:  # nested deeper than any JSON encoder goes
        return _flat(values)


class _Key(str):
    """A dict key in :func:`_flat`'s stack (a string of its own type, so it is not an item)."""


def _flat(values: list[Any]) -> bytes:
    """A serialisation of any nesting depth, without recursion: each container opens with its
    type and size, then its items (dict items by sorted key text)."""
    out: list[str] = []
    stack: list[Any] = [values]
    while stack:
        v = stack.pop()
        if isinstance(v, _Key):
            out.append("k" + v)
        elif isinstance(v, dict):
            items = sorted(v.items(), key=lambda kv: repr(kv[0]))
            out.append(f"{{{len(items)}")
            for k, item in reversed(items):
                stack.append(item)
                stack.append(_Key(repr(k)))
        elif isinstance(v, list | tuple):
            out.append(f"[{len(v)}")
            stack.extend(reversed(v))
        elif v is None or isinstance(v, str | int | float | bool):
            out.append(repr(v))
        else:
            out.append(repr(_tagged(v)))
    return "\x1f".join(out).encode("utf-8", "surrogatepass")


def _tagged(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, set | frozenset):
        return ["set", sorted(map(repr, v))]
    if _missing(v):
        return None
    return [type(v).__qualname__, repr(v)]
