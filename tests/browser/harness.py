"""Helpers for browser tests: JupyterLab on 127.0.0.1 and Debian's Chromium, driven by
Python Playwright (recipe: ../shared/browser-testing.md). The fixtures in ``conftest.py``
wrap these; import the page helpers in a test with ``from tests.browser.harness import ...``.

A test reads like this::

    def test_my_notebook(lab_factory, new_page, artifacts):
        lab = lab_factory([NOTEBOOK], env={"WORKBENCH_MODEL": ...})
        page = new_page(allow=[lab.url])          # anything else is blocked and recorded
        open_notebook(page, lab, NOTEBOOK.name)   # waits for the kernel to be Idle
        run_all(page)                             # Run > Run All Cells
        wait_all_executed(page)                   # every prompt is [n]
        ...
        shot(page, artifacts, "02-after-run")
        assert_clean(page)                        # no page/console errors, no blocked requests
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
"""Debian's real binary first (launches faster than the /usr/bin shell wrapper)."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these Chromium keeps trying to reach Google hosts on an offline machine
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

LAB_SETTINGS: dict[str, dict[str, Any]] = {
    # no news/update toast covering the notebook
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    # every cell stays in the DOM (the default windowing may detach off-screen cells)
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}

ALWAYS_ALLOWED = ("data:", "blob:", "about:")

PLAYWRIGHT_MISSING = "browser tests need Python Playwright: pip install playwright (no `playwright install`)"
CHROMIUM_MISSING = "browser tests need Chromium: apt-get install chromium (or set CHROMIUM=/path/to/chromium)"


def find_chromium() -> str | None:
    """``$CHROMIUM`` when set, else Debian's chromium, else ``chromium`` on PATH; ``None`` if
    there is none (or ``$CHROMIUM`` names no executable)."""
    chosen = os.environ.get("CHROMIUM")
    for candidate in [chosen] if chosen else [*CHROMIUM_CANDIDATES, shutil.which("chromium")]:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


# --- JupyterLab ----------------------------------------------------------------------------


@dataclass
class Lab:
    """A running JupyterLab server (see :func:`start_lab`)."""

    url: str
    """``http://127.0.0.1:PORT``, no trailing slash."""
    token: str
    root: Path
    """The server's root folder; the notebooks were copied into it."""
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(repr=False, default_factory=dict)
    """The environment of the server, which its kernels inherit."""

    def notebook_url(self, name: str) -> str:
        """The URL that opens ``name`` (relative to :attr:`root`), logged in, with a fresh layout."""
        return f"{self.url}/lab/tree/{quote(name)}?reset&token={self.token}"

    def api(self, path: str, timeout: float = 5) -> Any:
        """GET ``/api/...`` (e.g. ``"sessions"``) and return the decoded JSON."""
        status, body = _get(f"{self.url}/api/{path.lstrip('/')}", self.token, timeout)
        assert status == 200, (path, status, body[:200])
        return json.loads(body)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the server's own process group (its kernels are shut down), SIGKILL after ``timeout``."""
        _stop_group(self.process, timeout)


def start_lab(
    notebooks: Iterable[Path],
    base: Path,
    *,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    files: Mapping[str, Path] | None = None,
    startup_timeout: float = 90,
) -> Lab:
    """Start JupyterLab on a free 127.0.0.1 port with a random token, serving a copy of ``notebooks``.

    Everything lives under ``base``: the root folder (``base/root``), isolated
    ``JUPYTER_CONFIG_DIR``/``DATA_DIR``/``RUNTIME_DIR``, user settings (no news, no update
    check, no windowing, no autosave), a ``python3`` kernelspec whose argv is this
    ``sys.executable``, and ``WORKBENCH_HOME`` (unless ``env`` sets it). No PyPI or news
    requests, ``--allow-root`` when running as root. ``env`` is added to the server's
    environment, which the kernels inherit. ``files`` maps paths relative to the root folder
    to files copied there, to keep a repository's layout: ``{"notebooks/02.ipynb": nb,
    "datasets/d.jsonl": data}`` lets the notebook read ``../datasets/d.jsonl``.
    """
    root, settings, data = base / "root", base / "user-settings", base / "data"
    root.mkdir(parents=True, exist_ok=True)
    for nb in notebooks:
        shutil.copy(nb, root / Path(nb).name)  # the UI never touches the committed file
    for rel, src in (files or {}).items():
        dest = root / rel
        if root.resolve() not in dest.resolve().parents:
            raise ValueError(f"files: {rel!r} is not a relative path inside the root folder")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest)
    for rel, value in LAB_SETTINGS.items():
        f = settings / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))
    spec = data / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            }
        )
    )
    port, token = _free_port(), secrets.token_hex(16)
    full_env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_DATA_DIR": str(data),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "WORKBENCH_HOME": str(base / "workbench-home"),
        **(env or {}),
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # the default 'pypi' manager queries PyPI
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")  # jupyter server refuses to start as root otherwise
    log = log or base / "jupyterlab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=root, env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    lab = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, process=proc, log=log, env=full_env)
    deadline = time.monotonic() + startup_timeout
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {proc.returncode}; its log:\n{_tail(log)}")
            try:
                if _get(f"{lab.url}/api/status", token, 2)[0] == 200:
                    return lab
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"jupyter lab did not answer /api/status within {startup_timeout:g} s:\n{_tail(log)}"
                )
            time.sleep(0.3)
    except BaseException:
        lab.stop()
        raise


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, token: str, timeout: float) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with opener.open(request, timeout=timeout) as r:
        return int(r.status), r.read()


