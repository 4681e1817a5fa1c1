"""Fixtures of hello's own tests.

Everything general comes from ``carebiz.testing``, the pytest plugin installed with
CareBusiness: ``make_app``, ``app``, ``session``, ``seeded``, ``client_for``, ``api_client``
and the factories. This file only picks the app (the core with hello and nothing else) and
makes the plugin loadable.

A plugin in its own repository is installed (``pip install -e .``) before its tests run, and
the platform finds it through its entry point: the ``app`` fixture below is then all it needs.
This example lives inside the platform's repository, whose suite must not see it (installing
it would add it to every ``CAREBIZ_PLUGINS=all`` app), so when ``carebiz-hello`` is not
installed the package is imported once per session from ``examples/hello_plugin`` and each
test declares the distribution with a ``dist-info`` folder of its own, exactly what
``pip install`` leaves. Importing once matters: SQLAlchemy must not declare ``Greeting``
twice in the shared ``Base``. The model staying declared afterwards is harmless: only the
plugins an app loads own tables in it, and only owned tables are created or migrated.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask

from carebiz.testing import make_user

EXAMPLE = Path(__file__).resolve().parents[1]
DIST = "carebiz-hello"
VERSION = "0.1.0"


def _installed() -> bool:
    """Whether the real distribution is installed (checked before any test declares one)."""
    try:
        distribution(DIST)
    except PackageNotFoundError:
        return False
    return True


INSTALLED = _installed()


@pytest.fixture(scope="session")
def hello_package() -> SimpleNamespace:
    """The plugin's modules, imported once for the whole session.

    The source folder is on ``sys.path`` only while importing, so nothing else in the session
    finds the package by accident; ``plugin`` imports every other module of the package, and
    templates, translations and migrations are found from the imported package's location."""
    if not INSTALLED:
        sys.path.insert(0, str(EXAMPLE))
        importlib.invalidate_caches()
    try:
        plugin = importlib.import_module("carebiz_hello.plugin")
    finally:
        if not INSTALLED:
            sys.path.remove(str(EXAMPLE))
    return SimpleNamespace(
        plugin=plugin,
        models=importlib.import_module("carebiz_hello.models"),
        services=importlib.import_module("carebiz_hello.services"),
        signals=importlib.import_module("carebiz_hello.signals"),
    )


@pytest.fixture
def hello(hello_package: SimpleNamespace, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """``carebiz-hello`` as an installed distribution, for this test only."""
    if not INSTALLED:
        site = tmp_path / "site"
        info = site / f"{DIST.replace('-', '_')}-{VERSION}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {DIST}\nVersion: {VERSION}\n")
        (info / "entry_points.txt").write_text(
            "[carebiz.plugins]\nhello = carebiz_hello.plugin\n")
        monkeypatch.syspath_prepend(str(site))
        importlib.invalidate_caches()
    return hello_package


@pytest.fixture
def app(make_app: Callable[..., Flask], hello: SimpleNamespace) -> Flask:
    """The core with the hello plugin only: the plugin must work without any other. Every
    fixture of ``carebiz.testing`` built on ``app`` (``seeded``, ``client_for``,
    ``api_client``, ``session``) uses this one."""
    return make_app(CAREBIZ_PLUGINS="hello")


@pytest.fixture
def nobody(app: Flask, seeded: dict[str, Any]) -> int:
    """A user of branch A without any role (so without any of hello's permissions)."""
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        user = make_user(sess, "nobody", branches=["A"])
        sess.commit()
        return int(user.id)
