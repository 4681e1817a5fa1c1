"""CareBusiness platform core.

``create_app`` builds one Flask app with its own plugin manager, database engine and job
backend; nothing is global, so tests and several apps in one process do not leak into each
other."""

from __future__ import annotations

__version__ = "0.1.0"

from carebiz.hookspecs import hookimpl  # noqa: E402  (plugins import it from here)


def create_app(config: dict | None = None):  # type: ignore[no-untyped-def]
    """Build the app; see :mod:`carebiz.app`."""
    from carebiz.app import create_app as _create

    return _create(config)


__all__ = ["__version__", "create_app", "hookimpl"]
