"""The core is built like its plugins: one small default plugin module per core feature,
listed once in ``carebiz.plugins.defaults``, all owned by the always-on plugin ``core``."""

from __future__ import annotations

import importlib
import re
from typing import Any

from flask import Flask

from carebiz.plugins.defaults import DEFAULT_PLUGINS
from carebiz.plugins.manifest import CORE

#: what each default plugin may register: its own feature's names only
FEATURE_PREFIXES = {
    "carebiz.kernel.plugin": ("admin.", "audit.", "team.", "data.export", "api.tokens",
                              "core.company_name",
                              "core.jobs_keep_days", "core.purge_jobs"),
    "carebiz.export.plugin": ("core.export", "csv"),
    "carebiz.crm.plugin": ("crm.",),
    "carebiz.currency.plugin": ("currency.", "core.base_currency"),
    "carebiz.units.plugin": ("units.",),
    "carebiz.query.plugin": ("query",),
    "carebiz.documents.plugin": ("documents.",),
    "carebiz.notify.plugin": ("core.notify", "core.notifications_"),
}


class _Someone:
    is_authenticated = True


def _names(module: Any, hook: str, **kwargs: Any) -> list[str]:
    function = getattr(module, hook, None)
    if function is None:
        return []
    items = function(**kwargs) or []
    return [getattr(item, "name", None) or getattr(item, "key", None) for item in items]


def test_every_default_plugin_is_registered_in_order_and_owned_by_the_core(app: Flask) -> None:
    host = app.extensions["carebiz"].host
    assert [name for name, _ in host.pm.list_name_plugin()][:len(DEFAULT_PLUGINS)] == \
        list(DEFAULT_PLUGINS)
    assert all(host.owners[name] == CORE for name in DEFAULT_PLUGINS)
    assert CORE not in host.names and host.is_active(CORE)
    # one plugin for users (list, subsystems page), however many modules
    assert [n for n in host.manifests if n == CORE or n in DEFAULT_PLUGINS] == [CORE]


def test_each_default_plugin_registers_only_its_own_feature() -> None:
    assert set(FEATURE_PREFIXES) == set(DEFAULT_PLUGINS)
    for path in DEFAULT_PLUGINS:
        module = importlib.import_module(path)
        names = [*_names(module, "permissions"), *_names(module, "settings"),
                 *_names(module, "tasks"), *_names(module, "export_tables"),
                 *_names(module, "export_formats"), *_names(module, "scheduled_jobs"),
                 *_names(module, "menu_items", user=_Someone())]
        assert names, f"{path} registers nothing"
        strays = [n for n in names if not n.startswith(FEATURE_PREFIXES[path])]
        assert strays == [], f"{path} registers another feature's {strays}"


def test_feature_tables_belong_to_the_core(app: Flask) -> None:
    table_owner = app.extensions["carebiz"].table_owner
    from carebiz.currency.models import ExchangeRate
    from carebiz.documents.models import DocumentTemplate
    from carebiz.query.models import SavedQuery
    from carebiz.units.models import PackagingUnit

    for table in ("user_account", "party", "vehicle", ExchangeRate.__tablename__,
                  PackagingUnit.__tablename__, SavedQuery.__tablename__,
                  DocumentTemplate.__tablename__):
        assert table_owner.get(table) == CORE, table


def test_admin_sees_the_core_menu_in_its_order(admin_client: Any) -> None:
    html = admin_client.get("/").get_data(as_text=True)
    # the core's items only: installed industry plugins (sales …) add their own beside them
    owners = admin_client.application.extensions["carebiz"].host.names
    menu = [m for m in re.findall(r'data-menu="([^"]+)"', html)
            if m.split(".")[0] not in owners]
    assert menu == [
        "crm.my_day", "crm.customers", "crm.vehicles", "query",
        "admin.users", "admin.roles", "admin.branches", "admin.tokens", "admin.plugins",
        "admin.settings", "admin.audit", "crm.custom_fields", "crm.import",
        "documents.templates", "currency.rates", "units.index",
    ]


def test_the_architecture_page_lists_every_default_plugin() -> None:
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert [path for path in DEFAULT_PLUGINS if f"`{path}`" not in page] == []
