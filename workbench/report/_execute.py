"""Run a notebook top to bottom with nbclient, bounded in time and unable to hang.

Two fixes over a plain ``NotebookClient(nb).execute()``:

* **no lost wake-ups** (browser-testing recipe, pitfall 9): nbclient's Output-widget
  emulation sends comm messages on the shell socket while it awaits the execute reply on that
  same socket; with a large output inside an ``ipywidgets.Output`` (an inlined chart) zmq's
  edge-triggered descriptor loses the wake-up and ``get_msg(timeout=None)`` never returns
  (nbclient issue #312). A poll that times out re-checks the socket, so the shell channel is
  polled in 1 s slices.
* **one overall deadline**: every cell gets what is left of ``timeout`` seconds, so a
  notebook cannot run longer than that in total, whatever its number of cells.

And the kernel reads the run store and the judge cache but adds no run to the store, unless
``save_runs=True`` (it runs with ``WORKBENCH_SAVE_RUNS=0``, which ``evaluate`` honours).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from queue import Empty
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import NotebookError, ReportError, cap_list, shorten
from ..frame import SAVE_RUNS_ENV

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["NotebookError", "ReportError", "execute_notebook", "read_notebook"]

T = TypeVar("T")

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SLICE_S = 1.0


def read_notebook(path: str | os.PathLike[str]) -> NotebookNode:
    """Read a ``.ipynb`` file, raising :class:`ReportError` with what to do when it cannot be read.

    Example:
        >>> from workbench.report import ReportError, read_notebook
        >>> try:
        ...     read_notebook("README.md")
        ... except ReportError as e:
        ...     print(str(e).split(";")[0])
        'README.md' is not a notebook
    """
    p = Path(path)
    if p.suffix.lower() != ".ipynb":
        raise ReportError(
            f"{str(p)!r} is not a notebook; expected a .ipynb file, got {p.suffix or 'no extension'!r}"
        )
    if not p.is_file():
        here = sorted(q.name for q in p.parent.glob("*.ipynb")) if p.parent.is_dir() else []
        hint = f"notebooks in '{p.parent}': {cap_list(here)}" if here else f"current directory: {Path.cwd()}"
        raise ReportError(f"notebook {str(p)!r} does not exist ({hint})")
    import nbformat  # imported late: it costs seconds (jsonschema's format checkers)

    try:  # (nbformat.read has no annotations)
        nb: NotebookNode = nbformat.read(p, as_version=4)  # type: ignore[no-untyped-call]
    except Exception as e:  # nbformat raises JSON, validation and unicode errors alike
        raise ReportError(
            f"cannot read notebook {str(p)!r}: {type(e).__name__}: {shorten(str(e), 200)}; "
            "is it a valid .ipynb (JSON, nbformat 4)?"
        ) from e
    return nb


def execute_notebook(
    notebook: str | os.PathLike[str] | NotebookNode,
    *,
    timeout: float = 600,
    cwd: str | os.PathLike[str] | None = None,
    kernel_name: str | None = None,
    save_runs: bool = False,
) -> NotebookNode:
    """Execute every cell of a notebook in a fresh kernel and return the executed notebook.

    The widget state is recorded in the notebook's metadata (so an HTML export shows the
    widgets). A notebook given as a node is executed in place. The runs its ``wb.evaluate``
    calls would save are not saved, unless ``save_runs``: the kernel sees the run store and
    uses the judge cache as they are, and runs with ``WORKBENCH_SAVE_RUNS=0``.

    Args:
        notebook: a ``.ipynb`` path, or a notebook node (``nbformat.read(...)``).
        timeout: seconds for the whole notebook, kernel start included.
        cwd: the kernel's working directory; default the notebook's folder (for a node,
            the current directory).
        kernel_name: the kernelspec to use; default the one the notebook names, else ``python3``.
        save_runs: keep the runs the notebook saves in the run store.

    Raises:
        ReportError: the notebook cannot be read, the kernel is not installed, the timeout
            is not positive.
        NotebookError: a cell raised, the kernel died, or the timeout ran out; it names the
            cell and carries the partly executed notebook in ``executed``.

    Example:
        >>> import nbformat
        >>> from workbench.report import execute_notebook
        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("6 * 7")])
        >>> execute_notebook(nb, timeout=60).cells[0].outputs[0]["data"]["text/plain"]
        '42'
    """
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
        raise ReportError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if isinstance(notebook, (str, os.PathLike)):
        path = Path(notebook)
        nb = read_notebook(path)
        name = str(path)
        default_cwd = path.parent
    else:
        nb, name, default_cwd = notebook, "<notebook>", Path.cwd()
    workdir = Path(cwd) if cwd is not None else default_cwd
    if not workdir.is_dir():
        raise ReportError(f"cwd {str(workdir)!r} is not a folder (current directory: {Path.cwd()})")
    with tempfile.TemporaryDirectory(prefix="wb-kernel-") as sockets:
        client = _client(
            nb, timeout=float(timeout), cwd=workdir, kernel_name=kernel_name, sockets=Path(sockets)
        )
        run = client.async_execute
        if not save_runs:  # the kernel reads the store and the cache as they are, and saves no run
            run = functools.partial(run, env={**os.environ, SAVE_RUNS_ENV: "0"})
        try:
            _run_sync(run)
        except BaseException as e:
            ours = _explain(e, client, nb, name, float(timeout))
            if ours is e:
                raise
            raise ours from e
    return nb


def _client(nb: NotebookNode, *, timeout: float, cwd: Path, kernel_name: str | None, sockets: Path) -> Any:
    from nbclient import NotebookClient
    from traitlets.config import Config

    deadline = time.monotonic() + timeout

    class Client(NotebookClient):
        current: int = -1

        async def async_start_new_kernel_client(self) -> Any:
            kc = await super().async_start_new_kernel_client()
            _poll_in_slices(kc.shell_channel)
            return kc

        async def async_execute_cell(self, cell: Any, cell_index: int, *args: Any, **kwargs: Any) -> Any:
            self.current = cell_index
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)

        def handle_comm_msg(self, outs: Any, msg: dict[str, Any], cell_index: int) -> None:
            super().handle_comm_msg(outs, msg, cell_index)
            if msg["msg_type"] == "comm_close":  # nbclient keeps closed widgets; JupyterLab drops them
                _forget_widget(self, nb, msg["content"]["comm_id"])

    options: dict[str, Any] = {
        # what is left of the overall budget; never 0, which nbclient reads as "no timeout"
        "timeout_func": lambda cell: max(deadline - time.monotonic(), 0.01),
        "startup_timeout": max(1, int(min(120.0, timeout))),
        "resources": {"metadata": {"path": str(cwd)}},
        "record_timing": False,
    }
    if os.name == "posix":
        # Unix sockets in a private folder instead of TCP ports on 127.0.0.1: no port other
        # local users could reach, and no "running over TCP without encryption" warning
        options["config"] = Config({"KernelManager": {"transport": "ipc", "ip": str(sockets / "kernel")}})
    if kernel_name:
        options["kernel_name"] = kernel_name
    return Client(nb, **options)


def _forget_widget(client: Any, nb: NotebookNode, model_id: str) -> None:
    """A closed widget (``widget.close()``, tqdm's ``leave=False``): its saved state and its
    views go, so the executed notebook and its report show what JupyterLab shows, nothing."""
    client.widget_state.pop(model_id, None)
    client.widget_buffers.pop(model_id, None)
    for cell in nb.cells:
        if cell.get("outputs"):
            cell.outputs = [
                o
                for o in cell.outputs
                if o.get("data", {}).get("application/vnd.jupyter.widget-view+json", {}).get("model_id")
                != model_id
            ]


def _poll_in_slices(channel: Any) -> None:
    """Make ``channel.get_msg`` wait in short slices (pitfall 9), keeping its timeout semantics."""
    original = channel.get_msg

    async def get_msg(timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = _SLICE_S if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await original(timeout=min(_SLICE_S, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = get_msg


def _run_sync(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine function to completion, also when called from a running event loop
    (a notebook): then in a worker thread with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(fn())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(fn())
        except BaseException as e:  # noqa: BLE001  (re-raised in the caller's thread)
            box["error"] = e

    worker = threading.Thread(target=target, name="workbench-report", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _explain(e: BaseException, client: Any, nb: NotebookNode, name: str, timeout: float) -> BaseException:
    """Turn nbclient's and jupyter_client's exceptions into ours; others pass through."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if isinstance(e, NoSuchKernel):
        from jupyter_client.kernelspec import KernelSpecManager

        known = sorted(KernelSpecManager().find_kernel_specs())
        return ReportError(
            f"notebook {name!r} asks for kernel {e.name!r}, which is not installed; installed kernels: "
            f"{cap_list(known)}; pass kernel_name=... or change the notebook's kernel"
        )
    if not isinstance(e, (CellExecutionError, CellTimeoutError, DeadKernelError)):
        if isinstance(e, RuntimeError) and "didn't respond" in str(e):  # kernel start timed out
            return ReportError(
                f"the kernel for {name!r} did not start: {e}; is ipykernel installed in this environment?"
            )
        return e
    # so a partial report still shows the widgets made so far; best effort, never hiding the cell's error
    with contextlib.suppress(Exception):
        client.set_widgets_metadata()
    index = max(client.current, 0)
    cell: Any = nb.cells[index] if nb.cells else {"source": "", "execution_count": None}
    timed_out = isinstance(e, CellTimeoutError)
    if isinstance(e, CellTimeoutError):
        ename, evalue, tb = "CellTimeoutError", f"the overall timeout of {timeout:g} s ran out", ""
    elif isinstance(e, DeadKernelError):
        ename, evalue, tb = "DeadKernelError", f"the kernel died while running the cell ({e})", ""
    else:
        assert isinstance(e, CellExecutionError)
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        lines = errors[-1].get("traceback", []) if errors else [e.traceback]
        ename, evalue, tb = e.ename, e.evalue, _ANSI.sub("", "\n".join(lines))
    return NotebookError(
        notebook=name,
        cell=index + 1,
        execution_count=cell.get("execution_count"),
        source=cell.get("source", ""),
        ename=ename,
        evalue=evalue,
        traceback=tb,
        timed_out=timed_out,
        timeout=timeout,
        executed=nb,
    )
