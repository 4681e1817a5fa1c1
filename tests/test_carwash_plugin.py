"""The car-wash check: a plugin written from docs/plugin-guide.md alone (tests/carwash_plugin),
loaded through real entry-point discovery, and every extension point it touches exercised once
through the platform: pages, API, panels, timeline, exports, documents, lookup, merge, CLI,
demo data, jobs, settings, events, hooks of its own and a capability.

``app`` here replaces ``carebiz.testing``'s: the core and the wash plugin only, so ``seeded``,
``client_for`` and ``api_client`` work on it."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carebiz import db, migrate
from carebiz.demo import load_demo
from carebiz.testing import login, seed, token_for
from carebiz.testing.dists import FakeDists, manifest_module

PACKAGE = Path(__file__).parent / "carwash_plugin"
TICKETS = "/api/v1/wash/tickets"
VIN = "1M8GDM9AXKP042788"
Clients = Callable[[str], Any]


@pytest.fixture(scope="session")
def wash() -> ModuleType:
    """The plugin package, imported once per session (its models join the shared Base)."""
    return importlib.import_module("tests.carwash_plugin.plugin")


@pytest.fixture
def installed(wash: ModuleType, fake_dists: FakeDists) -> FakeDists:
    """``carebiz-wash`` installed for this test only, found through its entry point."""
    fake_dists.dist("carebiz-wash", {"wash": "tests.carwash_plugin.plugin"}, "0.1.0")
    return fake_dists


@pytest.fixture
def app(installed: FakeDists, make_app: Callable[..., Flask]) -> Flask:
    return make_app(CAREBIZ_PLUGINS="wash")


@pytest.fixture
def world(seeded: dict[str, Any], api_client: Clients) -> dict[str, Any]:
    """``seeded`` (branches A and B; admin, manager, sales, viewer), two customers in A, a car."""
    api = api_client("manager")
    for name in ("Li Wei", "Li Wei (duplicate)"):
        resp = api.post("/api/v1/customers", json={"name": name, "kind": "person",
                                                   "branch_id": seeded["branches"]["A"]})
        assert resp.status_code == 201, resp.get_json()
        seeded.setdefault("customers", []).append(resp.get_json()["id"])
    resp = api.post("/api/v1/vehicles", json={"vin": VIN, "plate": "粤B12345",
                                              "owner_id": seeded["customers"][0],
                                              "branch_id": seeded["branches"]["A"]})
    assert resp.status_code == 201, resp.get_json()
    seeded["vehicle"] = resp.get_json()["id"]
    return seeded


def open_ticket(api: Any, world: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"customer_id": world["customers"][0], "vehicle_id": world["vehicle"],
            "program": "premium", **extra}
    resp = api.post(TICKETS, json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_discovered_migrated_and_owned(installed: FakeDists,
                                       make_app: Callable[..., Flask]) -> None:
    app = make_app(schema=False, CAREBIZ_PLUGINS="wash")
    assert migrate.upgrade(app) == ["core", "wash"]
    assert migrate.current(app)["wash"] == ("wash_0001",)
    assert migrate.differences(app, "wash") == []
    assert app.extensions["carebiz"].table_owner["wash_ticket"] == "wash"


def test_api_opens_and_lists_the_page_finishes(world: dict[str, Any], api_client: Clients,
                                               client_for: Clients,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="carebiz")
    api = api_client("manager")
    ticket = open_ticket(api, world)
    assert ticket["plate"] == "粤B12345" and ticket["price"] == "60.00"  # setting 30, × 2
    assert api.get(TICKETS).get_json()["total"] == 1
    too_big = api.post(TICKETS, json={"customer_id": 2**40, "program": "basic", "plate": "X"})
    assert too_big.status_code == 422 and "customer_id" in too_big.get_json()["errors"]
    resp = api.post(TICKETS, json={"customer_id": 999, "program": "gold"})
    assert resp.status_code == 422 and resp.get_json()["status"] == "validation_failed"
    assert resp.get_json()["errors"] == {
        "customer_id": ["Choose a customer you can see."], "program": ["Choose basic or premium."],
        "plate": ["Give the plate."], "branch_id": ["Choose a branch."]}

    manager = client_for("manager")
    assert manager.post(f"/wash/tickets/{ticket['id']}/finish").status_code == 302
    assert api.get(TICKETS, query_string={"status": "done"}).get_json()["total"] == 1
    again = manager.post(f"/wash/tickets/{ticket['id']}/finish", follow_redirects=True)
    assert b"This ticket is already closed." in again.data  # saving() flashed the refusal
    assert f"wash saw [('party_id', {world['customers'][0]}), ('price', '60.00'), " \
           f"('ticket_id', {ticket['id']})]" in caplog.text  # own signal, after commit
    assert "('kind', 'wash.done')" in caplog.text  # a core signal (timeline.entry_added)

    timeline = api.get(f"/api/v1/customers/{world['customers'][0]}/timeline").get_json()
    assert [e["kind"] for e in timeline["items"] if e["kind"] == "wash.done"] == ["wash.done"]


def test_pages_menu_record_label_and_permissions(world: dict[str, Any], client_for: Clients,
                                                 api_client: Clients, app: Flask) -> None:
    manager = client_for("manager")
    assert b'data-menu="wash"' in manager.get("/").data
    resp = manager.post("/wash/", data={"customer_id": world["customers"][0],
                                        "vehicle_id": world["vehicle"], "program": "basic"})
    assert resp.status_code == 302, resp.data
    page = manager.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Wash ticket 1" in page and "粤B12345" in page
    assert manager.post("/wash/tickets/1/finish").status_code == 302
    assert "done" in manager.get("/wash/tickets/1").get_data(as_text=True)
    overview = manager.get(f"/customers/{world['customers'][0]}").get_data(as_text=True)
    # the panel and the timeline entry both link to the ticket by its record page's label
    assert overview.count('<a href="/wash/tickets/1">Wash ticket 1</a>') == 2
    refused = manager.post("/wash/", data={"customer_id": 999, "program": "basic"})
    assert refused.status_code == 422 and b"Choose a customer you can see." in refused.data

    viewer = client_for("viewer")
    assert b"wash-tickets" in viewer.get("/wash/").data
    assert viewer.post("/wash/", data={"program": "basic"}).status_code == 403
    assert api_client("viewer").post(TICKETS, json={}).status_code == 403
    assert app.test_client().get(TICKETS).status_code == 401


def test_one_list_for_page_api_and_export(world: dict[str, Any], client_for: Clients,
                                         api_client: Clients) -> None:
    """The list definition: the same arguments give the same rows everywhere."""
    api, manager = api_client("manager"), client_for("manager")
    done = open_ticket(api, world)["id"]
    open_ticket(api, world, plate="沪A00001")
    manager.post(f"/wash/tickets/{done}/finish")
    args = {"status": "done", "sort": "plate"}
    assert [t["id"] for t in api.get(TICKETS, query_string=args).get_json()["items"]] == [done]
    page = manager.get("/wash/", query_string=args).get_data(as_text=True)
    assert f'data-ticket="{done}"' in page and "沪A00001" not in page
    for url in ("/wash/", TICKETS, "/export/wash.tickets"):
        client = api if url == TICKETS else manager
        csv = client.get(url, query_string={**args, "format": "csv"}, follow_redirects=True)
        rows = csv.get_data(as_text=True).splitlines()
        assert rows[-1].startswith(f"{done},粤B12345,premium,60.00,done"), (url, rows)
        assert not [r for r in rows if "沪A00001" in r], url
    bad = api.get(TICKETS, query_string={"status": "lost", "sort": "price"})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"status", "sort"}
    assert manager.get("/wash/", query_string={"status": "lost"}).status_code == 422


def test_row_filter_hides_stale_tickets_from_readers(app: Flask, world: dict[str, Any],
                                                     api_client: Clients) -> None:
    ticket = open_ticket(api_client("manager"), world)
    with app.app_context():
        from tests.carwash_plugin.models import WashTicket
        db.session().get(WashTicket, ticket["id"]).status = "stale"
        db.session().commit()
    assert api_client("viewer").get(TICKETS).get_json()["total"] == 0
    assert api_client("manager").get(TICKETS).get_json()["total"] == 1


def test_panels_on_the_360_and_vehicle_pages(world: dict[str, Any], client_for: Clients,
                                             api_client: Clients) -> None:
    open_ticket(api_client("manager"), world)
    manager = client_for("manager")
    for url in (f"/customers/{world['customers'][0]}", f"/vehicles/{world['vehicle']}"):
        page = manager.get(url).get_data(as_text=True)
        assert 'data-panel="wash"' in page and "Wash ticket 1" in page, url
    overview = api_client("manager").get(f"/api/v1/customers/{world['customers'][0]}/overview")
    assert overview.get_json()["sections"]["wash"] == {"washes": 1}


def test_export_document_report_and_query(world: dict[str, Any], client_for: Clients,
                                          api_client: Clients) -> None:
    api, manager = api_client("manager"), client_for("manager")
    ticket = open_ticket(api, world)
    csv = manager.get("/export/wash.tickets?format=csv", follow_redirects=True)
    assert csv.status_code == 200 and "粤B12345" in csv.get_data(as_text=True)
    doc = api.get(f"/api/v1/documents/wash.ticket/{ticket['id']}?format=html")
    assert doc.status_code == 200 and f"Wash ticket {ticket['id']}" in doc.get_data(as_text=True)
    assert "CN¥60.00" in doc.get_data(as_text=True) and "粤B12345" in doc.get_data(as_text=True)
    zh = api.get(f"/api/v1/documents/wash.ticket/{ticket['id']}?format=docx",
                 headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 200 and zh.data[:2] == b"PK"  # laid out from DocumentData keys
    assert manager.get(f"/documents/wash.ticket/{ticket['id']}").status_code == 200
    manager.post(f"/wash/tickets/{ticket['id']}/finish")
    report = api.get("/api/v1/reports/wash.by_month?days=30")
    assert report.status_code == 200, report.get_json()
    assert [r["count"] for r in report.get_json()["rows"]] == [1]
    assert manager.get("/query/reports/wash.by_month").status_code == 200


def test_cli_lookup_and_merge(app: Flask, world: dict[str, Any], api_client: Clients) -> None:
    keep, remove = world["customers"]
    api = api_client("manager")
    open_ticket(api, world, customer_id=remove)
    result = app.test_cli_runner().invoke(args=["wash", "issue-card", str(remove), "w-77"])
    assert result.exit_code == 0 and "card W-77 issued" in result.output
    refused = app.test_cli_runner().invoke(args=["wash", "issue-card", "999", "w-77"])
    assert refused.exit_code == 1 and "No such customer." in refused.output
    assert "not in use" in refused.output  # W-77 is taken
    found = api.get("/api/v1/lookup?q=W-77").get_json()
    assert [(i["customer"]["id"], i["reasons"]) for i in found["items"]] == [
        (remove, ["wash card W-77"])]

    other = api.post("/api/v1/customers", json={"name": "Zhang", "kind": "person",
                                                "branch_id": world["branches"]["B"]})
    app.test_cli_runner().invoke(args=["wash", "issue-card", str(other.get_json()["id"]), "B-1"])
    assert api.get("/api/v1/lookup?q=B-1").get_json()["total"] == 1
    assert api_client("sales").get("/api/v1/lookup?q=B-1").get_json()["items"] == []  # branch A

    resp = api.post("/api/v1/customers/merge", json={"keep_id": keep, "remove_id": remove})
    assert resp.status_code == 200, resp.get_json()
    with app.app_context():
        from tests.carwash_plugin.models import WashCard, WashTicket
        assert db.session().scalars(select(WashTicket.customer_id)).all() == [keep]
        assert db.session().scalars(select(WashCard.customer_id).where(
            WashCard.number == "W-77")).all() == [keep]


def test_demo_data_on_a_fresh_install(app: Flask) -> None:
    """The core's demo customers are not committed yet when the plugin's demo runs."""
    load_demo(app)
    load_demo(app)  # safe twice
    with app.app_context():
        from tests.carwash_plugin.models import WashTicket
        assert [t.plate for t in db.session().scalars(select(WashTicket))] == ["DEMO-1"]


def test_task_scheduled_job_and_capability(app: Flask, world: dict[str, Any],
                                           api_client: Clients) -> None:
    admin = api_client("admin")
    stale = open_ticket(admin, world)["id"]
    with app.app_context():
        from tests.carwash_plugin.models import WashTicket
        db.session().get(WashTicket, stale).created_at -= timedelta(days=2)
        db.session().commit()
    open_ticket(admin, world)  # opened today: stays open
    with app.app_context():
        host = app.extensions["carebiz"].host
        assert host.capability("wash.bay_booking").queue_length(db.session()) == 2
        assert [j.task for j in host.collect("scheduled_jobs") if j.name == "wash.nightly"] == [
            "wash.close_stale"]
    job = admin.post("/api/v1/jobs", json={"task": "wash.close_stale"})
    assert job.status_code in (201, 202), job.get_json()
    done = admin.get(f"/api/v1/jobs/{job.get_json()['id']}").get_json()
    assert done["status"] == "finished" and done["result"] == {"closed": 1}
    assert admin.get(TICKETS, query_string={"status": "stale"}).get_json()["total"] == 1


def test_own_hookspec_answered_by_another_plugin(installed: FakeDists,
                                                 make_app: Callable[..., Flask]) -> None:
    """washdeal implements wash's hook without importing it: a basic wash costs 30 - 5."""
    installed.module("washdeal_plugin.plugin", manifest_module("washdeal", body="""
        from decimal import Decimal
        @hookimpl(optionalhook=True)
        def wash_discount(program, customer_id):
            return Decimal("5")
    """))
    installed.dist("carebiz-washdeal", {"washdeal": "washdeal_plugin.plugin"})
    app = make_app(CAREBIZ_PLUGINS="wash,washdeal")
    seed(app)
    with app.app_context():
        from tests.carwash_plugin import services
        assert str(services.price_of(db.session(), "basic", 1)) == "25"


