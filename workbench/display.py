"""How result objects show themselves in a notebook: a heading, a list of findings and a table,
everything escaped (``Comparison``, ``Agreement``, ``Consistency``, ``PairwiseResult``).

Example:
    >>> import pandas as pd
    >>> html = findings_html(["Comparison of A and B", "  1 flip <b>"], pd.DataFrame({"x": [1.23456]}))
    >>> html.startswith("<p><b>Comparison of A and B</b></p><ul><li>1 flip &lt;b&gt;</li></ul>")
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["findings_html"]


def findings_html(lines: Sequence[str], table: pd.DataFrame, digits: int = 3) -> str:
    """``lines[0]`` as a bold heading, the other lines as a list, then ``table`` with floats to
    ``digits`` significant digits; every piece of text escaped."""
    head, *rest = lines
    items = "".join(f"<li>{escape(line.strip())}</li>" for line in rest)
    html = table.to_html(index=False, na_rep="", escape=True, float_format=lambda x: f"{x:.{digits}g}")
    return f"<p><b>{escape(head)}</b></p><ul>{items}</ul>{html}"
