"""pytest fixtures for :mod:`workbench.testing`, registered as the ``workbench`` pytest11 plugin.

``judge_server`` gives a started :class:`~workbench.testing.JudgeServer` with default options;
``judge_server_factory(**options)`` starts servers with custom options. Both are closed when
the test ends.

Example:
    A test in a project that has workbench installed::

        import litellm

        async def test_my_judge(judge_server_factory):
            server = judge_server_factory(script=['{"score": 5}'], latency_ms=10)
            r = await litellm.acompletion(model=server.model, messages=[{"role": "user", "content": "hi"}],
                                          **server.litellm_kwargs)
            assert r.choices[0].message.content == '{"score": 5}'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .testing import JudgeServer

__all__ = ["judge_server", "judge_server_factory"]


@pytest.fixture
def judge_server() -> Iterator[JudgeServer]:
    """A started local judge server with default options (schema-following, no faults, no latency)."""
    from .testing import JudgeServer  # imported on use: loading the plugin stays cheap

    with JudgeServer() as server:
        yield server


@pytest.fixture
def judge_server_factory() -> Iterator[Callable[..., JudgeServer]]:
    """Start judge servers with options, e.g. ``judge_server_factory(rate_429=0.2, seed=1)``;
    all are closed after the test."""
    from .testing import JudgeServer

    servers: list[JudgeServer] = []

    def make(**options: Any) -> JudgeServer:
        server = JudgeServer(**options).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()
