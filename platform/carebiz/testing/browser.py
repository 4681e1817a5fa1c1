"""Browser-test fixtures for the core's and every plugin's tests: ``browser`` (one Chromium per
test process), ``page`` and ``live_server`` (the test's ``app`` on a free localhost port in a
thread), and :func:`shot` for screenshot artefacts in ``test-results/screenshots/``.

They are registered once, by the ``carebiz`` pytest plugin, and must not be imported into a
test module or conftest: a second definition of ``browser`` would start a second Playwright
in the same process, which Playwright's sync API refuses. Debian's Chromium is used (the
Playwright browser download does not work on closed networks); without it the tests skip
with a reason."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CAREBIZ_CHROMIUM", "/usr/bin/chromium")
#: where screenshots go: ``test-results/screenshots`` under the directory pytest runs in
ARTEFACTS = Path(os.environ.get("CAREBIZ_TEST_ARTEFACTS", "test-results/screenshots")).resolve()
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set "
                    "CAREBIZ_CHROMIUM)")
    with sync_playwright() as pw:
        try:
            instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:  # a browser that cannot start on this machine
            pytest.skip(f"Chromium did not start: {exc}")
        yield instance
        instance.close()


@pytest.fixture
def live_server(app: Any, seeded: dict[str, Any]) -> Iterator[str]:
    """The test's app on http://127.0.0.1:<free port>/ for the length of the test (give the
    app CSRF protection, as in production: ``make_app(WTF_CSRF_ENABLED=True)``)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTEFACTS / f"{request.node.name}-final.png"), full_page=True)
    context.close()


def shot(page: Any, name: str) -> Path:
    """Save a screenshot artefact and return its path."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
