"""Fixtures of the sales plugin's tests.

Everything general comes from ``carebiz.testing`` (``make_app``, ``seeded``, ``client_for``,
``api_client``, the factories). Sales is installed with the platform (its entry point is in
the project's ``pyproject.toml``), so the app fixture only chooses which plugins load: the
core and sales alone. ``app_with_export`` shows sales beside the export plugin."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The core with sales only: sales must work without any other plugin."""
    return make_app(CAREBIZ_PLUGINS="sales")
