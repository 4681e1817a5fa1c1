"""The car-wash check: a plugin written from docs/plugin-guide.md alone (tests/carwash_plugin),
loaded through real entry-point discovery, and every extension point it touches exercised once
through the platform: pages, API, panels, timeline, exports, documents, lookup, merge, CLI,
demo data, jobs, settings, events, hooks of its own and a capability."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carebiz import db, migrate
from carebiz.demo import load_demo
from carebiz.testing import login, seed, token_for
from tests.support.dists import FakeDists, manifest_module

PACKAGE = Path(__file__).parent / "carwash_plugin"
TICKETS = "/api/v1/wash/tickets"
VIN = "1M8GDM9AXKP042788"


@pytest.fixture(scope="session")
def wash() -> ModuleType:
    """The plugin package, imported once per session (its models join the shared Base)."""
    return importlib.import_module("tests.carwash_plugin.plugin")


@pytest.fixture
def app(wash: ModuleType, fake_dists: FakeDists, make_app: Callable[..., Flask]) -> Flask:
    fake_dists.dist("carebiz-wash", {"wash": "tests.carwash_plugin.plugin"}, "0.1.0")
    return make_app(CAREBIZ_PLUGINS="wash")


def bearer(app: Flask, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(app, username)}"}


def client(app: Flask, username: str, **headers: str) -> Any:
    c = app.test_client()
    c.environ_base.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    assert login(c, username).status_code == 302
    return c


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    """seed(): branches A and B, admin/manager/sales/viewer; plus a customer with a car."""
    data = seed(app)
    api, headers = app.test_client(), bearer(app, "manager")
    for name in ("Li Wei", "Li Wei (duplicate)"):
        resp = api.post("/api/v1/customers", json={"name": name, "kind": "person",
                                                   "branch_id": data["branches"]["A"]},
                        headers=headers)
        assert resp.status_code == 201, resp.get_json()
        data.setdefault("customers", []).append(resp.get_json()["id"])
    resp = api.post("/api/v1/vehicles", json={"vin": VIN, "plate": "粤B12345",
                                              "owner_id": data["customers"][0],
                                              "branch_id": data["branches"]["A"]},
                    headers=headers)
    assert resp.status_code == 201, resp.get_json()
    data["vehicle"] = resp.get_json()["id"]
    return data


def open_ticket(app: Flask, world: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"customer_id": world["customers"][0], "vehicle_id": world["vehicle"],
            "program": "premium", **extra}
    resp = app.test_client().post(TICKETS, json=body, headers=bearer(app, "manager"))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_discovered_migrated_and_owned(wash: ModuleType, fake_dists: FakeDists,
                                       make_app: Callable[..., Flask]) -> None:
    fake_dists.dist("carebiz-wash", {"wash": "tests.carwash_plugin.plugin"}, "0.1.0")
    app = make_app(schema=False, CAREBIZ_PLUGINS="wash")
    assert migrate.upgrade(app) == ["core", "wash"]
    assert migrate.current(app)["wash"] == ("wash_0001",)
    assert migrate.differences(app, "wash") == []
    assert app.extensions["carebiz"].table_owner["wash_ticket"] == "wash"


def test_api_opens_lists_finishes_and_names_bad_fields(app: Flask, world: dict[str, Any],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tests.carwash_plugin.plugin")
    ticket = open_ticket(app, world)
    assert ticket["plate"] == "粤B12345" and ticket["price"] == "60.00"  # setting 30, × 2
    api, headers = app.test_client(), bearer(app, "manager")
    assert api.get(TICKETS, headers=headers).get_json()["total"] == 1
    resp = api.post(TICKETS, json={"customer_id": 999, "program": "gold"}, headers=headers)
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"customer_id", "program", "plate",
                                              "branch_id"}
    assert all(isinstance(v, list) for v in resp.get_json()["errors"].values())

    resp = api.post(f"{TICKETS}/{ticket['id']}/finish", headers=headers)
    assert resp.status_code == 200 and resp.get_json()["status"] == "done"
    again = api.post(f"{TICKETS}/{ticket['id']}/finish", headers=headers)
    assert again.status_code == 422 and "status" in again.get_json()["errors"]
    assert f"wash ticket {ticket['id']} finished" in caplog.text  # own signal, after commit
    assert "(wash.done) added" in caplog.text  # a core signal (timeline.entry_added)

    timeline = api.get(f"/api/v1/customers/{world['customers'][0]}/timeline",
                       headers=headers).get_json()
    assert [e["kind"] for e in timeline["items"] if e["kind"] == "wash.done"] == ["wash.done"]


def test_pages_menu_record_label_and_permissions(app: Flask, world: dict[str, Any]) -> None:
    manager = client(app, "manager")
    assert b'data-menu="wash"' in manager.get("/").data
    resp = manager.post("/wash/", data={"customer_id": world["customers"][0],
                                        "vehicle_id": world["vehicle"], "program": "basic"})
    assert resp.status_code == 302, resp.data
    page = manager.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Wash ticket 1" in page and "粤B12345" in page
    assert manager.post("/wash/tickets/1/finish").status_code == 302
    assert "done" in manager.get("/wash/tickets/1").get_data(as_text=True)
    refused = manager.post("/wash/", data={"customer_id": 999, "program": "basic"})
    assert refused.status_code == 422 and b"Choose a customer you can see." in refused.data

    viewer = client(app, "viewer")
    assert b"wash-tickets" in viewer.get("/wash/").data
    assert viewer.post("/wash/", data={"program": "basic"}).status_code == 403
    headers = bearer(app, "viewer")
    assert app.test_client().post(TICKETS, json={}, headers=headers).status_code == 403
    assert app.test_client().get(TICKETS).status_code == 401


def test_row_filter_hides_stale_tickets_from_readers(app: Flask, world: dict[str, Any]) -> None:
    ticket = open_ticket(app, world)
    with app.app_context():
        from tests.carwash_plugin.models import WashTicket
        db.session().get(WashTicket, ticket["id"]).status = "stale"
        db.session().commit()
    api = app.test_client()
    assert api.get(TICKETS, headers=bearer(app, "viewer")).get_json()["total"] == 0
    assert api.get(TICKETS, headers=bearer(app, "manager")).get_json()["total"] == 1


def test_panels_on_the_360_and_vehicle_pages(app: Flask, world: dict[str, Any]) -> None:
    open_ticket(app, world)
    manager = client(app, "manager")
    for url in (f"/customers/{world['customers'][0]}", f"/vehicles/{world['vehicle']}"):
        page = manager.get(url).get_data(as_text=True)
        assert 'data-panel="wash"' in page and "Wash ticket 1" in page, url
    overview = app.test_client().get(f"/api/v1/customers/{world['customers'][0]}/overview",
                                     headers=bearer(app, "manager")).get_json()
    assert overview["sections"]["wash"] == {"washes": 1}


def test_export_document_report_and_query(app: Flask, world: dict[str, Any]) -> None:
    ticket = open_ticket(app, world)
    manager, headers = client(app, "manager"), bearer(app, "manager")
    csv = manager.get("/export/wash.tickets?format=csv", follow_redirects=True)
    assert csv.status_code == 200 and "粤B12345" in csv.get_data(as_text=True)
    doc = app.test_client().get(f"/api/v1/documents/wash.ticket/{ticket['id']}?format=html",
                                headers=headers)
    assert doc.status_code == 200 and "Wash ticket" in doc.get_data(as_text=True)
    assert manager.get(f"/documents/wash.ticket/{ticket['id']}").status_code == 200
    app.test_client().post(f"{TICKETS}/{ticket['id']}/finish", headers=headers)
    report = app.test_client().get("/api/v1/reports/wash.by_month?days=30", headers=headers)
    assert report.status_code == 200, report.get_json()
    assert report.get_json()["rows"]
    assert manager.get("/query/reports/wash.by_month").status_code == 200


def test_lookup_finds_the_card_and_merge_repoints(app: Flask, world: dict[str, Any]) -> None:
    keep, remove = world["customers"]
    open_ticket(app, world, customer_id=remove)
    result = app.test_cli_runner().invoke(args=["wash", "issue-card", str(remove), "w-77"])
    assert result.exit_code == 0 and "card W-77 issued" in result.output
    refused = app.test_cli_runner().invoke(args=["wash", "issue-card", "999", "w-77"])
    assert refused.exit_code == 1 and "No such customer." in refused.output
    assert "not in use" in refused.output  # W-77 is taken
    headers = bearer(app, "manager")
    found = app.test_client().get("/api/v1/lookup?q=W-77", headers=headers).get_json()
    assert [(i["customer"]["id"], i["reasons"]) for i in found["items"]] == [
        (remove, ["wash card W-77"])]

    resp = app.test_client().post("/api/v1/customers/merge", headers=headers,
                                  json={"keep_id": keep, "remove_id": remove})
    assert resp.status_code == 200, resp.get_json()
    with app.app_context():
        from tests.carwash_plugin.models import WashCard, WashTicket
        assert db.session().scalars(select(WashTicket.customer_id)).all() == [keep]
        assert db.session().scalars(select(WashCard.customer_id)).all() == [keep]


def test_demo_task_setting_and_capability(app: Flask, world: dict[str, Any]) -> None:
    load_demo(app)
    load_demo(app)  # safe twice
    with app.app_context():
        from tests.carwash_plugin.models import WashTicket
        [demo] = db.session().scalars(select(WashTicket)).all()
        host = app.extensions["carebiz"].host
        assert host.capability("wash.bay_booking").queue_length(db.session()) == 1
        assert [j.task for j in host.collect("scheduled_jobs") if j.name == "wash.nightly"] == [
            "wash.close_stale"]
        demo.created_at -= timedelta(days=2)  # left open since the day before yesterday
        db.session().commit()
    open_ticket(app, world)  # opened today: stays open
    job = app.test_client().post("/api/v1/jobs", json={"task": "wash.close_stale"},
                                 headers=bearer(app, "admin"))
    assert job.status_code in (201, 202), job.get_json()
    done = app.test_client().get(f"/api/v1/jobs/{job.get_json()['id']}",
                                 headers=bearer(app, "admin")).get_json()
    assert done["status"] == "finished" and done["result"] == {"closed": 1}


def test_own_hookspec_answered_by_another_plugin(wash: ModuleType, fake_dists: FakeDists,
                                                 make_app: Callable[..., Flask]) -> None:
    fake_dists.module("washdeal_plugin.plugin", manifest_module("washdeal", body="""
        from decimal import Decimal
        @hookimpl(optionalhook=True)
        def wash_discount(program, customer_id):
            return Decimal("5")
    """))
    fake_dists.dist("carebiz-wash", {"wash": "tests.carwash_plugin.plugin"}, "0.1.0")
    fake_dists.dist("carebiz-washdeal", {"washdeal": "washdeal_plugin.plugin"})
    app = make_app(CAREBIZ_PLUGINS="wash,washdeal")
    data = seed(app)
    with app.app_context():
        from tests.carwash_plugin import services
        assert services.price_of(db.session(), "basic", 1) == Decimal("25")
    assert data


def test_beside_every_plugin_and_switched_off(wash: ModuleType, fake_dists: FakeDists,
                                               make_app: Callable[..., Flask]) -> None:
    fake_dists.dist("carebiz-wash", {"wash": "tests.carwash_plugin.plugin"}, "0.1.0")
    app = make_app(schema=False)  # CAREBIZ_PLUGINS=all: every history migrated
    assert "wash" in migrate.upgrade(app)
    seed(app)
    assert client(app, "manager").get("/wash/").status_code == 200
    off = app.test_client().patch("/api/v1/plugins/wash", json={"enabled": False},
                                  headers=bearer(app, "admin"))
    assert off.status_code == 200, off.get_json()
    assert client(app, "manager").get("/wash/").status_code == 404
    refused = app.test_cli_runner().invoke(args=["wash", "issue-card", "1", "x"])
    assert refused.exit_code == 1 and "switched off" in refused.output


def test_chinese_translation(app: Flask, world: dict[str, Any]) -> None:
    page = client(app, "manager", **{"Accept-Language": "zh-CN"}).get("/wash/")
    assert "洗车" in page.get_data(as_text=True)


def test_the_plugin_is_small() -> None:
    """Non-blank lines of the plugin's Python, the generated migration not counted."""
    files = [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]
    lines = sum(1 for p in files for line in p.read_text().splitlines() if line.strip())
    assert lines < 400, lines
