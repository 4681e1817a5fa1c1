"""Permission checks for plugin code, and "is this user a manager" as a permission.

Roles are data an administrator edits; code never asks for a role's name. Code asks for a
permission (:func:`can`), and whether a user oversees colleagues' work is the registered
permission :data:`MANAGE_TEAM` (granted to the built-in ``manager`` role by default, to any
other role on the roles page), so a business whose supervisors carry another role name only
ticks a box."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from carebiz.contributions import Permission
from carebiz.security import api_login_required, can, require
from carebiz.security.permissions import EXPORT_PERMISSION, TOKENS_PERMISSION, _is_api_request

#: the permission of managers: see and act on colleagues' work in their branches (the whole
#: branch's follow-ups on "my day", a team's figures), not just their own
MANAGE_TEAM = "team.manage"


def manager_permission() -> Permission:
    """The :data:`MANAGE_TEAM` permission as the core registers it (``permissions`` hook)."""
    return Permission(MANAGE_TEAM, _l("Oversee colleagues' work in your branches (a manager)"),
                      default_roles=("manager",), weight=16)


def is_manager(user: Any = None) -> bool:
    """Whether ``user`` (default: the current user) holds :data:`MANAGE_TEAM`."""
    return can(current_user if user is None else user, MANAGE_TEAM)


def check_permission(permission: str, user: Any = None) -> None:
    """Stop the request unless ``user`` (default: the current user) holds ``permission``:
    401 when nobody is logged in (the login page on pages), else 403. For checks that
    depend on the record, after loading it; :func:`require` decorates whole views."""
    who = current_user if user is None else user
    if not getattr(who, "is_authenticated", False):
        if _is_api_request():
            abort(401)
        abort(current_app.login_manager.unauthorized())  # type: ignore[attr-defined]
    if not can(who, permission):
        abort(403)


__all__ = ["EXPORT_PERMISSION", "MANAGE_TEAM", "TOKENS_PERMISSION", "api_login_required", "can",
           "check_permission", "is_manager", "manager_permission", "require"]
