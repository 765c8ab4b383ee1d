"""Export an executed notebook as one HTML file that needs no network (recipe pitfall 10).

nbconvert's ``lab`` template loads require.js from cdnjs, the widgets manager
(``embed-amd.js``) from unpkg, MathJax from cdnjs and mermaid from cdnjs. The template here
extends it: require.js and the widgets manager (vendored in ``workbench/_vendor``, see its
README) are inlined, with the manager's icon fonts as ``data:`` URLs; MathJax and mermaid are
left out. What the notebook's own outputs contain is left as it is (charts must carry their
own JavaScript, as ``workbench.charts`` does), but :func:`external_references` lists any
resource the page would still fetch, and the values of secret-looking environment variables
are redacted (:func:`redact_secrets`).
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import WorkbenchError
from ..secrets import env_secrets, redact

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["export_html", "external_references", "redact_secrets"]

_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}
<script>{{ resources.workbench.require_js }}</script>
{%- if resources.workbench.vega_js %}
<script>(function () {
{{ resources.workbench.vega_js }}
})();</script>
{%- endif -%}
{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}
{%- if resources.workbench.widgets_js -%}
<script data-jupyter-widgets-cdn="./jupyter-widgets-not-in-this-report/">{{ resources.workbench.widgets_js }}</script>
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
"""
_TEMPLATE_NAME = "workbench_report.html.j2"
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

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

    require_js, widgets_js = _vendored_js()
    nb = copy.deepcopy(nb)
    vega_js = _hoist_vega(nb)
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        template_file=_TEMPLATE_NAME,
        embed_images=True,
    )
    has_widgets = bool(nb.get("metadata", {}).get("widgets", {}).get(_WIDGET_STATE, {}).get("state"))
    resources: dict[str, Any] = {
        "metadata": {"name": name, **({"path": path} if path else {})},
        "workbench": {
            "require_js": require_js,
            "widgets_js": widgets_js if has_widgets else "",
            "vega_js": vega_js,
        },
    }
    html, _ = exporter.from_notebook_node(nb, resources=resources)
    return str(html)


def _hoist_vega(nb: NotebookNode) -> str:
    """Cut the vega bundle out of every chart output, top-level and in Output widgets' saved
    state, and return it (``""`` when there is none). Only identical copies are cut: a chart
    made by another version keeps its own."""
    bundle = ""

    def cut(html: Any) -> Any:
        nonlocal bundle
        text = "".join(html) if isinstance(html, list) else html
        start = text.find(_VEGA_START) if isinstance(text, str) else -1
        end = text.find(_VEGA_END, start + len(_VEGA_START)) if start >= 0 else -1
        if end < 0:
            return html
        found = text[start + len(_VEGA_START) : end]
        if (bundle and found != bundle) or _CLOSE_SCRIPT.search(found) or "<!--" in found:
            return html  # another version, or not safe to move into a <script> of its own
        bundle = found
        return text[: start + len(_VEGA_START)] + text[end:]

    def outputs(items: list[Any]) -> None:
        for output in items:
            data = output.get("data") if isinstance(output, dict) else None
            if isinstance(data, dict) and "text/html" in data:
                data["text/html"] = cut(data["text/html"])

    for cell in nb.get("cells", []):
        outputs(cell.get("outputs", []))
    state = nb.get("metadata", {}).get("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})
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
                f"workbench/_vendor/{name} is missing from this installation ({e}); reports need it to show "
                "widgets offline. Reinstall workbench from a checkout or a wheel that includes workbench/_vendor."
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
