"""Shared fixtures. No test may reach the network: an autouse guard refuses any
connection that is not to the loopback interface."""

from __future__ import annotations

import socket

import pandas as pd
import pytest

import workbench as wb

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    remote = isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1"))
    if remote and self.family in (socket.AF_INET, socket.AF_INET6):
        raise RuntimeError(f"tests must not reach the network (tried {address!r})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


def suite_of(*tasks: wb.AssertionTask | wb.JudgeTask, name: str = "t") -> wb.Suite:
    """A suite holding ``tasks``."""
    return wb.Suite(name=name, version="1", tasks=list(tasks))


def cells(run: wb.Run, task: str) -> pd.DataFrame:
    """The result rows of one task, indexed by input row label."""
    r = run.results
    return r[r["task"] == task].set_index("row")


@pytest.fixture(params=["lean", "litellm"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test twice: over the lean transport (the default for the local judge server,
    which speaks OpenAI's format) and with every call forced through litellm. Modules opt in
    with ``pytestmark = pytest.mark.usefixtures("transport")``; subprocesses inherit it."""
    if request.param == "litellm":
        monkeypatch.setenv("WORKBENCH_TRANSPORT", "litellm")
    else:
        monkeypatch.delenv("WORKBENCH_TRANSPORT", raising=False)
    return str(request.param)
