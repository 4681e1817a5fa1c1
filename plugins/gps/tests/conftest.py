"""Fixtures of the GPS plugin's tests.

Everything general comes from ``carebiz.testing`` (``make_app``, ``seeded``, the factories).
GPS is installed with the platform (its entry point is in the project's ``pyproject.toml``),
so the app fixture only chooses which plugins load: the core and gps alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The core with gps only: gps must work without any other plugin."""
    return make_app(CAREBIZ_PLUGINS="gps")


@pytest.fixture(autouse=True)
def _close_sessions() -> Any:
    """Close the sessions a test opened by hand: on PostgreSQL an open transaction would
    hold its locks and block the next test's reset of the database."""
    yield
    from sqlalchemy.orm import close_all_sessions

    close_all_sessions()
