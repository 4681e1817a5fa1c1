"""Permission checks: default deny; only permissions registered by switched-on plugins exist."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from flask import abort, current_app, request
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])


def registered_permissions() -> Mapping[str, Any]:
    """Permission objects of every switched-on plugin (and the core), by name (built once per
    switched-on set; every permission check reads it)."""
    host = current_app.extensions["carebiz"].host
    return host.registry("permissions.by_name", lambda: MappingProxyType(
        {p.name: p for p in host.collect("permissions")}))


#: exporting a list as a file (every export path checks it besides the list's own
#: permission): reading a list on screen is not taking the whole list away
EXPORT_PERMISSION = "data.export"

#: creating API tokens for oneself (``admin.tokens`` manages everyone's)
TOKENS_PERMISSION = "api.tokens"


def can(user: Any, permission: str) -> bool:
    """True when ``user`` holds ``permission``. Unknown permissions are denied, including for
    superusers, so a typo never opens a door and a switched-off plugin's rights vanish."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if permission not in registered_permissions():
        return False
    return user.is_superuser or permission in user.permission_names


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def require(permission: str) -> Callable[[F], F]:
    """Decorator for views and API endpoints: 401 when not logged in, 403 without the right."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if _is_api_request():
                    abort(401)
                return current_app.login_manager.unauthorized()
            if not can(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def api_login_required(view: F) -> F:
    """401 (JSON) unless a user is authenticated by token or session."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            abort(401)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
