"""Discovery, dependency resolution, startup errors, deterministic order, the runtime switch."""

from __future__ import annotations

import pytest

from carebiz.plugins import PluginSetupError
from carebiz.plugins.defaults import DEFAULT_PLUGINS
from carebiz.plugins.manifest import PluginManifest
from carebiz.plugins.resolver import resolve
from carebiz.services import subsystems
from carebiz.testing.dists import manifest_module


def m(name, requires=(), auto=False):
    return PluginManifest(name=name, version="1", label=name, requires=tuple(requires),
                          auto_enable=auto)


def test_resolve_closes_over_dependencies_and_orders_deterministically():
    available = {"gps": m("gps"), "rescue": m("rescue", ["gps"]), "sales": m("sales"),
                 "care": m("care", ["sales"]), "alpha": m("alpha")}
    order, problems = resolve(available, ["rescue", "care"])
    assert problems == []
    # lexicographic topological order: smallest ready name first
    assert order == ["gps", "rescue", "sales", "care"]
    all_order, _ = resolve(available, "all")
    assert all_order == ["alpha", "gps", "rescue", "sales", "care"]


def test_resolve_order_ignores_input_order():
    a = {"b": m("b", ["a"]), "a": m("a"), "c": m("c")}
    b = dict(reversed(list(a.items())))
    assert resolve(a, "all")[0] == resolve(b, "all")[0] == ["a", "b", "c"]


def test_resolve_auto_enable_glue_plugin():
    available = {"sales": m("sales"), "gps": m("gps"),
                 "sales_gps": m("sales_gps", ["sales", "gps"], auto=True)}
    assert resolve(available, ["sales"])[0] == ["sales"]
    assert resolve(available, ["sales", "gps"])[0] == ["gps", "sales", "sales_gps"]


def test_resolve_none_is_core_alone():
    assert resolve({"a": m("a")}, []) == ([], [])


def test_resolve_reports_every_problem():
    available = {"a": m("a", ["missing"]), "x": m("x", ["y"]), "y": m("y", ["x"])}
    order, problems = resolve(available, ["a", "x", "nope"])
    text = "\n".join(problems)
    assert "unknown plugin 'nope'" in text
    assert "'a' requires 'missing'" in text
    assert "dependency cycle between plugins: x, y" in text


def test_startup_lists_every_problem(fake_dists, make_app):
    fake_dists.module("badplug.plugin", "raise ImportError('libfoo is missing')\n")
    fake_dists.module("cyc1.plugin", manifest_module("cyc1", ["cyc2"]))
    fake_dists.module("cyc2.plugin", manifest_module("cyc2", ["cyc1"]))
    fake_dists.module("needy.plugin", manifest_module("needy", ["ghost"]))
    fake_dists.module("dup1.plugin", manifest_module("dup"))
    fake_dists.module("dup2.plugin", manifest_module("dup"))
    fake_dists.dist("bad-dist", {"badplug": "badplug.plugin"})
    fake_dists.dist("cyc-dist", {"cyc1": "cyc1.plugin", "cyc2": "cyc2.plugin"})
    fake_dists.dist("needy-dist", {"needy": "needy.plugin"})
    fake_dists.dist("dup-one", {"dup": "dup1.plugin"})
    fake_dists.dist("dup-two", {"dup": "dup2.plugin"})
    with pytest.raises(PluginSetupError) as info:
        make_app(CAREBIZ_PLUGINS="cyc1,needy,unknownthing,badplug")
    message = str(info.value)
    # a plugin that cannot be imported is left out, not a start-up error (test_plugin_isolation)
    assert "badplug" not in message
    assert "duplicate plugin name 'dup'" in message
    assert "dependency cycle between plugins: cyc1, cyc2" in message
    assert "plugin 'needy' requires 'ghost', which is not installed" in message
    assert "unknown plugin 'unknownthing'" in message
    assert len(info.value.problems) == 4


def test_manifest_name_must_match_entry_point(fake_dists, make_app):
    fake_dists.module("liar.plugin", manifest_module("other"))
    fake_dists.dist("liar", {"liar": "liar.plugin"})
    with pytest.raises(PluginSetupError, match="loads a manifest named 'other'"):
        make_app()


def test_misspelled_hook_fails_loudly(fake_dists, make_app):
    fake_dists.module("typo.plugin", manifest_module("typo", body="""
        @hookimpl
        def menu_itemz(user):
            return []
    """))
    fake_dists.dist("typo", {"typo": "typo.plugin"})
    from pluggy import PluginValidationError

    with pytest.raises(PluginValidationError, match="menu_itemz"):
        make_app()


def test_selection_from_environment(fake_dists, make_app, monkeypatch):
    for name in ("one", "two"):
        fake_dists.module(f"{name}.plugin", manifest_module(name))
        fake_dists.dist(name, {name: f"{name}.plugin"})
    monkeypatch.setenv("CAREBIZ_PLUGINS", "two")  # the environment selects (no mapping key)
    from carebiz import create_app

    app = create_app({"CAREBIZ_INSTANCE_PATH": str(fake_dists.root / "inst"),
                      "CAREBIZ_DATABASE_URL": "sqlite://"})
    assert app.extensions["carebiz"].host.names == ["two"]
    monkeypatch.setenv("CAREBIZ_PLUGINS", "none")
    app = create_app({"CAREBIZ_INSTANCE_PATH": str(fake_dists.root / "inst"),
                      "CAREBIZ_DATABASE_URL": "sqlite://"})
    assert app.extensions["carebiz"].host.names == []


