"""Units' default plugin: packaging units (table, pages, API, permission, admin menu)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from carebiz import hookimpl
from carebiz.contributions import MenuItem, Permission


@hookimpl
def models() -> list[type]:
    from carebiz.units.models import PackagingUnit

    return [PackagingUnit]


@hookimpl
def web_blueprints() -> list[Any]:
    from carebiz.units import views

    return [views.bp]


@hookimpl
def api_blueprints() -> list[Any]:
    from carebiz.units.api import blp

    return [blp]


@hookimpl
def permissions() -> list[Permission]:
    return [Permission("units.manage", _l("Define packaging units"),
                       default_roles=("manager", "parts_clerk"), weight=40)]


@hookimpl
def menu_items(user: Any) -> list[MenuItem]:
    if not user.is_authenticated:
        return []
    return [MenuItem("units.index", _l("Units"), "units.index", None, "admin", weight=21)]
