"""Browser tests: the app served on a free localhost port in a thread, driven by Playwright
with Debian's Chromium. The ``browser``, ``page`` and ``live_server`` fixtures come from the
``carebiz`` pytest plugin (:mod:`carebiz.testing.browser`); import only :func:`shot` and
:data:`ARTEFACTS` from here, never the fixtures (a second ``browser`` would start a second
Playwright in the process)."""

from __future__ import annotations

from typing import Any

import pytest

from carebiz.testing.browser import ARTEFACTS, CHROMIUM, shot

__all__ = ["ARTEFACTS", "CHROMIUM", "shot"]


@pytest.fixture
def app(make_app: Any) -> Any:
    """As in production: CSRF protection on (the browser carries the tokens)."""
    return make_app(WTF_CSRF_ENABLED=True)
