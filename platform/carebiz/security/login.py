"""Sessions for people (Flask-Login, CSRF on every form) and bearer tokens for integrators."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin, LoginManager
from flask_wtf.csrf import CSRFProtect

from carebiz.security import identity_cache, sessions, throttle
from carebiz.security.identity_cache import Identity

csrf = CSRFProtect()
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class Anonymous(AnonymousUserMixin):
    """Not logged in: no roles, no branches, no permissions."""

    id = None
    username = "anonymous"
    roles: list[Any] = []
    branches: list[Any] = []
    branch_ids: set[int] = set()
    permission_names: set[str] = set()
    is_superuser = False
    all_branches = False
    locale = None
    name = ""


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def init_app(app: Flask) -> None:
    # Flask's own defaults exist already (SameSite unset), so these are set, not defaulted.
    secure = bool(app.config.get("CAREBIZ_SECURE_COOKIES"))
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=secure, REMEMBER_COOKIE_HTTPONLY=True,
                      REMEMBER_COOKIE_SAMESITE="Lax", REMEMBER_COOKIE_SECURE=secure)
    # CSRF is checked in our own before_request so that bearer-token API calls (which a
    # browser never sends by itself) are exempt while cookie-authenticated calls are not.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)

    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = _l("Please log in to open this page.")
    manager.login_message_category = "warning"
    manager.anonymous_user = Anonymous
    manager.session_protection = "strong"

    @manager.user_loader
    def load_user(user_id: str) -> Identity | None:
        if bearer_token() is not None:  # a token speaks alone, never the cookie beside it
            return load_from_token(request)
        return sessions.load(user_id)  # epoch checked: revoked cookies fail

    @manager.request_loader
    def load_from_token(_request: Any) -> Identity | None:
        token = bearer_token()
        return identity_cache.for_token(token) if token else None

    @app.before_request
    def check_csrf() -> None:
        if not app.config.get("WTF_CSRF_ENABLED", True):
            return
        if request.method not in UNSAFE_METHODS:
            return
        if request.routing_exception is not None:
            return  # no such page or method: the 404/405 answers, nothing runs
        if sessions.needs_csrf():
            csrf.protect()

    throttle.init_app(app)
