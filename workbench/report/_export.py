"""Export an executed notebook as one HTML file that needs no network (recipe pitfall 10).

nbconvert's ``lab`` template loads require.js from cdnjs, the widgets manager
(``embed-amd.js``) from unpkg, MathJax from cdnjs and mermaid from cdnjs, has no renderer
for Vega-Lite outputs, and embeds the widgets' JSON escaping only ``/``. The template here
extends it, and the notebook is prepared first, so that a page carries what it needs once
and only when it needs it:

* **charts**: every Vega-Lite 5 or 6 output (``workbench.charts``' and altair's, top-level
  and in ``ipywidgets.Output`` state) becomes a ``<div>`` and a ``vegaEmbed`` call, and
  vega's JavaScript (~0.9 MB) is inlined once in the head, only when there is a chart.
  Charts whose outputs carry the JavaScript themselves (the HTML form) lose their copies to
  that one.
* **widgets**: require.js and the widgets manager (vendored in ``workbench/_vendor``, see its
  README; ~3.8 MB with the icon fonts as ``data:`` URLs) are inlined only when a widget must
  be rendered live. A progress bar (tqdm's: an ``HBox`` of ``HTML``, a progress bar and
  ``HTML``) is shown as it ended, as static HTML: in a finished report it only reports, and
  it alone should not cost a page 3.8 MB. A view whose widget's state was not saved shows
  its text form, as in nbconvert (``execute_notebook`` drops closed widgets, as JupyterLab
  shows them: not at all).
* **escaping**: the widgets' state and views are JSON with ``<``, ``>`` and ``&`` escaped
  (:func:`workbench.charts.json_for_script`), so a value such as ``<!--<script>`` cannot
  end or swallow the element; MathJax and mermaid are left out.

:func:`external_references` lists any resource the page would still fetch, and the values
of secret-looking environment variables are redacted (:func:`redact_secrets`).
"""

from __future__ import annotations

import base64
import copy
import functools
import html
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..charts import chart_html, json_for_script, vega_javascript
from ..errors import WorkbenchError
from ..secrets import env_secrets, redact

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["export_html", "external_references", "redact_secrets"]

