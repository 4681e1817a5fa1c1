"""The hook contract between plugins: hooks a plugin declares for others, named capabilities,
ownership of names, and an explicit call order."""

from __future__ import annotations

import types
from typing import Any

import pytest
from pluggy import PluginValidationError

from carebiz.plugins import PluginHost, PluginSetupError
from carebiz.plugins.discovery import Discovered
from carebiz.plugins.manifest import PluginManifest
from carebiz.services import subsystems
from carebiz.testing.dists import manifest_module
from tests.workshop_plugin.plugin import plan_part

STOCK = {"stock": "tests.stock_plugin.plugin"}
WORKSHOP = {"workshop": "tests.workshop_plugin.plugin"}


def _switch(app: Any, name: str, on: bool) -> list[str]:
    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        changed = subsystems.switch(sess, ext.host, name, on, "test")
        sess.commit()
        return changed


@pytest.fixture
def both(fake_dists: Any, make_app: Any) -> Any:
    fake_dists.dist("carebiz-stock", STOCK)
    fake_dists.dist("carebiz-workshop", WORKSHOP)
    return make_app(CAREBIZ_PLUGINS="stock,workshop")


# -- declared hooks ---------------------------------------------------------------------------
def test_a_declared_hook_is_answered_by_another_plugin(both: Any) -> None:
    from tests.stock_plugin.plugin import pick_slip

    host = both.extensions["carebiz"].host
    assert host.declared_hooks == {"stock_part_notes": "stock", "stock_supplier": "stock"}
    with both.app_context():
        assert pick_slip(host, "P-1") == ["pick P-1", "workshop needs P-1 today"]
        # firstresult: one answer, not a list
        assert host.call("stock_supplier", part="P-1") == "workshop's usual supplier"


def test_optional_implementation_without_the_declaring_plugin(fake_dists: Any,
                                                              make_app: Any) -> None:
    fake_dists.dist("carebiz-workshop", WORKSHOP)
    app = make_app(CAREBIZ_PLUGINS="workshop")  # starts: its stock hooks are optional
    with app.app_context():
        assert plan_part(app.extensions["carebiz"].host, "P-1") == "order 1 x P-1"


def test_misspelled_implementation_of_a_declared_hook_fails_start_up(fake_dists: Any,
                                                                     make_app: Any) -> None:
    fake_dists.dist("carebiz-stock", STOCK)
    fake_dists.module("typist.plugin", manifest_module("typist", body="""
        @hookimpl
        def stock_part_notez(part):
            return []
    """))
    fake_dists.dist("typist", {"typist": "typist.plugin"})
    with pytest.raises(PluginValidationError, match="stock_part_notez"):
        make_app(CAREBIZ_PLUGINS="stock,typist")


def test_failures_in_declared_hooks_are_isolated_unless_fail_closed(fake_dists: Any,
                                                                     make_app: Any) -> None:
    from carebiz.plugins.isolation import PluginUnavailable

    fake_dists.module("guard.hooks", """
        from carebiz.hookspecs import hookspec

        FAIL_CLOSED = ("guard_may_issue",)

        @hookspec
        def guard_notes():
            "Notes."

        @hookspec
        def guard_may_issue(part):
            "Whether a part may be issued."
    """)
    fake_dists.module("guard.plugin", manifest_module("guard", body="""
        @hookimpl
        def hookspecs():
            from guard import hooks
            return [hooks]

        @hookimpl
        def guard_notes():
            return ["guard's note"]
    """))
    fake_dists.module("breaker.plugin", manifest_module("breaker", body="""
        @hookimpl(optionalhook=True)
        def guard_notes():
            raise RuntimeError("broken notes")

        @hookimpl(optionalhook=True)
        def guard_may_issue(part):
            raise RuntimeError("broken check")
    """))
    fake_dists.dist("guard", {"guard": "guard.plugin", "breaker": "breaker.plugin"})
    app = make_app(CAREBIZ_PLUGINS="guard,breaker")
    host = app.extensions["carebiz"].host
    with app.test_request_context():
        assert host.collect("guard_notes") == ["guard's note"]
        with pytest.raises(PluginUnavailable):
            host.call("guard_may_issue", part="P-1")


# -- capabilities -----------------------------------------------------------------------------
def test_capability_used_when_its_provider_is_on_and_fallback_when_off(both: Any) -> None:
    host = both.extensions["carebiz"].host
    with both.app_context():
        assert plan_part(host, "P-1", 2) == "reserved 2 x P-1"
    assert _switch(both, "stock", False) == ["stock"]
    with both.app_context():
        assert host.capability("stock.reservation") is None
        assert plan_part(host, "P-1", 2) == "order 2 x P-1"
    _switch(both, "stock", True)
    with both.app_context():
        assert plan_part(host, "P-1") == "reserved 1 x P-1"


def test_unknown_capability_is_none(both: Any) -> None:
    with both.app_context():
        assert both.extensions["carebiz"].host.capability("parts.teleport") is None


def test_two_providers_of_one_capability_stop_start_up(fake_dists: Any, make_app: Any) -> None:
    fake_dists.dist("carebiz-stock", STOCK)
    fake_dists.module("rival.plugin", manifest_module("rival", body="""
        from carebiz.plugins.capabilities import Capability

        @hookimpl
        def capabilities():
            return [Capability("stock.reservation", object())]
    """))
    fake_dists.dist("rival", {"rival": "rival.plugin"})
    with pytest.raises(PluginSetupError, match="capability 'stock.reservation' is provided by "
                                               "more than one plugin: rival, stock"):
        make_app(CAREBIZ_PLUGINS="stock,rival")


