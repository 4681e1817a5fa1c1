"""Failure isolation: a broken plugin is left out of what it breaks, never takes pages it has
nothing to do with down, and never widens what a user may see. Also: switched-off plugins'
commands refuse to run, and merges they missed are handed to them when switched on."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from carebiz.cli import main
from carebiz.models import PendingMerge
from carebiz.services import subsystems
from carebiz.testing import login, make_customer, make_vehicle, seed, token_for
from carebiz.testing.dists import manifest_module

FLAKY = """
    from carebiz.contributions import (ExportTable, MenuItem, Panel, Permission, RecordPage,
                                       TimelineKind)

    #: names of the hooks that raise; a test fills it
    BROKEN = set()

    def _maybe(hook):
        if hook in BROKEN:
            raise RuntimeError(f"flaky {hook} is broken")

    @hookimpl
    def customer_panels(customer):
        _maybe("customer_panels")
        return [Panel("flaky", "Flaky", "<p>flaky works</p>")]

    @hookimpl
    def vehicle_panels(vehicle):
        _maybe("vehicle_panels")
        return [Panel("flaky", "Flaky", "<p>flaky works</p>")]

    @hookimpl
    def menu_items(user):
        _maybe("menu_items")
        return [MenuItem("flaky", "Flaky", "home.index")]

    @hookimpl
    def timeline_kinds():
        _maybe("timeline_kinds")
        return [TimelineKind("flaky.kind", "Flaky")]

    @hookimpl
    def record_pages():
        _maybe("record_pages")
        return [RecordPage("flaky_thing", "home.index", "thing_id")]

    @hookimpl
    def export_tables():
        _maybe("export_tables")
        return [ExportTable("flaky.things", "Things", lambda session, user, args: None)]

    @hookimpl
    def permissions():
        _maybe("permissions")
        return [Permission("flaky.view", "See flaky things")]

    @hookimpl
    def row_filters(model, user):
        _maybe("row_filters")
        return None
