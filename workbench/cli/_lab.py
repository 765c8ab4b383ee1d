"""``workbench lab [NOTEBOOK]``: JupyterLab on 127.0.0.1, with nothing fetched from the internet."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from ._run import BadInput

QUICKSTART = Path("notebooks") / "01_quickstart.ipynb"

OFFLINE_FLAGS = [
    "--ServerApp.ip=127.0.0.1",
    "--LabApp.news_url=None",  # the literal None: an empty string still fetches news
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",  # the default manager queries the package index
]


def lab_args(notebook: str | None, extra: list[str]) -> list[str]:
    """The JupyterLab command line ``workbench lab`` runs.

    Example:
        >>> lab_args(None, ["--no-browser"])[1:3]
        ['-m', 'jupyterlab']
    """
    if notebook is not None and notebook.startswith("-"):  # `workbench lab -- --no-browser`: no notebook named
        extra, notebook = [notebook, *extra], None
    target = Path(notebook) if notebook else (QUICKSTART if QUICKSTART.exists() else None)
    if target is not None and not target.exists():
        raise BadInput(f"'{target}' does not exist (current directory: {Path.cwd()}); "
                       "name a notebook or folder, or run from the repository root")
    cmd = [sys.executable, "-m", "jupyterlab", *OFFLINE_FLAGS]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # JupyterLab refuses to start as root without it
    if target is not None:
        cmd.append(str(target))
    return cmd + [a for a in extra if a != "--"]


def lab_command(args: argparse.Namespace) -> int:
    """Start JupyterLab and wait for it; its exit code."""
    cmd = lab_args(args.notebook, list(args.extra or []))
    print("Starting JupyterLab on 127.0.0.1 (Ctrl-C to stop): " + " ".join(cmd[1:]), file=sys.stderr)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0
