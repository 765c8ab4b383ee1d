"""Small layout helpers shared by the tabs (widgets only; the controller never imports this)."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as w


def row(children: Sequence[w.Widget]) -> w.HBox:
    """An ``HBox`` whose children wrap onto the next line when the panel is narrow, instead
    of shrinking (buttons would show a cut label) or overflowing the output area."""
    return w.HBox(list(children), layout=w.Layout(flex_flow="row wrap", align_items="center"))
