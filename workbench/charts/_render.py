"""Chart outputs that render anywhere with no network: notebooks, widgets, reports, files.

**In a notebook** a chart's output is the Vega-Lite 5 mime bundle
(``application/vnd.vegalite.v5+json``: the chart's spec and data, nothing else), which
JupyterLab 4 and Notebook 7 draw with their own vega, also in an *untrusted* notebook (one
executed by CI, by ``workbench report`` or by a colleague and opened later) and inside
``ipywidgets.Output``. Two things rule out the alternatives:

* altair 6 writes Vega-Lite 6 specs under ``application/vnd.vegalite.v6.json``, for which
  JupyterLab 4.6 has no renderer: its vega5 extension takes the Vega-Lite v3, v4 and v5
  types and compiles them with its own Vega-Lite 5.6.1 on Vega 5.33.
* ``text/html`` outranks the vega types in JupyterLab (rank 50 against 57) and JupyterLab
  strips the scripts of an untrusted notebook's HTML, so a chart sent as HTML stays blank
  until the notebook is run again; a bundle carrying both would show the blank HTML.

So the output relabels the spec as Vega-Lite 5 (its ``$schema``). For the charts
:mod:`workbench.charts` builds this changes nothing: compiled by Vega-Lite 5.8 and 6.4 they
draw identical SVG, and in JupyterLab's Vega-Lite 5.6.1 the same marks and texts
(``tests/test_charts.py`` and ``tests/browser/test_lab_charts.py`` check both). An altair
chart using a feature newer than Vega-Lite 5.6 would lose it in JupyterLab;
``enable_offline(html=True)`` draws charts with altair's own Vega-Lite instead, as HTML that
carries vega's JavaScript (about 0.9 MB per output, and blank while the notebook is untrusted).

The output also carries a 2 KB ``image/png`` saying where the chart can be seen
(:mod:`workbench.charts._placeholder`): viewers without vega (GitHub, plain nbconvert) show
it, and JupyterLab, which stores a PNG of every chart it draws in an output that has none
(35-40 KB each, and the notebook changed as soon as it is opened), keeps it instead.

**As HTML** (reports, :func:`to_html`, :func:`save` to ``.html``), vega's JavaScript
(vl-convert's bundle of vega, vega-lite and vega-embed, ~0.9 MB) is inlined once per page
and each chart is a ``<div>`` and a ``vegaEmbed`` call (:func:`chart_html`).
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
from ._placeholder import PLACEHOLDER_PNG

if TYPE_CHECKING:
    from altair.utils.plugin_registry import PluginEnabler

__all__ = [
    "RENDERER",
    "VEGALITE_MIMETYPE",
    "as_vegalite5",
    "chart_html",
    "enable_offline",
    "json_for_script",
    "mimebundle",
    "offline_html",
    "save",
    "to_html",
    "vega_javascript",
]

RENDERER = "workbench"
"""The name under which :func:`enable_offline` registers the renderer in ``alt.renderers``."""

VEGALITE_MIMETYPE = "application/vnd.vegalite.v5+json"
"""The mime type of a chart output: Vega-Lite 5, which JupyterLab 4 renders itself."""

_VEGALITE5_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
# The major version only: vega-embed warns when a spec names a newer minor version than its own
# Vega-Lite (JupyterLab's is 5.6.1; altair 5 writes v5.20.1).
_SCHEMA_VERSION = re.compile(r"/schema/vega-lite/v(\d+)[\w.\-]*\.json$")

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
def vega_javascript() -> str:
    """vega, vega-lite and vega-embed (vl-convert's bundle for altair's Vega-Lite), safe to put
    inside a ``<script>`` element; it defines ``window.vegaEmbed``.

    This is what a page of :func:`chart_html` snippets needs once. Building it takes ~3 s
    the first time in a process; it is cached after that.

    Example:
        >>> from workbench.charts import vega_javascript
        >>> js = vega_javascript()
        >>> len(js) > 500_000, "</script" in js.lower(), "<!--" in js
        (True, False, False)
    """
    js: str = _vl_convert().javascript_bundle(vl_version=_vl_version())
    # An HTML parser ends a script at "</script" and changes state at "<!--", wherever they are.
    # Both can only occur inside string, template or regex literals, where "<\/s" and "<\!" match
    # the same text. (Not every "</": in the regex literal /</g an escaped slash would end nothing.)
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    return js.replace("<!--", "<\\!--")


def json_for_script(value: Any) -> str:
    """JSON that is also a safe literal inside an HTML ``<script>``: ``<``, ``>`` and ``&``
    are written as ``\\u003c``, ``\\u003e``, ``\\u0026``, so no value (``</script>``,
    ``<!--``) can end the element or change how the HTML parser reads it; ``JSON.parse``
    and JavaScript read the same value back.

    Example:
        >>> from workbench.charts import json_for_script
        >>> print(json_for_script({"label": "<!--<script>a & b</script>"}))
        {"label": "\\u003c!--\\u003cscript\\u003ea \\u0026 b\\u003c/script\\u003e"}
    """
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


def as_vegalite5(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` labelled as a Vega-Lite 5 spec (a new dict; ``$schema`` is the only change).

    Vega-Lite 6 specs, as altair 6 writes them, are Vega-Lite 5 specs unless they use a
    feature added in 6 (see the module's notes); specs of other versions are returned as
    they are.

    Example:
        >>> import altair as alt
        >>> from workbench.charts import as_vegalite5
        >>> as_vegalite5(alt.Chart().mark_point().to_dict())["$schema"]
        'https://vega.github.io/schema/vega-lite/v5.json'
    """
    found = _SCHEMA_VERSION.search(str(spec.get("$schema", "")))
    if found is not None and found.group(1) not in ("5", "6"):
        return dict(spec)
    return {**spec, "$schema": _VEGALITE5_SCHEMA}