def test_registration_order_is_dependencies_then_name(fake_dists, make_app):
    fake_dists.module("zeta.plugin", manifest_module("zeta"))
    fake_dists.module("beta.plugin", manifest_module("beta", ["zeta"]))
    fake_dists.module("alpha.plugin", manifest_module("alpha"))
    fake_dists.dist("z", {"zeta": "zeta.plugin", "beta": "beta.plugin"})
    fake_dists.dist("a", {"alpha": "alpha.plugin"})
    app = make_app(CAREBIZ_PLUGINS="beta,alpha")
    assert app.extensions["carebiz"].host.names == ["alpha", "zeta", "beta"]
    assert [n for n, _p in app.extensions["carebiz"].host.pm.list_name_plugin()] == [
        *DEFAULT_PLUGINS, "alpha", "zeta", "beta"]


def test_one_plugin_manager_per_app(sample_app, make_app):
    other = make_app(CAREBIZ_PLUGINS="none")
    assert other.extensions["carebiz"].host.pm is not sample_app.extensions["carebiz"].host.pm
    assert other.extensions["carebiz"].host.names == []
    assert sample_app.extensions["carebiz"].host.names == ["sample"]


def _switch(app, name, on):
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        changed = subsystems.switch(sess, app.extensions["carebiz"].host, name, on, "test")
        sess.commit()
        return changed


def test_runtime_switch_gates_pages_api_menu_hooks_and_keeps_data(sample_app, sample_seeded):
    from tests.conftest import login
    from tests.sample_plugin.models import SampleRecord

    ext = sample_app.extensions["carebiz"]
    with sample_app.app_context(), ext.session_factory() as sess:
        sess.add(SampleRecord(title="kept", branch_id=sample_seeded["branches"]["A"]))
        sess.commit()
    client = sample_app.test_client()
    login(client, "sales")
    assert client.get("/sample/").data == b"[kept]"
    assert client.get("/api/v1/sample/ping").status_code == 200
    assert b'data-menu="sample.a"' in client.get("/").data

    assert _switch(sample_app, "sample", False) == ["sample"]
    assert client.get("/sample/").status_code == 404
    assert client.get("/api/v1/sample/ping").status_code == 404
    assert client.get("/api/v1/sample/ping").get_json()["code"] == 404
    assert b'data-menu="sample' not in client.get("/").data
    with sample_app.test_request_context():
        assert ext.host.collect("customer_panels", customer=type("C", (), {"id": 1}),
                                user=None) == []
        assert "sample.view" not in {p.name for p in ext.host.collect("permissions")}

    assert _switch(sample_app, "sample", True) == ["sample"]
    assert client.get("/sample/").data == b"[kept]"


def test_switch_is_closed_over_dependencies(fake_dists, make_app):
    fake_dists.module("base1.plugin", manifest_module("base1"))
    fake_dists.module("top1.plugin", manifest_module("top1", ["base1"]))
    fake_dists.module("free1.plugin", manifest_module("free1"))
    fake_dists.dist("d", {"base1": "base1.plugin", "top1": "top1.plugin",
                          "free1": "free1.plugin"})
    app = make_app(CAREBIZ_PLUGINS="top1,free1")
    host = app.extensions["carebiz"].host
    assert _switch(app, "base1", False) == ["base1", "top1"]
    with app.app_context():
        assert host.active_names() == {"core", "free1"}
    assert _switch(app, "top1", True) == ["base1", "top1"]
    with app.app_context():
        assert host.active_names() == {"core", "base1", "top1", "free1"}
    assert _switch(app, "top1", False) == ["top1"]
    assert _switch(app, "top1", False) == []


def test_switch_errors(app):
    from carebiz.errors import NotFound, ValidationFailed

    with pytest.raises(ValidationFailed):
        _switch(app, "core", False)
    with pytest.raises(NotFound, match="No installed plugin named 'nope'"):
        _switch(app, "nope", False)


def test_switch_through_api_requires_permission(sample_app, sample_seeded):
    from tests.conftest import token_for

    sales = {"Authorization": "Bearer " + token_for(sample_app, "sales")}
    admin = {"Authorization": "Bearer " + token_for(sample_app, "admin")}
    client = sample_app.test_client()
    assert client.patch("/api/v1/plugins/sample", json={"enabled": False},
                        headers=sales).status_code == 403
    resp = client.patch("/api/v1/plugins/sample", json={"enabled": False}, headers=admin)
    assert resp.status_code == 200
    assert resp.get_json() == {"changed": ["sample"], "enabled": []}
    listed = client.get("/api/v1/plugins", headers=admin).get_json()
    assert listed[0]["name"] == "sample" and listed[0]["enabled"] is False
    resp = client.patch("/api/v1/plugins/ghost", json={"enabled": True}, headers=admin)
    assert resp.status_code == 404 and "ghost" in resp.get_json()["message"]
    resp = client.patch("/api/v1/plugins/sample", json={"enabled": "maybe"}, headers=admin)
    assert resp.status_code == 422 and "enabled" in resp.get_json()["errors"]