# -- ownership --------------------------------------------------------------------------------
def _start_with(fake_dists: Any, make_app: Any, body: str, models: str = "") -> str:
    if models:
        fake_dists.module("owner.models", models)
    fake_dists.module("owner.plugin", manifest_module("owner", body=body))
    fake_dists.dist("owner", {"owner": "owner.plugin"})
    with pytest.raises(PluginSetupError) as info:
        make_app(CAREBIZ_PLUGINS="owner")
    return str(info.value)


def test_table_without_the_plugin_prefix_stops_start_up(fake_dists: Any, make_app: Any) -> None:
    message = _start_with(fake_dists, make_app, """
        @hookimpl
        def models():
            from owner.models import Thing
            return [Thing]
    """, models="""
        from sqlalchemy.orm import Mapped, mapped_column
        from carebiz.db import Base

        class Thing(Base):
            __tablename__ = "thing_of_owner"
            id: Mapped[int] = mapped_column(primary_key=True)
    """)
    assert "plugin 'owner' declares table 'thing_of_owner'" in message


def test_permission_without_the_plugin_prefix_stops_start_up(fake_dists: Any,
                                                             make_app: Any) -> None:
    message = _start_with(fake_dists, make_app, """
        from carebiz.contributions import Permission

        @hookimpl
        def permissions():
            return [Permission("owner.view", "View"), Permission("crm.customers.delete", "Del")]
    """)
    assert "plugin 'owner' registers permission 'crm.customers.delete'" in message
    assert "owner.view" not in message


def test_setting_without_the_plugin_prefix_stops_start_up(fake_dists: Any, make_app: Any) -> None:
    message = _start_with(fake_dists, make_app, """
        from carebiz.contributions import SettingSpec

        @hookimpl
        def settings():
            return [SettingSpec("core.company_name", "x", "Name")]
    """)
    assert "plugin 'owner' registers setting 'core.company_name'" in message


def test_default_role_that_does_not_exist_stops_start_up(fake_dists: Any, make_app: Any) -> None:
    message = _start_with(fake_dists, make_app, """
        from carebiz.contributions import Permission

        @hookimpl
        def permissions():
            return [Permission("owner.view", "View", default_roles=("manager", "salesman"))]
    """)
    assert "plugin 'owner' grants permission 'owner.view' to role 'salesman'" in message
    assert "'manager'" not in message


def test_declared_hook_without_the_plugin_prefix_stops_start_up(fake_dists: Any,
                                                                make_app: Any) -> None:
    fake_dists.module("owner.hooks", """
        from carebiz.hookspecs import hookspec

        @hookspec
        def parts_changed(part):
            "Another plugin's name."
    """)
    message = _start_with(fake_dists, make_app, """
        @hookimpl
        def hookspecs():
            from owner import hooks
            return [hooks]
    """)
    assert "plugin 'owner' declares hook 'parts_changed'" in message


def test_the_core_is_exempt_and_every_problem_is_listed(fake_dists: Any, make_app: Any) -> None:
    message = _start_with(fake_dists, make_app, """
        from carebiz.contributions import Permission, SettingSpec

        @hookimpl
        def permissions():
            return [Permission("a.b", "A")]

        @hookimpl
        def settings():
            return [SettingSpec("c.d", 1, "C")]
    """)
    assert "'core'" not in message  # the core's crm./admin. names are its own
    assert "permission 'a.b'" in message and "setting 'c.d'" in message


# -- order ------------------------------------------------------------------------------------
def _plugin(name: str, requires: tuple[str, ...], calls: list[str]) -> Discovered:
    module = types.ModuleType(f"order_{name}")
    module.manifest = PluginManifest(name=name, version="1", label=name,  # type: ignore[attr-defined]
                                     requires=requires)

    from carebiz import hookimpl

    @hookimpl
    def demo_data(session: Any) -> None:
        calls.append(name)

    @hookimpl
    def timeline_kinds() -> list[Any]:
        from carebiz.contributions import TimelineKind

        return [TimelineKind(f"{name}.kind", name)]

    module.demo_data = demo_data  # type: ignore[attr-defined]
    module.timeline_kinds = timeline_kinds  # type: ignore[attr-defined]
    return Discovered(name, module, module.manifest, "test")  # type: ignore[attr-defined]


def test_calls_run_core_first_then_dependency_order_whatever_the_registration_order() -> None:
    seen = []
    for order in (("alpha", "zulu", "mike"), ("mike", "alpha", "zulu")):
        calls: list[str] = []
        graph = {"alpha": ("zulu",), "zulu": (), "mike": ()}
        plugins = [_plugin(n, graph[n], calls) for n in order]
        core = _plugin("core", (), calls).module
        host = PluginHost([core], core.manifest, plugins)
        assert host.order == ["core", "mike", "zulu", "alpha"]
        host.call("demo_data", session=None)
        kinds = [k.name for k in host.collect("timeline_kinds")]
        seen.append((calls, kinds, host.names))
    assert seen[0] == seen[1]
    assert seen[0][0] == ["core", "mike", "zulu", "alpha"]


def test_demo_data_of_the_core_runs_first(fake_dists: Any, make_app: Any) -> None:
    """A plugin's demo data may use the core's demo customers, without ``trylast``."""
    fake_dists.module("needs_core.plugin", manifest_module("needs_core", body="""
        from sqlalchemy import func, select

        SEEN = []

        @hookimpl
        def demo_data(session):
            from carebiz.crm.models import Party
            SEEN.append(session.scalar(select(func.count(Party.id))))
    """))
    fake_dists.dist("needs-core", {"needs_core": "needs_core.plugin"})
    app = make_app(CAREBIZ_PLUGINS="needs_core")
    from carebiz.demo import load_demo

    load_demo(app)
    import needs_core.plugin

    assert needs_core.plugin.SEEN[0] > 0
