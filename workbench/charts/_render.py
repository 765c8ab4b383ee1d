"""Offline rendering of altair charts: a notebook renderer and file export, no network.

Altair 6's default renderer loads vega, vega-lite and vega-embed from cdn.jsdelivr.net, so
a chart stays empty without internet; JupyterLab 4 renders only the vega-lite v5 mimetype
natively; and altair's built-in ``template="inline"`` declares top-level ``const`` names,
so a second chart on the same page fails with "Identifier ... has already been declared".

The renderer here inlines vl-convert's JavaScript bundle (vega + vega-lite + vega-embed,
about 0.9 MB) into each chart's HTML output, inside a function scope, and evaluates it only
when the page has no ``window.vegaEmbed`` yet. Every output is thus self-sufficient (it
renders in JupyterLab, inside ``ipywidgets.Output``, in nbconvert HTML, in VS Code) and a
page holding many charts evaluates the bundle once. The price is size: each chart output
carries the bundle.
"""

from __future__ import annotations

import functools
import html
import json
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import altair as alt

from ..errors import MissingDependencyError, WorkbenchError, cap_list

if TYPE_CHECKING:
    from altair.utils.plugin_registry import PluginEnabler

__all__ = ["RENDERER", "enable_offline", "offline_html", "save", "to_html"]

RENDERER = "workbench"
"""The name under which :func:`enable_offline` registers the renderer in ``alt.renderers``."""

_DEFAULT_EMBED_OPTIONS: dict[str, Any] = {
    # svg: titles and axis labels become DOM <text>, selectable and testable
    "renderer": "svg",
    # "Open in Vega Editor" would send the data to vega.github.io; exports stay local
    "actions": {"export": True, "source": False, "compiled": False, "editor": False},
}

_SAVE_FORMATS = (".png", ".svg", ".pdf", ".html")


def _vl_convert() -> Any:
    try:
        import vl_convert
    except ImportError as e:  # pragma: no cover - vl-convert-python is a dependency
        raise MissingDependencyError(
            "Offline charts and PNG/SVG export need vl-convert-python: pip install vl-convert-python"
        ) from e
    return vl_convert


@functools.lru_cache(maxsize=1)
def _vl_version() -> str | None:
    """altair's Vega-Lite version as vl-convert names it (``"6.4"``), or ``None`` (vl-convert's
    newest) when this vl-convert does not ship that version."""
    wanted = ".".join(alt.VEGALITE_VERSION.split(".")[:2])
    return wanted if wanted in _vl_convert().get_vegalite_versions() else None


@functools.lru_cache(maxsize=1)
def _bundle() -> str:
    """vl-convert's JavaScript bundle, made safe to sit inside a ``<script>`` element.

    Building it takes ~3 s the first time in a process; it is cached after that.
    """
    js: str = _vl_convert().javascript_bundle(vl_version=_vl_version())
    # An HTML parser ends a script at "</script" and changes state at "<!--", wherever they are.
    # Both can only occur inside string, template or regex literals, where "<\/s" and "<\!" match
    # the same text. (Not every "</": in the regex literal /</g an escaped slash would end nothing.)
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    return js.replace("<!--", "<\\!--")


