"""pytest plugin, loaded by ``-p tests.isolation`` (pyproject's addopts): every test, the
doctests in ``workbench/`` included, runs with its own temporary ``WORKBENCH_HOME``, so
runs that ``wb.evaluate`` saves by default (and the default judge cache) never land in the
repository's ``.workbench/``. Subprocesses inherit the variable. A test that sets
``WORKBENCH_HOME`` itself (``monkeypatch.setenv``) overrides it as before.

Each test's directory is only named here; the store creates it on its first write, so
tests that save nothing cost nothing.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_state: dict[str, object] = {}
_counter = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    root = Path(tempfile.mkdtemp(prefix="workbench-tests-"))
    _state.update(root=root, previous=os.environ.get("WORKBENCH_HOME"))
    os.environ["WORKBENCH_HOME"] = str(root / "session")  # collection, imports, session fixtures


def pytest_unconfigure(config: pytest.Config) -> None:
    previous = _state.get("previous")
    if previous is None:
        os.environ.pop("WORKBENCH_HOME", None)
    else:
        os.environ["WORKBENCH_HOME"] = str(previous)
    root = _state.get("root")
    if isinstance(root, Path):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def _workbench_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh WORKBENCH_HOME for this test."""
    home = Path(str(_state["root"])) / f"test-{next(_counter)}"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    yield home
