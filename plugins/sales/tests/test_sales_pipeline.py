"""Opportunities and the pipeline: the services without HTTP (stages per branch and make,
probability and weighted value, transitions, lost reasons, versions, audit, timeline,
signals, a booking winning the opportunity), then the API contract and the pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.concurrency import VersionConflict
from carebiz.crm.models import TimelineEntry
from carebiz.errors import ValidationFailed
from carebiz.models import AuditEntry, User
from carebiz.toolkit.transitions import IllegalTransition
from carebiz_plugins.sales import signals
from carebiz_plugins.sales.models import SalesOpportunity
from carebiz_plugins.sales.services import opportunities as rules

URL = "/api/v1/sales/opportunities"


def user(session: Session, name: str) -> User:
    return session.scalar(select(User).where(User.username == name))


def opportunity(session: Session, customer_id: int, who: str = "sales",
                **changes: Any) -> SalesOpportunity:
    opp = rules.create_opportunity(session, {
        "customer_id": customer_id, "brand": "Toyota", "model": "Camry 2.0",
        "expected_value": "180000", "currency": "CNY", **changes}, user=user(session, who))
    session.commit()
    return opp


@pytest.fixture
def caught() -> Any:
    seen: list[tuple[str, dict[str, Any]]] = []
    handlers = []
    for sig in (signals.opportunity_won, signals.opportunity_lost):
        def handler(sender: Any, _name: str = sig.name, **kwargs: Any) -> None:
            seen.append((_name, kwargs))
        sig.connect(handler, weak=False)
        handlers.append((sig, handler))
    yield seen
    for sig, handler in handlers:
        sig.disconnect(handler)


# -- services --------------------------------------------------------------------------------

def test_an_opportunity_opens_in_the_first_stage_with_its_probability(
        session: Session, people: dict[str, int]) -> None:
    opp = opportunity(session, people["alice"])
    assert (opp.stage, opp.status, opp.probability) == ("first_contact", "open", 10)
    assert opp.weighted_value == Decimal("18000.00")
    assert opp.salesperson_id == user(session, "sales").id
    entry = session.scalar(select(TimelineEntry).where(
        TimelineEntry.party_id == people["alice"], TimelineEntry.kind == "sales.opportunity"))
    assert entry is not None and str(entry.ref_id) == str(opp.id)


def test_moves_follow_the_pipeline_and_closed_is_terminal(
        session: Session, people: dict[str, int], caught: list[Any]) -> None:
    opp = opportunity(session, people["alice"])
    sales = user(session, "sales")
    rules.move(session, opp, "quotation", user=sales, expected_version=opp.version)
    session.commit()
    assert (opp.stage, opp.probability, opp.weighted_value) == (
        "quotation", 60, Decimal("108000.00"))
    with pytest.raises(ValidationFailed) as refused:
        rules.move(session, opp, "lost", user=sales)
    assert "lost_reason" in refused.value.errors
    session.rollback()
    with pytest.raises(ValidationFailed):
        rules.move(session, opp, "lost", user=sales, lost_reason="no such reason")
    session.rollback()
    rules.move(session, opp, "lost", user=sales, lost_reason="price")
    session.commit()
    assert (opp.status, opp.probability, opp.weighted_value, opp.lost_reason) == (
        "lost", 0, Decimal("0.00"), "price")
    assert opp.closed_at is not None
    with pytest.raises(IllegalTransition) as illegal:
        rules.move(session, opp, "negotiation", user=sales)
    assert illegal.value.details["allowed"] == [] and illegal.value.code == "lost"
    session.rollback()
    with pytest.raises(IllegalTransition):
        rules.move(session, opp, "no_such_stage", user=sales)
    session.rollback()
    # sent once, after the commit; the refused attempts (rolled back) sent nothing
    assert [name for name, _kw in caught] == ["sales.opportunity.lost"]
    audit = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "sales_opportunity")).all()
    assert len(audit) == 3  # opened, moved, lost


def test_won_and_lost_signals_are_sent_after_commit(
        app: Flask, api_client: Any, people: dict[str, int], caught: list[Any]) -> None:
    api = api_client("sales")
    a = api.post(URL, json={"customer_id": people["alice"], "model": "RAV4",
                            "expected_value": "200000"}).get_json()
    b = api.post(URL, json={"customer_id": people["alice"], "model": "Camry",
                            "expected_value": "150000"}).get_json()
    assert api.post(f"{URL}/{a['id']}/won", json={}).status_code == 200
    assert api.post(f"{URL}/{b['id']}/lost", json={"lost_reason": "not_now"}).status_code == 200
    assert [name for name, _kw in caught] == ["sales.opportunity.won", "sales.opportunity.lost"]
    assert caught[0][1]["expected_value"] == Decimal("200000.00")
    assert caught[1][1]["lost_reason"] == "not_now"


def test_won_and_lost_routes_check_the_version_and_the_reason(
        app: Flask, api_client: Any, people: dict[str, int]) -> None:
    api = api_client("sales")
    opp = api.post(URL, json={"customer_id": people["alice"], "model": "RAV4"}).get_json()
    stale = api.post(f"{URL}/{opp['id']}/won", json={"version": opp["version"] + 5})
    assert stale.status_code == 409
    lost = api.post(f"{URL}/{opp['id']}/lost", json={"version": opp["version"]})
    assert lost.status_code == 422 and "lost_reason" in lost.get_json()["errors"]
    won = api.post(f"{URL}/{opp['id']}/won", json={"version": opp["version"]})
    assert won.status_code == 200 and won.get_json()["status"] == "won"
    again = api.post(f"{URL}/{opp['id']}/lost", json={"lost_reason": "price"})
    assert again.status_code == 409 and again.get_json()["status"] == "won"


def test_a_manual_probability_stays_until_cleared(session: Session,
                                                  people: dict[str, int]) -> None:
    opp = opportunity(session, people["alice"], probability=35)
    assert (opp.probability, opp.probability_manual) == (35, True)
    rules.move(session, opp, "test_drive", user=None)
    assert opp.probability == 35
    rules.update_opportunity(session, opp, {"probability": None}, user=None)
    assert (opp.probability, opp.probability_manual, opp.weighted_value) == (
        40, False, Decimal("72000.00"))
    with pytest.raises(ValidationFailed):
        rules.update_opportunity(session, opp, {"probability": 120}, user=None)


def test_a_stale_edit_is_a_conflict(session: Session, people: dict[str, int]) -> None:
    opp = opportunity(session, people["alice"])
    seen = opp.version
    rules.update_opportunity(session, opp, {"expected_value": "170000"}, user=None,
                             expected_version=seen)
    session.commit()
    with pytest.raises(VersionConflict):
        rules.update_opportunity(session, opp, {"expected_value": "160000"}, user=None,
                                 expected_version=seen)
    session.rollback()
    with pytest.raises(VersionConflict):
        rules.move(session, opp, "quotation", user=None, expected_version=seen)


def test_stages_per_branch_and_brand_most_specific_wins(
        session: Session, seeded: dict[str, Any], people: dict[str, int]) -> None:
    a = seeded["branches"]["A"]
    byd = [{"code": "lead", "label": "线索", "probability": 5},
           {"code": "drive", "label": "试驾", "probability": 50},
           {"code": "deal", "label": "成交", "probability": 100, "kind": "won"},
           {"code": "gone", "label": "战败", "probability": 0, "kind": "lost"}]
    rules.set_stages(session, None, "BYD", byd, user=None)
    rules.set_stages(session, a, "BYD", byd[1:], user=None)
    session.commit()
    assert [s.code for s in rules.stages_for(session, a, "byd")] == ["drive", "deal", "gone"]
    assert [s.code for s in rules.stages_for(session, seeded["branches"]["B"], "BYD")][0] == \
        "lead"
    assert rules.stages_for(session, a, "Toyota")[0].code == "first_contact"
    opp = opportunity(session, people["alice"], brand="BYD", model="汉 EV")
    assert (opp.stage, opp.probability) == ("drive", 50)
    rules.close(session, opp, "won", user=None)
    assert (opp.stage, opp.status) == ("deal", "won")
    with pytest.raises(ValidationFailed) as bad:
        rules.set_stages(session, a, "", [{"code": "only", "probability": 10}], user=None)
    assert "stages" in bad.value.errors
    session.rollback()
    rules.set_stages(session, a, "BYD", [], user=None)  # removed: the brand's set applies
    assert rules.stages_for(session, a, "BYD")[0].code == "lead"


def test_accepting_a_quotation_wins_the_open_opportunity(
        app: Flask, api_client: Any, people: dict[str, int], caught: list[Any]) -> None:
    api = api_client("sales")
    camry = api.post(URL, json={"customer_id": people["alice"], "brand": "Toyota",
                                "model": "Camry", "expected_value": "150000"}).get_json()
    rav4 = api.post(URL, json={"customer_id": people["alice"], "brand": "Toyota",
                               "model": "RAV4", "expected_value": "200000"}).get_json()
    q = api.post("/api/v1/sales/quotations", json={
        "customer_id": people["alice"], "make": "Toyota", "model": "Camry",
        "lines": [{"kind": "vehicle", "description": "Camry 2.0G", "amount": "150000"}],
        "currency": "CNY"}).get_json()
    accepted = api.post(f"/api/v1/sales/quotations/{q['id']}/accept", json={})
    assert accepted.status_code == 201, accepted.get_json()
    won = api.get(f"{URL}/{camry['id']}").get_json()
    assert (won["status"], won["stage"], won["order_id"]) == (
        "won", "won", accepted.get_json()["order_id"])
    assert api.get(f"{URL}/{rav4['id']}").get_json()["status"] == "open"
    assert [n for n, _kw in caught] == ["sales.opportunity.won"]


# -- API -------------------------------------------------------------------------------------

def test_api_create_list_get_patch_move(app: Flask, api_client: Any,
                                        people: dict[str, int]) -> None:
    api = api_client("sales")
    made = api.post(URL, json={"customer_id": people["alice"], "brand": "Toyota",
                               "model": "Camry 2.0", "expected_value": "180000.50",
                               "currency": "cny", "expected_close_on": "2027-01-15"})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert (body["stage"], body["probability"], body["weighted_value"], body["currency"]) == (
        "first_contact", 10, "18000.05", "CNY")
    assert body["customer_name"] == "Alice Wang" and "quotation" in body["allowed"]
    listed = api.get(URL, query_string={"stage": "first_contact"}).get_json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == body["id"]
    oid = body["id"]
    patched = api.patch(f"{URL}/{oid}", json={"expected_value": "190000", "version": 1})
    assert patched.status_code == 200 and patched.get_json()["version"] == 2
    stale = api.patch(f"{URL}/{oid}", json={"expected_value": "1", "version": 1})
    assert stale.status_code == 409
    moved = api.post(f"{URL}/{oid}/move", json={"stage": "negotiation", "version": 2})
    assert moved.status_code == 200 and moved.get_json()["probability"] == 80
    no_reason = api.post(f"{URL}/{oid}/move", json={"stage": "lost"})
    assert no_reason.status_code == 422 and "lost_reason" in no_reason.get_json()["errors"]
    assert api.post(f"{URL}/{oid}/won", json={}).status_code == 200
    illegal = api.post(f"{URL}/{oid}/move", json={"stage": "quotation"})
    assert illegal.status_code == 409
    assert (illegal.get_json()["status"], illegal.get_json()["allowed"]) == ("won", [])
    bad = api.post(URL, json={"customer_id": people["alice"], "model": "X",
                              "expected_value": "-5", "currency": "EURO"})
    assert bad.status_code == 422 and {"expected_value", "currency"} <= set(
        bad.get_json()["errors"])


def test_another_branch_is_hidden(app: Flask, api_client: Any, people: dict[str, int]) -> None:
    manager, sales = api_client("manager"), api_client("sales")
    bob = manager.post(URL, json={"customer_id": people["bob"], "model": "Camry",
                                  "branch_id": 2, "expected_value": "100000"})
    assert bob.status_code == 201, bob.get_json()
    assert sales.get(f"{URL}/{bob.get_json()['id']}").status_code == 404
    assert sales.get(URL).get_json()["total"] == 0
    refused = sales.post(URL, json={"customer_id": people["bob"], "model": "Camry"})
    assert refused.status_code == 422 and "customer_id" in refused.get_json()["errors"]
    assert sales.get("/api/v1/sales/pipeline", query_string={"branch": 2}).status_code == 422
    summary = sales.get("/api/v1/sales/pipeline").get_json()
    assert summary["open"]["count"] == 0


def test_pipeline_summary_counts_values_and_weights(app: Flask, api_client: Any,
                                                    people: dict[str, int]) -> None:
    api = api_client("sales")
    for value, stage in (("100000", "quotation"), ("200000", "quotation"),
                         ("50000", "first_contact")):
        made = api.post(URL, json={"customer_id": people["alice"], "model": "Camry",
                                   "expected_value": value}).get_json()
        if stage != "first_contact":
            api.post(f"{URL}/{made['id']}/move", json={"stage": stage})
    summary = api.get("/api/v1/sales/pipeline", query_string={"branch": 1}).get_json()
    by_stage = {s["stage"]: s for s in summary["stages"]}
    assert [s["stage"] for s in summary["stages"]] == list(rules.DEFAULT_STAGES)
    # the API writes decimals without trailing zeros (carebiz.api.common.DecimalString)
    assert (by_stage["quotation"]["count"], by_stage["quotation"]["value"],
            by_stage["quotation"]["weighted_value"]) == (2, "300000", "180000")
    assert by_stage["first_contact"]["weighted_value"] == "5000"
    assert summary["open"] == {"count": 3, "value": "350000", "weighted_value": "185000"}
    stages = api.get("/api/v1/sales/pipeline/stages").get_json()["stages"]
    assert stages[0] == {"code": "first_contact", "label": "First contact",
                         "labels": {"en": "", "zh_Hans": ""}, "probability": 10,
                         "kind": "open"}
    assert api.put("/api/v1/sales/pipeline/stages", json={"stages": []}).status_code == 403


def test_a_manager_sets_up_a_brands_pipeline(app: Flask, api_client: Any) -> None:
    api = api_client("manager")
    resp = api.put("/api/v1/sales/pipeline/stages", query_string={"brand": "BYD"}, json={
        "stages": [{"code": "lead", "probability": 10}, {"code": "deal", "kind": "won",
                                                         "probability": 100},
                   {"code": "gone", "kind": "lost"}]})
    assert resp.status_code == 200, resp.get_json()
    assert [s["code"] for s in resp.get_json()["stages"]] == ["lead", "deal", "gone"]
    bad = api.put("/api/v1/sales/pipeline/stages", json={"stages": [{"code": "x"}]})
    assert bad.status_code == 422


# -- pages -----------------------------------------------------------------------------------

def test_the_board_shows_cards_and_moves_one_without_javascript(
        app: Flask, client_for: Any, api_client: Any, people: dict[str, int]) -> None:
    made = api_client("sales").post(URL, json={
        "customer_id": people["alice"], "brand": "Toyota", "model": "Camry 2.0",
        "expected_value": "180000"}).get_json()
    web = client_for("sales")
    board = web.get("/sales/pipeline")
    assert board.status_code == 200
    html = board.get_data(as_text=True)
    assert f'data-card="{made["id"]}"' in html and "Alice Wang" in html
    assert 'data-stage="negotiation"' in html and "pipeline.js" in html
    moved = web.post(f"/sales/pipeline/{made['id']}/move",
                     data={"stage": "test_drive", "version": "1", "next": "/sales/pipeline"})
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/sales/pipeline")
    after = api_client("sales").get(f"{URL}/{made['id']}").get_json()
    assert (after["stage"], after["version"]) == ("test_drive", 2)
    stale = web.post(f"/sales/pipeline/{made['id']}/move",
                     data={"stage": "quotation", "version": "1"}, follow_redirects=True)
    assert stale.status_code == 200
    assert api_client("sales").get(f"{URL}/{made['id']}").get_json()["stage"] == "test_drive"
    for url in (f"/sales/opportunities/{made['id']}", "/sales/opportunities",
                "/sales/pipeline?branch_id=1&brand=Toyota&salesperson_id=3"):
        assert web.get(url).status_code == 200, url
    js = web.get("/sales/pipeline-static/pipeline.js")
    assert js.status_code == 200


def test_the_opportunity_form_opens_one(app: Flask, client_for: Any,
                                        people: dict[str, int]) -> None:
    web = client_for("sales")
    page = web.get(f"/sales/opportunities?customer_id={people['alice']}")
    assert page.status_code == 200
    resp = web.post("/sales/opportunities", data={
        "customer_id": people["alice"], "brand": "丰田", "model": "凯美瑞",
        "expected_value": "199800", "currency": "CNY"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    bad = web.post("/sales/opportunities", data={"customer_id": people["bob"], "model": "X"})
    assert bad.status_code == 422


def test_demo_opportunities_fill_the_stages(app: Flask, session: Session,
                                            seeded: dict[str, Any]) -> None:
    from carebiz.models import Branch
    from carebiz_plugins.sales import demo

    branches = list(session.scalars(select(Branch).order_by(Branch.id)))
    users = {u.username: u for u in session.scalars(select(User))}
    users["salesperson"] = users["sales"]
    demo.load(session, branches, users)
    session.commit()
    rows = session.scalars(select(SalesOpportunity)).all()
    assert len(rows) == 12
    assert {o.stage for o in rows} == set(rules.DEFAULT_STAGES)
    demo.load(session, branches, users)
    session.commit()
    assert len(session.scalars(select(SalesOpportunity)).all()) == 12