_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}
{%- if resources.workbench.require_js %}
<script>{{ resources.workbench.require_js }}</script>
{%- endif -%}
{%- if resources.workbench.vega_js %}
<script>(function () {
{{ resources.workbench.vega_js }}
})();</script>
{%- endif -%}
{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}
{%- if resources.workbench.widgets_js -%}
<script data-jupyter-widgets-cdn="./jupyter-widgets-not-in-this-report/">
{{- resources.workbench.widgets_js -}}
</script>
{%- endif -%}
{% endblock jupyter_widgets %}
{% block extra_css %}
<style type="text/css">
/* JupyterLab puts its UI font on <body>, the lab template does not: widgets would show in serif */
.jupyter-widgets, .widget-subarea { font-family: var(--jp-ui-font-family); }
</style>
{% endblock extra_css %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_widget_view scoped %}
{% set div_id = uuid4() %}
<div id="{{ div_id }}" class="jupyter-widgets jp-OutputArea-output {{ extra_class }}">
<script type="text/javascript">
var element = document.getElementById('{{ div_id }}');
</script>
<script type="application/vnd.jupyter.widget-view+json">
{{ output.data['application/vnd.jupyter.widget-view+json'] | script_json }}
</script>
</div>
{%- endblock data_widget_view -%}
{% block footer %}
{%- if resources.workbench.widget_state %}
<script type="application/vnd.jupyter.widget-state+json">
{{ resources.workbench.widget_state | script_json }}
</script>
{%- endif %}
</html>
{% endblock footer %}
"""
_TEMPLATE_NAME = "workbench_report.html.j2"
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_VEGALITE = re.compile(r"^application/vnd\.vegalite\.v[56](?:\+json|\.json)$")
"""Vega-Lite outputs drawn in reports: workbench's (v5+json) and altair 6's own mimetype
renderer (v6.json). Older versions are left to nbconvert (their PNG or text)."""
_PROGRESS_BARS = ("FloatProgressModel", "IntProgressModel")
_BAR_COLOURS = {"success": "#4caf50", "info": "#00bcd4", "warning": "#ff9800", "danger": "#f44336"}
_TAG = re.compile(r"<[^>]*>")

# webpack asset modules in embed-amd.js: `<publicPath> + "<hash>.<ext>"`
_ASSET = re.compile(r'[A-Za-z_$][\w$]*\.p\+"([0-9a-f]{20})\.(woff2|woff|ttf|eot|svg)"')
_SOURCEMAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)
_CLOSE_SCRIPT = re.compile(r"</(script)", re.IGNORECASE)

# A tag attribute, a CSS url()/@import or a dynamic import() that makes the browser fetch.
_URL = r"""((?:https?:)?//[^"'\s<>)]+)"""
_FETCHES = re.compile(
    r"<(?:script|img|iframe|frame|embed|source|audio|video|track|input|link|object|image|use)\b[^>]*?\s"
    r"(?:src|href|data|poster|srcset|xlink:href)\s*=\s*[\"']?\s*"
    + _URL
    + r"|url\(\s*[\"']?\s*"
    + _URL
    + r"|@import\s+[\"']"
    + _URL
    + r"|\bimport\(\s*[\"'`]"
    + _URL,
    re.IGNORECASE,
)
# The widgets' CSS keeps a commented-out font import; never fetched, but it reads like a fetch.
_COMMENTED_IMPORT = "/* @import url('https://fonts.googleapis.com/css?family=Roboto+Mono'); */"
_NO_IMPORT = "/* (a commented-out Roboto Mono @import, removed when inlined) */"
# workbench.charts inlines vega's JavaScript (~0.9 MB) into every chart output, guarded so that
# a page evaluates it once. A report holds it once, in its head, and drops the copies.
_VEGA_START = "if (!window.vegaEmbed) { (function () {\n"
_VEGA_END = "\n})(); }\n"


def export_html(nb: NotebookNode, *, name: str = "report", path: str | None = None) -> str:
    """Render an (executed) notebook as one self-contained HTML page, JupyterLab's look.

    Args:
        nb: the notebook; its ``metadata.widgets`` state (recorded by
            :func:`~workbench.report.execute_notebook`) makes the widgets render.
        name: the page title when the notebook's metadata has none.
        path: the folder relative image paths in markdown cells are read from (they are
            embedded as ``data:`` URLs).

    Example:
        >>> import nbformat
        >>> from workbench.report import export_html, external_references
        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Results <b>x</b>")])
        >>> html = export_html(nb, name="demo")
        >>> "<title>demo</title>" in html, external_references(html)
        (True, [])
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    metadata = nb.setdefault("metadata", {})
    state = metadata.get("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})
    live = _settle_widgets(nb, state)
    charts = _draw_charts(nb, state)
    vega_js = _hoist_vega(nb, state, vega_javascript() if charts else "")
    # nbconvert renders a widget view only when the notebook's metadata has its model; the
    # template embeds the state itself, escaped, and none at all when no widget is live
    widget_state = metadata["widgets"][_WIDGET_STATE] if live else None
    if not live:
        metadata.pop("widgets", None)
    scripted = any(
        "application/javascript" in output.get("data", {}) for output in _outputs(nb)
    )  # a script output may call require()
    require_js, widgets_js = _vendored_js() if live or scripted else ("", "")
    # nbconvert's exporter has no annotations
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="lab",
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        template_file=_TEMPLATE_NAME,
        embed_images=True,
    )
    exporter.register_filter("script_json", json_for_script)  # type: ignore[no-untyped-call]
    resources: dict[str, Any] = {
        "metadata": {"name": name, **({"path": path} if path else {})},
        "workbench": {
            "require_js": require_js,
            "widgets_js": widgets_js if live else "",
            "widget_state": widget_state,
            "vega_js": vega_js,
        },
    }
    page, _ = exporter.from_notebook_node(nb, resources=resources)
    return str(page)


def _outputs(nb: NotebookNode) -> list[Any]:
    """Every cell's outputs, in order."""
    return [output for cell in nb.get("cells", []) for output in cell.get("outputs", [])]


def _model(state: Mapping[str, Any], ref: Any) -> Any:
    """The saved model ``ref`` names (a model id, or ``"IPY_MODEL_<id>"`` as children are named)."""
    return state.get(str(ref).removeprefix("IPY_MODEL_")) if isinstance(ref, str) else None


def _settle_widgets(nb: NotebookNode, state: Mapping[str, Any]) -> bool:
    """Replace each top-level progress bar by its last state as static HTML, and views of
    widgets with no saved state by their other forms; return whether a widget is left to
    render live."""
    live = False
    for cell in nb.get("cells", []):
        kept = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(_WIDGET_VIEW) if isinstance(output, dict) else None
            if not isinstance(view, dict):
                kept.append(output)
                continue
            model = _model(state, view.get("model_id"))
            if model is None:  # not saved (JupyterLab saves none by default): its text form
                output["data"] = {k: v for k, v in output["data"].items() if k != _WIDGET_VIEW}
                if output["data"]:
                    kept.append(output)
                continue
            static = _progress_html(model, state)
            if static is None:
                live = True
                kept.append(output)
            else:
                output["data"] = {"text/html": static, "text/plain": _progress_text(model, state)}
                kept.append(output)
        cell["outputs"] = kept
    return live


def _bar_parts(model: Mapping[str, Any], state: Mapping[str, Any]) -> tuple[Any, Any, Any] | None:
    """tqdm's notebook bar: an HBox of HTML, a progress bar and HTML; else ``None``."""
    if model.get("model_name") != "HBoxModel":
        return None
    children = [_model(state, c) for c in model.get("state", {}).get("children", [])]
    names = [c.get("model_name") if isinstance(c, dict) else None for c in children]
    if (
        len(names) != 3
        or names[0] != "HTMLModel"
        or names[2] != "HTMLModel"
        or names[1] not in _PROGRESS_BARS
    ):
        return None
    return children[0], children[1], children[2]


def _text(html_value: Any) -> str:
    """The text an HTML widget shows (its value is HTML): tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", str(html_value or ""))).strip()


def _progress_text(model: Mapping[str, Any], state: Mapping[str, Any]) -> str:
    parts = _bar_parts(model, state)
    assert parts is not None
    left, right = parts[0].get("state", {}), parts[2].get("state", {})
    return f"{_text(left.get('value'))} {_text(right.get('value'))}".strip()


def _progress_html(model: Mapping[str, Any], state: Mapping[str, Any]) -> str | None:
    """A progress bar's last state as static HTML (its texts escaped), or ``None`` when the
    widget is not a progress bar."""
    parts = _bar_parts(model, state)
    if parts is None:
        return None
    left, bar, right = (p.get("state", {}) for p in parts)
    lo, hi = float(bar.get("min") or 0), float(bar.get("max") or 0)
    value = min(max(float(bar.get("value") or 0) - lo, 0.0), max(hi - lo, 0.0))
    colour = _BAR_COLOURS.get(str(bar.get("bar_style") or ""))
    style = f' style="accent-color: {colour}"' if colour else ""
    return (
        '<div class="wb-progress" style="display: flex; gap: 0.5em; align-items: center">'
        f"<span>{html.escape(_text(left.get('value')))}</span>"
        f'<progress value="{value:g}" max="{max(hi - lo, 0.0):g}"{style}></progress>'
        f"<span>{html.escape(_text(right.get('value')))}</span></div>"
    )


def _draw_charts(nb: NotebookNode, state: Mapping[str, Any]) -> int:
    """Turn each Vega-Lite output, top-level and in Output widgets' state, into HTML that
    draws it with the page's vega (:func:`workbench.charts.chart_html`); return how many."""
    drawn = 0

    def convert(output: Any) -> None:
        nonlocal drawn
        data = output.get("data") if isinstance(output, dict) else None
        if not isinstance(data, dict):
            return
        mime = next((m for m in data if _VEGALITE.match(m)), None)
        if mime is None or not isinstance(data[mime], dict):
            return
        metadata = output.get("metadata") or {}
        options = metadata.get(mime, {}).get("embed_options")
        output["metadata"] = {k: v for k, v in metadata.items() if k != mime}
        spec = data[mime]
        output["data"] = {
            "text/html": chart_html(spec, options if isinstance(options, dict) else None),
            **({"text/plain": data["text/plain"]} if "text/plain" in data else {}),
        }
        drawn += 1

    for output in _outputs(nb):
        convert(output)
    for model in state.values():
        if isinstance(model, dict):
            for output in model.get("state", {}).get("outputs", []) or []:
                convert(output)
    return drawn


def _hoist_vega(nb: NotebookNode, state: Mapping[str, Any], bundle: str) -> str:
    """Cut the vega bundle out of every chart output of the HTML form (it carries its own
    copy), top-level and in Output widgets' saved state, and return the one the page's head
    gets: ``bundle`` when given, else the first copy found (``""`` when there is none). Only
    copies identical to it are cut: a chart made by another version keeps its own."""

    def cut(value: Any) -> Any:
        nonlocal bundle
        text = "".join(value) if isinstance(value, list) else value
        start = text.find(_VEGA_START) if isinstance(text, str) else -1
        end = text.find(_VEGA_END, start + len(_VEGA_START)) if start >= 0 else -1
        if end < 0:
            return value
        found = text[start + len(_VEGA_START) : end]
        if (bundle and found != bundle) or _CLOSE_SCRIPT.search(found) or "<!--" in found:
            return value  # another version, or not safe to move into a <script> of its own
        bundle = found
        return text[: start + len(_VEGA_START)] + text[end:]

    def outputs(items: list[Any]) -> None:
        for output in items:
            data = output.get("data") if isinstance(output, dict) else None
            if isinstance(data, dict) and "text/html" in data:
                data["text/html"] = cut(data["text/html"])

    outputs(_outputs(nb))
    for model in state.values():
        outputs(model.get("state", {}).get("outputs", []) if isinstance(model, dict) else [])
    return bundle


def external_references(html: str) -> list[str]:
    """The URLs an HTML page would fetch from the network when opened: ``src``/``href``
    of scripts, images, frames, stylesheets and media, CSS ``url()``/``@import`` and dynamic
    ``import()``. Links (``<a href>``) are not fetched and not listed.

    It reads the markup as text, so a URL spelled inside an inlined script's string or
    comment counts too (the vendored scripts are inlined without any).

    Example:
        >>> from workbench.report import external_references
        >>> external_references('<script src="https://cdn.example/x.js"></script><a href="https://ok.example">ok</a>')
        ['https://cdn.example/x.js']
    """
    return [next(g for g in m.groups() if g) for m in _FETCHES.finditer(html)]


def redact_secrets(html: str, environ: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """Replace the values of credential-like environment variables (the rule of
    :mod:`workbench.secrets`) by ``[redacted]``; return the page and the names of the variables
    whose value it held.

    Example:
        >>> from workbench.report import redact_secrets
        >>> redact_secrets("<pre>sk-abc123456</pre>", {"OPENAI_API_KEY": "sk-abc123456", "HOME": "/root"})
        ('<pre>[redacted]</pre>', ['OPENAI_API_KEY'])
    """
    secrets = env_secrets(environ)
    found = sorted(k for k, v in secrets.items() if v in html)
    return redact(html, secrets.values()), found


@functools.lru_cache(maxsize=1)
def _vendored_js() -> tuple[str, str]:
    """require.js and the widgets manager, ready to inline in a ``<script>``."""
    from importlib.resources import files

    vendor = files("workbench").joinpath("_vendor")

    def read(name: str) -> bytes:
        try:
            return vendor.joinpath(name).read_bytes()
        except OSError as e:
            raise WorkbenchError(
                f"workbench/_vendor/{name} is missing from this installation ({e}); reports need it to "
                "show widgets offline. Reinstall workbench from a checkout or a wheel that includes "
                "workbench/_vendor."
            ) from e

    def font(match: re.Match[str]) -> str:
        digest, ext = match.groups()
        if ext != "woff2":  # browsers take the woff2 source; the older formats must not be looked up
            return '"data:,"'
        data = base64.b64encode(read(f"{digest}.woff2")).decode("ascii")
        return json.dumps(f"data:font/woff2;base64,{data}")

    widgets = _ASSET.sub(font, read("embed-amd.js").decode("utf-8")).replace(_COMMENTED_IMPORT, _NO_IMPORT)
    scripts = _script_safe(read("require.js").decode("utf-8")), _script_safe(widgets)
    for script in scripts:  # a newer vendored build must not bring a fetch along unnoticed
        if _FETCHES.search(script):
            raise WorkbenchError(
                f"a vendored script would fetch {external_references(script)[:3]}; see workbench/_vendor"
            )
    return scripts


def _script_safe(js: str) -> str:
    """Make JavaScript safe to put between ``<script>`` and ``</script>``: drop sourcemap
    comments (a file next to the page) and break any ``</script`` (valid in strings and
    regular expressions, where ``<\\/`` means the same)."""
    js = _SOURCEMAP.sub("", js)
    if "<!--" in js:  # would switch the HTML parser into the script-escaped states
        raise WorkbenchError("a vendored script contains '<!--' and cannot be inlined safely")
    return _CLOSE_SCRIPT.sub(r"<\\/\1", js)
