"""Fixtures of the sales plugin's tests.

Everything general comes from ``carebiz.testing`` (``make_app``, ``seeded``, ``client_for``,
``api_client``, the factories). Sales is installed with the platform (its entry point is in
the project's ``pyproject.toml``), so the app fixture only chooses which plugins load: the
core and sales alone. ``app_with_export`` shows sales beside the export plugin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from carebiz.testing import make_customer


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The core with sales only: sales must work without any other plugin."""
    return make_app(CAREBIZ_PLUGINS="sales")


# --- stock, quotations, orders and purchasing -------------------------------------------

@pytest.fixture
def people(app: Flask, seeded: dict[str, Any]) -> dict[str, int]:
    """Customers in branches A and B and a supplier (a party in the ``supplier`` role)
    in A, committed: ``{"alice": id, "bob": id, "supplier": id}``."""
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        a, b = seeded["branches"]["A"], seeded["branches"]["B"]
        alice = make_customer(sess, "Alice Wang", a, phones=["13800138001"],
                              roles=["prospect"])
        bob = make_customer(sess, "Bob Li", b, phones=["13800138002"])
        supplier = make_customer(sess, "FAW-Volkswagen Sales", a, kind="organization",
                                 roles=["supplier"])
        sess.commit()
        ids = {"alice": alice.id, "bob": bob.id, "supplier": supplier.id}
        sess.close()
        return ids


@pytest.fixture(autouse=True)
def _close_sessions() -> Any:
    """Close the sessions a test opened by hand: on PostgreSQL an open transaction would
    hold its locks and block the next test's reset of the database."""
    yield
    from sqlalchemy.orm import close_all_sessions

    close_all_sessions()
