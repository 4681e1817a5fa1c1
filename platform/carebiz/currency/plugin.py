"""Currency's default plugin: exchange rates (table, pages, API, permission, admin menu) and
the company's base currency setting."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from carebiz import hookimpl
from carebiz.contributions import MenuItem, Permission, SettingSpec


@hookimpl
def models() -> list[type]:
    from carebiz.currency.models import ExchangeRate

    return [ExchangeRate]


@hookimpl
def web_blueprints() -> list[Any]:
    from carebiz.currency import views

    return [views.bp]


@hookimpl
def api_blueprints() -> list[Any]:
    from carebiz.currency.api import blp

    return [blp]


@hookimpl
def permissions() -> list[Permission]:
    return [Permission("currency.rates", _l("Enter exchange rates"), default_roles=("manager",),
                       weight=40)]


@hookimpl
def menu_items(user: Any) -> list[MenuItem]:
    if not user.is_authenticated:
        return []
    return [MenuItem("currency.rates", _l("Exchange rates"), "currency.rates", None, "admin",
                     weight=20)]


@hookimpl
def settings() -> list[SettingSpec]:
    return [SettingSpec("core.base_currency", "CNY", _l("Base currency of the company"),
                        weight=2,
                        description=_l("ISO 4217 code; values and reports are kept in it."))]


@hookimpl
def demo_data(session: Any) -> None:
    from carebiz.currency.demo import load_rates

    load_rates(session)