def _stop_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # our own group: started with start_new_session
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- pages ---------------------------------------------------------------------------------


def watch(page: Page) -> dict[str, list[str]]:
    """Record what goes wrong on ``page``: ``errors`` (uncaught exceptions, console errors)
    and ``dialogs`` (alert/confirm/prompt, dismissed). Returns the dict, filled as it happens;
    it is also kept as ``page.wb_watch`` for :func:`assert_clean`."""
    seen: dict[str, list[str]] = {"errors": [], "dialogs": [], "blocked": []}
    page.on("pageerror", lambda e: seen["errors"].append(f"pageerror: {e}"))
    page.on("console", lambda m: seen["errors"].append(f"console: {m.text}") if m.type == "error" else None)

    def on_dialog(dialog: Any) -> None:
        seen["dialogs"].append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.wb_watch = seen  # type: ignore[attr-defined]
    return seen


def block_network(context: BrowserContext, allow: Iterable[str] = ()) -> list[str]:
    """Abort every request whose URL does not start with one of ``allow`` (or ``data:``,
    ``blob:``, ``about:``); return the list the blocked URLs are appended to.
    ``allow=["file:"]`` for an exported report, ``[lab.url]`` for JupyterLab."""
    allowed = (*allow, *ALWAYS_ALLOWED)
    blocked: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(allowed):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return blocked


def open_notebook(page: Page, lab: Lab, name: str, timeout_s: float = 90) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is connected and Idle (Run All
    clicked before that may race the kernel start)."""
    from playwright.sync_api import expect

    page.goto(lab.notebook_url(name))
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=timeout_s * 1000)
    idle = page.locator(".jp-NotebookPanel-toolbar .jp-KernelStatus, #jp-main-statusbar").filter(
        has_text="Idle"
    )
    expect(idle.first).to_be_visible(timeout=timeout_s * 1000)
    dismiss_dialogs(page)


def run_all(page: Page) -> None:
    """Run > Run All Cells (command ``runmenu:run-all``; there is no default shortcut)."""
    page.locator(".lm-MenuBar-item", has_text="Run").click()
    page.locator('#jp-mainmenu-run .lm-Menu-item[data-command="runmenu:run-all"]').click()


def wait_all_executed(page: Page, timeout_s: float = 120) -> list[str]:
    """Wait until every code cell's prompt is ``[n]:`` (none ``[*]:`` or empty); return the prompts."""
    prompts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt")
    deadline = time.monotonic() + timeout_s
    while True:
        texts = [t.strip() for t in prompts.all_inner_texts()]
        if texts and all(t.startswith("[") and t[1:].split("]")[0].isdigit() for t in texts):
            return texts
        if time.monotonic() > deadline:
            raise AssertionError(f"cells still running or not run after {timeout_s:g} s: {texts}")
        page.wait_for_timeout(200)


def dismiss_dialogs(page: Page) -> None:
    """Accept any JupyterLab modal (kernel picker, ...) with Enter."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        page.keyboard.press("Enter")
        dialog.wait_for(state="detached")


def shot(page: Page, artifacts: Path, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot as ``artifacts/<name>.png`` and return its path."""
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def assert_clean(page: Page, *, blocked: list[str] | None = None, allow_stderr: bool = False) -> None:
    """No uncaught error, console error or dialog on ``page`` (see :func:`watch`), no blocked
    request, no widget that failed to render and (unless ``allow_stderr``) no stderr output
    in a notebook."""
    seen: dict[str, list[str]] = getattr(page, "wb_watch", {"errors": [], "dialogs": []})
    assert not seen["errors"], seen["errors"]
    assert not seen["dialogs"], seen["dialogs"]
    assert not blocked, f"requests to outside hosts: {blocked[:10]}"
    body = page.locator("body").inner_text()
    assert "Error displaying widget" not in body and "Loading widget" not in body
    if not allow_stderr:
        stderr = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
        assert stderr.count() == 0, stderr.all_inner_texts()[:3]