def _json_for_script(value: Any) -> str:
    """JSON that is also a safe JavaScript literal inside an HTML ``<script>``: ``<``, ``>``
    and ``&`` are escaped, so data such as ``</script><script>...`` cannot end the element."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _embed_options(options: dict[str, Any] | None) -> dict[str, Any]:
    return {**_DEFAULT_EMBED_OPTIONS, **(options or {})}


def _snippet(spec: dict[str, Any], embed_options: dict[str, Any] | None, *, bundle: bool) -> str:
    div = f"wb-chart-{uuid.uuid4().hex}"
    options = _json_for_script(_embed_options(embed_options))
    load = "if (!window.vegaEmbed) { (function () {\n" + _bundle() + "\n})(); }\n" if bundle else ""
    return (
        f'<div id="{div}" class="wb-chart"></div>\n'
        '<script type="text/javascript">\n'
        "(function () {\n"
        f"{load}"
        f'  var el = document.getElementById("{div}");\n'
        f"  window.vegaEmbed(el, {_json_for_script(spec)}, {options})\n"
        "    .catch(function (err) {\n"
        "      el.textContent = 'Chart error: ' + err; console.error(err);\n"
        "    });\n"
        "})();\n"
        "</script>"
    )


def offline_html(
    spec: dict[str, Any], embed_options: dict[str, Any] | None = None, **_: Any
) -> dict[str, str]:
    """The offline renderer: a Jupyter mime bundle whose HTML carries vega's JavaScript.

    This is what ``alt.renderers`` calls after :func:`enable_offline`; other keyword options
    that altair passes are ignored.

    Args:
        spec: a Vega-Lite spec, as ``chart.to_dict()`` returns it.
        embed_options: vega-embed options; they extend the defaults (``renderer="svg"``,
            only the export actions).

    Returns:
        ``{"text/html": ..., "text/plain": ...}``.

    Example:
        >>> import altair as alt
        >>> from workbench.charts import offline_html
        >>> bundle = offline_html(alt.Chart().mark_point().to_dict())
        >>> "if (!window.vegaEmbed)" in bundle["text/html"], "cdn.jsdelivr" in bundle["text/html"]
        (True, False)
    """
    version = spec.get("$schema", "").rsplit("/", 1)[-1].removesuffix(".json") or "vega-lite"
    return {
        "text/html": _snippet(spec, embed_options, bundle=True),
        "text/plain": f"<VegaLite {version} chart>",
    }


def enable_offline(embed_options: dict[str, Any] | None = None) -> PluginEnabler[Any, Any]:
    """Register the offline renderer with altair and make it the active one.

    ``import workbench.charts`` calls this once, unless another renderer than altair's
    ``"default"`` is active then (a choice you made is kept). Call it again after switching
    away; ``alt.renderers.enable("default")`` switches back to altair's CDN renderer.

    Args:
        embed_options: vega-embed options, e.g. ``{"renderer": "canvas"}``; they extend the
            defaults (``renderer="svg"``, only the export actions).

    Returns:
        altair's plugin enabler; used in a ``with`` block it restores the previous renderer.

    Example:
        >>> import altair as alt
        >>> from workbench import charts
        >>> with charts.enable_offline({"renderer": "canvas"}):
        ...     print(alt.renderers.active)
        workbench
    """
    if RENDERER not in alt.renderers.names():
        alt.renderers.register(RENDERER, offline_html)
    return alt.renderers.enable(RENDERER, embed_options=_embed_options(embed_options))


def _enable_on_import() -> None:
    if alt.renderers.active == "default":
        enable_offline()
    elif RENDERER not in alt.renderers.names():
        alt.renderers.register(RENDERER, offline_html)


def _spec(chart: alt.TopLevelMixin | dict[str, Any], who: str) -> dict[str, Any]:
    if isinstance(chart, dict):
        return chart
    if not hasattr(chart, "to_dict"):
        raise WorkbenchError(
            f"{who}() needs an altair chart (or its to_dict() spec), not {type(chart).__name__}. "
            "Build one with a workbench.charts function or alt.Chart(...)."
        )
    return chart.to_dict()


def to_html(
    *charts: alt.TopLevelMixin | dict[str, Any],
    title: str = "Charts",
    embed_options: dict[str, Any] | None = None,
) -> str:
    """A standalone HTML page showing ``charts`` offline: vega's JavaScript is inlined once.

    Args:
        charts: altair charts (or Vega-Lite spec dicts), shown one below the other.
        title: the page title (escaped).
        embed_options: vega-embed options, as for :func:`enable_offline`.

    Example:
        >>> import altair as alt, pandas as pd
        >>> from workbench import charts
        >>> c = alt.Chart(pd.DataFrame({"x": [1, 2]})).mark_point().encode(x="x:Q")
        >>> page = charts.to_html(c, c, title="Two <charts>")
        >>> page.count("window.vegaEmbed(el"), "<title>Two &lt;charts&gt;</title>" in page
        (2, True)
    """
    if not charts:
        raise WorkbenchError("to_html() needs at least one chart, e.g. to_html(charts.pass_rates(run)).")
    specs = [_spec(c, "to_html") for c in charts]
    body = "\n".join(_snippet(s, embed_options, bundle=False) for s in specs)
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        '<script type="text/javascript">\n(function () {\n' + _bundle() + "\n})();\n</script>\n"
        "<style>body { font-family: sans-serif; } .wb-chart { margin: 1em 0; }</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def save(chart: alt.TopLevelMixin | dict[str, Any], path: str | Path, *, scale: float = 2.0) -> Path:
    """Write ``chart`` to a PNG, SVG, PDF or offline HTML file, chosen by the suffix; no network.

    PNG, SVG and PDF are drawn by vl-convert (the same vega, in Rust and Deno, no browser);
    ``chart.save("x.png")`` in altair 6 uses vl-convert too and works offline as well.
    HTML is :func:`to_html` of the one chart.

    Args:
        chart: an altair chart or a Vega-Lite spec dict.
        path: the file to write; its suffix picks the format.
        scale: pixel density of PNG output (2 = sharp on high-DPI screens).

    Returns:
        The path written.

    Raises:
        WorkbenchError: the suffix is not one of ``.png``, ``.svg``, ``.pdf``, ``.html``.

    Example:
        >>> import tempfile, pathlib, altair as alt, pandas as pd
        >>> from workbench import charts
        >>> c = alt.Chart(pd.DataFrame({"x": [1, 2]})).mark_point().encode(x="x:Q")
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     out = charts.save(c, pathlib.Path(tmp) / "chart.svg")
        ...     out.read_text()[:4]
        '<svg'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SAVE_FORMATS:
        raise WorkbenchError(
            f"save() cannot write {path.name!r}: unknown format {suffix or '(no suffix)'!r}. "
            f"Formats: {cap_list(list(_SAVE_FORMATS))}; e.g. save(chart, 'scores.png')."
        )
    spec = _spec(chart, "save")
    if suffix == ".html":
        path.write_text(to_html(spec), encoding="utf-8")
        return path
    vlc = _vl_convert()
    version = _vl_version()
    if suffix == ".svg":
        path.write_text(vlc.vegalite_to_svg(spec, vl_version=version), encoding="utf-8")
    elif suffix == ".png":
        path.write_bytes(vlc.vegalite_to_png(spec, vl_version=version, scale=scale))
    else:
        path.write_bytes(vlc.vegalite_to_pdf(spec, vl_version=version))
    return path
