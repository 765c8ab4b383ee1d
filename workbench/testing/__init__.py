"""A local OpenAI-compatible judge server for tests and offline suites.

:class:`JudgeServer` listens on 127.0.0.1 only and answers ``POST /v1/chat/completions``
the way a provider does, so code under test calls it through litellm unchanged
(``model=server.model, **server.litellm_kwargs``). It runs an aiohttp server on its own
event loop in a daemon thread: it works from sync tests, from async code and in Jupyter.

What it answers:

* **schema-following** (default): with ``response_format={"type": "json_schema", ...}``
  the content is JSON valid against that schema, generated deterministically from
  sha256(messages, schema, seed). Supported: ``$ref``/``$defs``, ``allOf``, ``anyOf``/
  ``oneOf``, ``const``, ``enum``, ``type`` lists, numeric bounds (``minimum``,
  ``exclusiveMinimum``, ``multipleOf``...), string lengths and common ``format`` values,
  ``minItems``/``maxItems``/``uniqueItems``, ``prefixItems``. ``pattern`` is not honoured.
  Optional properties are filled too, except past nesting depth 4 (where
  nullable values become ``null`` so that recursive models stay small).
* without a schema (``json_object`` or no ``response_format``): a JSON object
  ``{"score": 1..5, "label": "pass"|"fail", "reason": "simulated reason ..."}``.
* **scripted**: ``script=fn`` (``fn(request) -> str | dict | Reply | None``; ``None``
  falls back to the generated answer) or a list of replies consumed in order. An exhausted
  list answers 500 and records the problem in :attr:`JudgeServer.errors`; wrap the list in
  ``itertools.cycle(...)`` to repeat it.
* **faults**, drawn per request from a ``random.Random(seed)`` stream in arrival order
  (reproducible for a given seed and request order, independent of the content):
  429 with ``Retry-After``, 500, a timeout (sleeps ``timeout_s``, then 504) and a
  malformed 200 body. Faulted requests never call the script nor consume a scripted reply.

* **batches**: the OpenAI files and batches endpoints (``/v1/files``, ``/v1/batches``: upload,
  create, retrieve, list, cancel, output and error files), whose lines are answered like chat
  requests, so a batch gives the verdicts a direct call gives. ``batch_delay_s``,
  ``batch_line_error``/``batch_error_rate``, ``batch_expire_after``, ``batch_max_requests``/
  ``batch_max_bytes``, ``batch_create_delay_s`` and ``batch_cut_download_bytes`` script how
  batches behave; :meth:`JudgeServer.batch_stats` and :attr:`JudgeServer.batches` count them.

``python -m workbench.testing --port 8765 --latency-ms 50`` runs the server in its own
process, which keeps its CPU (~0.2 ms a request, mostly aiohttp's) off the client's GIL in
throughput benchmarks; ``GET /stats`` and ``POST /reset`` expose its counters over HTTP.

Example:
    >>> import json, urllib.request
    >>> from workbench.testing import JudgeServer
    >>> with JudgeServer(script=["PASS", {"score": 4}]) as server:
    ...     def ask():
    ...         req = urllib.request.Request(server.url + "/chat/completions", method="POST",
    ...             data=json.dumps({"model": "m", "messages": []}).encode(),
    ...             headers={"Content-Type": "application/json"})
    ...         return json.load(urllib.request.urlopen(req))["choices"][0]["message"]["content"]
    ...     print(ask(), ask(), server.count)
    PASS {"score":4} 2
"""

from __future__ import annotations

from ._cli import main
from ._notebook import NotebookJudge, notebook_judge
from ._options import Reply, Script, ScriptItem, ServerOptions
from ._server import JudgeServer

__all__ = [
    "JudgeServer",
    "NotebookJudge",
    "Reply",
    "Script",
    "ScriptItem",
    "ServerOptions",
    "main",
    "notebook_judge",
]
