"""Tool calls as a long DataFrame: one row per call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import ResponseError
from ._normalize import normalize

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["tool_calls_frame"]


def tool_calls_frame(values: Any, *, index: Any = None) -> pd.DataFrame:
    """One row per tool call of every response in ``values`` (a Series, or any iterable of
    responses): ``row`` (the Series' index label), ``position`` (0, 1, ... within its
    response), ``name``, ``arguments``, ``id``, ``result``, ``error`` (why arguments did not
    parse, or why the cell is no response). Rows whose cell is not a response get one row
    with ``name`` null and ``error`` saying why.

    Example:
        >>> import pandas as pd
        >>> s = pd.Series([{"role": "assistant", "tool_calls": [
        ...     {"id": "c1", "function": {"name": "search", "arguments": '{"q": "x"}'}}]}], index=["r1"])
        >>> tool_calls_frame(s)[["row", "position", "name", "arguments"]]
          row  position    name   arguments
        0  r1         0  search  {'q': 'x'}
    """
    import pandas as pd

    if index is None:
        index = values.index if isinstance(values, pd.Series) else None
    cells = list(values)
    labels = list(index) if index is not None else list(range(len(cells)))
    rows: list[tuple[Any, ...]] = []
    for label, cell in zip(labels, cells):
        try:
            calls = normalize(cell)["tool_calls"]
        except ResponseError as e:
            rows.append((label, 0, None, None, None, None, str(e)))
            continue
        rows.extend(
            (label, i, c["name"], c["arguments"], c["id"], c["result"], c.get("arguments_error"))
            for i, c in enumerate(calls)
        )
    frame: pd.DataFrame = pd.DataFrame(
        rows, columns=["row", "position", "name", "arguments", "id", "result", "error"]
    )
    frame["position"] = frame["position"].astype("int64")
    for col in ("name", "id", "error"):
        frame[col] = frame[col].astype("string")
    return frame
