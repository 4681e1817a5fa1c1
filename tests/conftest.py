"""Fixtures of the core's own suite. The general ones (``make_app``, ``app``, ``session``,
``seeded``, ``admin_client``, ``client_for``, ``api_client``) come from the ``carebiz.testing``
pytest plugin, exactly as a plugin author gets them; the names below stay importable from here
for the tests that import them."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from carebiz.testing import PASSWORD, create_schema, login, reset_postgres, seed, token_for
from carebiz.testing.dists import FakeDists

#: the PostgreSQL database the tests run on, when one is given
PG_URL = os.environ.get("CAREBIZ_TEST_DATABASE_URL")

__all__ = ["PG_URL", "PASSWORD", "create_schema", "login", "reset_postgres", "seed", "token_for"]


@pytest.fixture
def sample_app(fake_dists: FakeDists, make_app: Callable[..., Flask]) -> Flask:
    """An app with the sample plugin (it implements every hook) installed through a fake
    distribution, i.e. through real entry-point discovery."""
    fake_dists.dist("carebiz-sample", {"sample": "tests.sample_plugin.plugin"})
    # selected by name: plugins installed in the environment must not change what tests see
    return make_app(CAREBIZ_PLUGINS="sample")


@pytest.fixture
def sample_seeded(sample_app: Flask) -> dict[str, Any]:
    return seed(sample_app)
