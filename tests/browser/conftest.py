"""Fixtures for browser tests; the helpers they use are in ``harness.py`` (recipe:
``../shared/browser-testing.md``).

* ``artifacts``: this test's folder for screenshots, logs and exported files, kept after the
  run: ``$UI_ARTIFACTS/<module>/<test>``, default ``tests/browser/artifacts/<module>/<test>``
  (git-ignored). Emptied when the test starts.
* ``browser``: a headless Chromium for the module (``$CHROMIUM``, else Debian's
  ``/usr/lib/chromium/chromium``), launched by Python Playwright with the recipe's flags.
* ``new_page(allow=[...], viewport=...)``: a page in a fresh browser context. Requests whose
  URL starts with none of ``allow`` (nor ``data:``/``blob:``) are aborted and listed in
  ``page.wb_blocked``; page errors, console errors and dialogs are recorded
  (``harness.watch``). Pass it to ``harness.assert_clean(page, blocked=page.wb_blocked)``.
* ``lab_factory(notebooks, env=None, files=None)``: a started JupyterLab serving copies of
  ``notebooks`` and of ``files`` (``{path relative to its root: source}``)
  (``harness.start_lab``); its log goes to the test's artifacts; it is stopped, with its
  kernels, when the module ends.

Tests are skipped, with the reason, only when Playwright or Chromium is missing; everything
else that goes wrong fails. Nothing is contacted but 127.0.0.1 and ``file://``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.harness import (
    CHROMIUM_ARGS,
    CHROMIUM_MISSING,
    PLAYWRIGHT_MISSING,
    Lab,
    block_network,
    find_chromium,
    start_lab,
    watch,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

HERE = Path(__file__).resolve().parent


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """This test's folder for screenshots and other kept files (emptied first)."""
    root = Path(os.environ.get("UI_ARTIFACTS") or HERE / "artifacts")
    module = request.node.module.__name__.rsplit(".", 1)[-1]
    folder = root / module / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium, closed (its process ended by Playwright) when the module ends."""
    sync_api = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING)
    executable = find_chromium()
    if executable is None:
        chosen = os.environ.get("CHROMIUM")
        why = f"CHROMIUM={chosen} is not an executable file" if chosen else CHROMIUM_MISSING
        if os.environ.get("WORKBENCH_REQUIRE_BROWSER"):  # set by .ci/run: CI must not skip these silently
            pytest.fail(why + " (WORKBENCH_REQUIRE_BROWSER is set)")
        pytest.skip(why)
    with sync_api.sync_playwright() as p:
        # Playwright gives Chromium a fresh temporary profile for every launch
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """``new_page(allow=["file:"], viewport=(1280, 1000))``: a watched page, network limited to ``allow``."""
    contexts: list[Any] = []

    def make(
        allow: Iterable[str] = (), viewport: tuple[int, int] = (1280, 1000), timeout_s: float = 60
    ) -> Page:
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        blocked = block_network(context, allow)
        page = context.new_page()
        page.set_default_timeout(timeout_s * 1000)
        watch(page)
        page.wb_blocked = blocked  # type: ignore[attr-defined]
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def lab_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Lab]]:
    """``lab_factory([notebook, ...], env={...}, log=artifacts / "jupyterlab.log", files={...})``:
    a started JupyterLab; every server started is stopped (SIGTERM to its process group) when the
    module ends."""
    labs: list[Lab] = []

    def make(
        notebooks: Iterable[Path],
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        files: Mapping[str, Path] | None = None,
    ) -> Lab:
        lab = start_lab(notebooks, tmp_path_factory.mktemp("lab"), env=env, log=log, files=files)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.stop()