"""


@pytest.fixture
def flaky(fake_dists: Any, make_app: Any) -> Any:
    """An app with the sample plugin and a plugin whose hooks raise on demand."""
    fake_dists.module("flaky.plugin", manifest_module("flaky", body=FLAKY))
    fake_dists.dist("flaky", {"flaky": "flaky.plugin"})
    fake_dists.dist("carebiz-sample", {"sample": "tests.sample_plugin.plugin"})
    app = make_app(CAREBIZ_PLUGINS="flaky,sample")
    app.config["seeded"] = seed(app)
    return app


def _break(app: Any, *hooks: str) -> None:
    import flaky.plugin

    flaky.plugin.BROKEN.update(hooks)
    app.extensions["carebiz"].host._registries.clear()  # registrations were collected at seed


def _customer_and_vehicle(app: Any) -> tuple[int, int]:
    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        branch = app.config["seeded"]["branches"]["A"]
        party = make_customer(sess, "Zhao Wei", branch)
        car = make_vehicle(sess, 1, branch, owner_id=party.id)
        sess.commit()
        return party.id, car.id


# -- import failures --------------------------------------------------------------------------
def test_a_plugin_that_cannot_be_imported_is_reported_and_left_out(fake_dists: Any,
                                                                   make_app: Any,
                                                                   caplog: Any) -> None:
    fake_dists.module("badplug.plugin", "raise ImportError('libfoo is missing')\n")
    fake_dists.module("needsbad.plugin", manifest_module("needsbad", ["badplug"]))
    fake_dists.module("fine.plugin", manifest_module("fine"))
    fake_dists.dist("bad", {"badplug": "badplug.plugin", "needsbad": "needsbad.plugin",
                            "fine": "fine.plugin"})
    with caplog.at_level(logging.ERROR, logger="carebiz.plugins"):
        app = make_app(CAREBIZ_PLUGINS="all")
    host = app.extensions["carebiz"].host
    assert "fine" in host.names and "badplug" not in host.names
    assert host.failed["badplug"] == ("failed to import badplug.plugin: ImportError: libfoo is "
                                      "missing")
    assert "requires badplug" in host.failed["needsbad"]
    assert "libfoo is missing" in caplog.text

    result = app.test_cli_runner().invoke(main, ["plugins", "list"])
    assert result.exit_code == 0, result.output
    assert "badplug" in result.output and "failed" in result.output
    assert "libfoo is missing" in result.output

    seed(app)
    client = app.test_client()
    login(client, "admin")
    page = client.get("/admin/plugins")
    assert page.status_code == 200
    assert b'data-plugin-failed="badplug"' in page.data and b"libfoo is missing" in page.data
    assert client.get("/healthz").status_code == 200


# -- composition hooks ------------------------------------------------------------------------
def test_a_raising_panel_is_left_out_and_marked_unavailable(flaky: Any, caplog: Any) -> None:
    party, car = _customer_and_vehicle(flaky)
    client = flaky.test_client()
    login(client, "admin")
    page = client.get(f"/customers/{party}")
    assert b"flaky works" in page.data and b"data-panel-unavailable" not in page.data
    _break(flaky, "customer_panels", "vehicle_panels")
    with caplog.at_level(logging.ERROR, logger="carebiz.plugins"):
        page = client.get(f"/customers/{party}")
    assert page.status_code == 200
    assert b"flaky works" not in page.data
    assert b"data-panel-unavailable" in page.data and b"This panel is unavailable." in page.data
    assert b"customer " + str(party).encode() in page.data  # the sample plugin's panel stays
    assert "flaky customer_panels is broken" in caplog.text
    page = client.get(f"/vehicles/{car}")
    assert page.status_code == 200 and b"This panel is unavailable." in page.data

    api = flaky.test_client()
    body = api.get(f"/api/v1/customers/{party}/overview",
                   headers={"Authorization": "Bearer " + token_for(flaky, "admin")})
    assert body.status_code == 200  # the overview's sections carry the placeholder's summary
    assert body.get_json()["sections"]["flaky.unavailable"] == {"unavailable": True,
                                                                "plugin": "flaky"}


def test_raising_registrations_are_left_out_and_healthz_answers(flaky: Any) -> None:
    _break(flaky, "menu_items", "timeline_kinds", "record_pages", "export_tables")
    client = flaky.test_client()
    assert client.get("/healthz").status_code == 200
    login(client, "admin")
    home = client.get("/")
    assert home.status_code == 200 and b'data-menu="sample.a"' in home.data
    assert client.get("/customers").status_code == 200
    assert client.get("/customers?format=csv").status_code == 200  # core's exports still work
    host = flaky.extensions["carebiz"].host
    with flaky.test_request_context():
        kinds = {k.name for k in host.collect("timeline_kinds")}
    assert "sample.visit" in kinds and "flaky.kind" not in kinds


# -- security hooks ---------------------------------------------------------------------------
def test_a_raising_permissions_hook_refuses_the_request(flaky: Any) -> None:
    secret = token_for(flaky, "admin")
    client = flaky.test_client()
    login(client, "sales")
    _break(flaky, "permissions")
    page = client.get("/customers")
    assert page.status_code == 503
    resp = client.get("/api/v1/customers", headers={"Authorization": "Bearer " + secret})
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["code"] == 503 and body["status"] == "plugin_unavailable"
    assert "refused" in body["message"]
    assert client.get("/healthz").status_code == 200


def test_a_raising_row_filter_never_answers_unfiltered(flaky: Any) -> None:
    _customer_and_vehicle(flaky)
    secret = token_for(flaky, "sales")
    _break(flaky, "row_filters")
    client = flaky.test_client()
    resp = client.get("/api/v1/customers", headers={"Authorization": "Bearer " + secret})
    assert resp.status_code == 503 and b"Zhao Wei" not in resp.data
    assert resp.get_json()["status"] == "plugin_unavailable"
    login(client, "sales")
    page = client.get("/customers")
    assert page.status_code == 503 and b"Zhao Wei" not in page.data
    assert client.get("/healthz").status_code == 200


# -- switched-off plugins -----------------------------------------------------------------------
def _switch(app: Any, name: str, on: bool) -> None:
    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        subsystems.switch(sess, ext.host, name, on, "test")
        sess.commit()


def test_a_switched_off_plugins_command_refuses_to_run(sample_app: Any) -> None:
    _switch(sample_app, "sample", False)
    result = CliRunner().invoke(sample_app.cli, ["sample-hello", "dealer"])
    assert result.exit_code == 1
    assert "the sample subsystem is switched off" in result.output
    assert "carebiz plugins enable sample" in result.output
    assert "hello dealer" not in result.output
    _switch(sample_app, "sample", True)
    result = CliRunner().invoke(sample_app.cli, ["sample-hello", "dealer"])
    assert result.exit_code == 0 and result.output == "hello dealer\n"


def test_merges_done_while_a_plugin_is_off_are_reconciled_when_it_comes_on(
        sample_app: Any, sample_seeded: dict[str, Any]) -> None:
    from carebiz.crm.services.merge import merge_parties
    from tests.sample_plugin.models import SampleRecord

    ext = sample_app.extensions["carebiz"]
    branch = sample_seeded["branches"]["A"]
    with sample_app.app_context(), ext.session_factory() as sess:
        a, b, c = (make_customer(sess, name, branch) for name in ("Li A", "Li B", "Li C"))
        sess.add(SampleRecord(title="of a", branch_id=branch, customer_id=a.id))
        sess.commit()
        ids = a.id, b.id, c.id
    _switch(sample_app, "sample", False)
    with sample_app.app_context(), ext.session_factory() as sess:
        from carebiz.crm.models import Party

        merge_parties(sess, sess.get(Party, ids[1]), sess.get(Party, ids[0]))
        sess.commit()
        merge_parties(sess, sess.get(Party, ids[2]), sess.get(Party, ids[1]))  # a chain
        sess.commit()
        pending = sess.execute(select(PendingMerge.plugin, PendingMerge.keep_id,
                                      PendingMerge.remove_id).order_by(PendingMerge.id)).all()
        assert pending == [("sample", ids[1], ids[0]), ("sample", ids[2], ids[1])]
        assert sess.scalar(select(SampleRecord.customer_id)) == ids[0]  # not yet
    _switch(sample_app, "sample", True)
    with sample_app.app_context(), ext.session_factory() as sess:
        assert sess.scalar(select(SampleRecord.customer_id)) == ids[2]
        assert sess.scalars(select(PendingMerge)).all() == []