def test_beside_every_plugin_and_switched_off(installed: FakeDists,
                                               make_app: Callable[..., Flask]) -> None:
    app = make_app(schema=False)  # CAREBIZ_PLUGINS=all: every history migrated
    assert "wash" in migrate.upgrade(app)
    seed(app)
    manager = app.test_client()
    login(manager, "manager")
    assert manager.get("/wash/").status_code == 200
    off = app.test_client().patch("/api/v1/plugins/wash", json={"enabled": False}, headers={
        "Authorization": f"Bearer {token_for(app, 'admin')}"})
    assert off.status_code == 200, off.get_json()
    assert manager.get("/wash/").status_code == 404
    refused = app.test_cli_runner().invoke(args=["wash", "issue-card", "1", "x"])
    assert refused.exit_code == 1 and "switched off" in refused.output


def test_chinese_translation(world: dict[str, Any], client_for: Clients) -> None:
    manager = client_for("manager")
    manager.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    page = manager.get("/wash/").get_data(as_text=True)
    assert "洗车" in page and "开洗车单" in page


def test_the_plugin_is_small() -> None:
    """Non-blank lines of the plugin's Python, the generated migration not counted."""
    files = [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]
    lines = sum(1 for p in files for line in p.read_text().splitlines() if line.strip())
    assert lines < 400, lines
