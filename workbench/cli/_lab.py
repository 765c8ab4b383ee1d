"""``workbench lab [NOTEBOOK]``: JupyterLab on 127.0.0.1, with nothing fetched from the internet."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from ..errors import UsageError

QUICKSTART = Path("notebooks") / "01_quickstart.ipynb"
SETTINGS = Path(__file__).with_name("lab_settings")
"""Default settings (overrides.json): no news prompt, no update check."""

OFFLINE_FLAGS = [
    "--ServerApp.ip=127.0.0.1",
    "--LabApp.news_url=None",  # the literal None: an empty string still fetches news
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",  # the default manager queries the package index
]


def lab_args(notebook: str | None, extra: list[str]) -> list[str]:
    """The JupyterLab command line ``workbench lab`` runs: the working directory is the
    root (so ``datasets/`` is beside ``notebooks/``) and the address it prints and opens
    shows the notebook.

    Example:
        >>> lab_args(None, ["--no-browser"])[1:3]
        ['-m', 'jupyterlab']
    """
    if notebook is not None and notebook.startswith(
        "-"
    ):  # `workbench lab -- --no-browser`: no notebook named
        extra, notebook = [notebook, *extra], None
    target = Path(notebook) if notebook else (QUICKSTART if QUICKSTART.exists() else None)
    if target is not None and not target.exists():
        raise UsageError(
            f"'{target}' does not exist (current directory: {Path.cwd()}); "
            "name a notebook or folder, or run from the repository root"
        )
    cmd = [sys.executable, "-m", "jupyterlab", *OFFLINE_FLAGS, f"--LabApp.app_settings_dir={SETTINGS}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # JupyterLab refuses to start as root without it
    if target is not None:
        resolved = target.resolve()
        root = Path.cwd().resolve()
        if root not in resolved.parents and resolved != root:
            root = resolved if resolved.is_dir() else resolved.parent
        cmd.append(f"--ServerApp.root_dir={root}")
        if resolved.is_file():
            cmd.append(f"--LabApp.default_url=/lab/tree/{quote(resolved.relative_to(root).as_posix())}")
    return cmd + [a for a in extra if a != "--"]


def lab_command(args: argparse.Namespace) -> int:
    """Start JupyterLab and wait for it; its exit code."""
    cmd = lab_args(args.notebook, list(args.extra or []))
    print("Starting JupyterLab on 127.0.0.1 (Ctrl-C to stop): " + " ".join(cmd[1:]), file=sys.stderr)
    sys.stderr.flush()
    if os.name == "posix":  # become JupyterLab, so a signal to this process reaches the server itself
        os.execv(cmd[0], cmd)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0
