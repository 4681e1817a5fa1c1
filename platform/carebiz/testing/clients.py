"""The test client of the fixtures' apps: one clean app context (and so one ``g``) a request.

Flask reuses an app context that is already pushed for the same app when a request comes in
(``RequestContext.push``). The ``session`` fixture, and any test that writes
``with app.app_context():``, keeps one pushed for the whole test, so every request of the
test would share its ``g``: Flask-Login's user, the request's database session, the CSRF
token. The first client's user then stays logged in for a second client, and one request's
session (with its identity map) serves the next. A real server never does that: each request
gets its own context. :class:`IsolatedClient` pushes a fresh app context around each request
whenever the test has one of this app pushed, and pops it afterwards, so the test's own
context (its ``g``, its session) is left exactly as it was.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.globals import _cv_app
from flask.testing import FlaskClient


class IsolatedClient(FlaskClient):
    """A ``FlaskClient`` whose requests never see the test's ``g`` (see the module)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        app: Flask = self.application
        pushed = _cv_app.get(None)
        # ``with client:`` keeps the request's context after the call for the test to read;
        # a context of ours popped under it would break that, so leave such a client alone.
        if pushed is None or pushed.app is not app or self.preserve_context:
            return super().open(*args, **kwargs)
        with app.app_context():
            return super().open(*args, **kwargs)


def isolate_requests(app: Flask) -> Flask:
    """Make ``app.test_client()`` give :class:`IsolatedClient` (unless a test chose another)."""
    if app.test_client_class in (None, FlaskClient):
        app.test_client_class = IsolatedClient
    return app