def _title(spec: dict[str, Any]) -> str:
    title = spec.get("title")
    text = title.get("text") if isinstance(title, dict) else title
    if isinstance(text, list):
        text = " ".join(str(t) for t in text)
    return f" {text!r}" if isinstance(text, str) and text else ""


def mimebundle(
    spec: dict[str, Any], embed_options: dict[str, Any] | None = None, *, lab_png: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A chart as notebook output: the Vega-Lite 5 mime bundle and its metadata.

    This is what a chart shows as once ``workbench.charts`` is imported (altair calls it
    through :func:`enable_offline`'s renderer). JupyterLab draws it with its own vega, with
    the ``embed_options`` from the metadata, also in an untrusted notebook. Viewers without
    a Vega-Lite renderer (GitHub, plain nbconvert) show the ``image/png``: a 2 KB picture
    that says where to see the chart. Without one, JupyterLab would store its own PNG of the
    chart in the notebook (35-40 KB per chart, and the notebook changed on opening):
    ``lab_png=True`` lets it.

    Args:
        spec: a Vega-Lite spec, as ``chart.to_dict()`` returns it.
        embed_options: vega-embed options; they extend the defaults (``renderer="svg"``,
            only the export actions).
        lab_png: leave the picture out, so JupyterLab stores a PNG of the chart it draws.

    Returns:
        ``({VEGALITE_MIMETYPE: spec, "image/png": ..., "text/plain": ...},
        {VEGALITE_MIMETYPE: {"embed_options": ...}})``.

    Example:
        >>> import altair as alt
        >>> from workbench.charts import VEGALITE_MIMETYPE, mimebundle
        >>> data, metadata = mimebundle(alt.Chart(title="Scores").mark_point().to_dict())
        >>> sorted(data), data["text/plain"]
        (['application/vnd.vegalite.v5+json', 'image/png', 'text/plain'], "<Vega-Lite 5 chart 'Scores'>")
        >>> metadata[VEGALITE_MIMETYPE]["embed_options"]["renderer"]
        'svg'
    """
    data: dict[str, Any] = {VEGALITE_MIMETYPE: as_vegalite5(spec)}
    if not lab_png:
        data["image/png"] = PLACEHOLDER_PNG
    data["text/plain"] = f"<Vega-Lite 5 chart{_title(spec)}>"
    return data, {VEGALITE_MIMETYPE: {"embed_options": _embed_options(embed_options)}}


def chart_html(spec: dict[str, Any], embed_options: dict[str, Any] | None = None) -> str:
    """A ``<div>`` and the script that draws ``spec`` into it, on a page that has
    :func:`vega_javascript` (``window.vegaEmbed``). The spec and options are escaped
    (:func:`json_for_script`); a chart that fails to draw shows its error in the div.

    Example:
        >>> import altair as alt
        >>> from workbench.charts import chart_html
        >>> snippet = chart_html(alt.Chart(title="</script>").mark_point().to_dict())
        >>> snippet.count("window.vegaEmbed(el"), snippet.lower().count("</script")
        (1, 1)
    """
    return _snippet(spec, embed_options, bundle=False)


def _for_page(spec: dict[str, Any]) -> dict[str, Any]:
    """A Vega-Lite 5 spec (a notebook's chart output) labelled with the page's Vega-Lite
    version, altair's, which draws it the same: vega-embed would warn of a mismatch otherwise."""
    found = _SCHEMA_VERSION.search(str(spec.get("$schema", "")))
    if found is None or found.group(1) != "5":
        return spec
    return {**spec, "$schema": alt.SCHEMA_URL}


def _snippet(spec: dict[str, Any], embed_options: dict[str, Any] | None, *, bundle: bool) -> str:
    div = f"wb-chart-{uuid.uuid4().hex}"
    options = json_for_script(_embed_options(embed_options))
    load = "if (!window.vegaEmbed) { (function () {\n" + vega_javascript() + "\n})(); }\n" if bundle else ""
    return (
        f'<div id="{div}" class="wb-chart"></div>\n'
        '<script type="text/javascript">\n'
        "(function () {\n"
        f"{load}"
        f'  var el = document.getElementById("{div}");\n'
        f"  window.vegaEmbed(el, {json_for_script(_for_page(spec))}, {options})\n"
        "    .catch(function (err) {\n"
        "      el.textContent = 'Chart error: ' + err; console.error(err);\n"
        "    });\n"
        "})();\n"
        "</script>"
    )


def offline_html(spec: dict[str, Any], embed_options: dict[str, Any] | None = None) -> dict[str, str]:
    """A chart as HTML output that carries vega's JavaScript: for front-ends that have no
    Vega-Lite renderer, or a chart that needs altair's own Vega-Lite version.

    The JavaScript (~0.9 MB) is in every output and evaluated once per page. JupyterLab runs
    it only in a trusted notebook: executed elsewhere and opened later, the chart is blank
    until the cell runs again. :func:`mimebundle` is the default for that reason;
    ``enable_offline(html=True)`` switches to this.

    Args:
        spec: a Vega-Lite spec, as ``chart.to_dict()`` returns it.
        embed_options: vega-embed options; they extend the defaults.

    Returns:
        ``{"text/html": ..., "text/plain": ...}``.

    Example:
        >>> import altair as alt
        >>> from workbench.charts import offline_html
        >>> bundle = offline_html(alt.Chart().mark_point().to_dict())
        >>> "if (!window.vegaEmbed)" in bundle["text/html"], "cdn.jsdelivr" in bundle["text/html"]
        (True, False)
    """
    return {
        "text/html": _snippet(spec, embed_options, bundle=True),
        "text/plain": f"<Vega-Lite chart{_title(spec)}>",
    }


def _renderer(
    spec: dict[str, Any],
    embed_options: dict[str, Any] | None = None,
    html: bool = False,
    lab_png: bool = False,
    **_: Any,
) -> tuple[dict[str, Any], dict[str, Any]] | dict[str, str]:
    """What ``alt.renderers`` calls with the options :func:`enable_offline` stored; other
    keyword options that altair passes are ignored."""
    if html:
        return offline_html(spec, embed_options)
    return mimebundle(spec, embed_options, lab_png=lab_png)


def enable_offline(
    embed_options: dict[str, Any] | None = None, *, html: bool = False, lab_png: bool = False
) -> PluginEnabler[Any, Any]:
    """Register workbench's renderer with altair and make it the active one.

    ``import workbench.charts`` calls this once, unless another renderer than altair's
    ``"default"`` is active then (a choice you made is kept). Call it again after switching
    away; ``alt.renderers.enable("default")`` switches back to altair's CDN renderer.

    Args:
        embed_options: vega-embed options, e.g. ``{"renderer": "canvas"}``; they extend the
            defaults (``renderer="svg"``, only the export actions).
        html: show charts as HTML carrying vega's JavaScript (:func:`offline_html`) instead
            of the Vega-Lite 5 mime bundle (:func:`mimebundle`): for front-ends without a
            Vega-Lite renderer; JupyterLab shows it only while the notebook is trusted.
        lab_png: let JupyterLab store a PNG of each chart in the notebook, for viewers
            without Vega-Lite such as GitHub (35-40 KB per chart); see :func:`mimebundle`.

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
        alt.renderers.register(RENDERER, _renderer)
    return alt.renderers.enable(
        RENDERER, embed_options=_embed_options(embed_options), html=html, lab_png=lab_png
    )


def enable_on_import() -> None:
    if alt.renderers.active == "default":
        enable_offline()
    elif RENDERER not in alt.renderers.names():
        alt.renderers.register(RENDERER, _renderer)


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
    body = "\n".join(chart_html(s, embed_options) for s in specs)
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        '<script type="text/javascript">\n(function () {\n' + vega_javascript() + "\n})();\n</script>\n"
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
