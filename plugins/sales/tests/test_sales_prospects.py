"""Prospects and return visits: the services without HTTP, then the API contract."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.crm.models import Party, TimelineEntry
from carebiz.errors import Conflict, Forbidden, ValidationFailed
from carebiz.models import AuditEntry, User
from carebiz.services import settings
from carebiz.testing import make_customer, make_user
from carebiz.toolkit.transitions import IllegalTransition
from carebiz_plugins.sales.models import SalesProspect, SalesReturnVisit
from carebiz_plugins.sales.services import prospects as rules
from carebiz_plugins.sales.services import visits

WALK_IN = {"name": "王伟", "phone": "138 0013 8000", "source": "walk_in",
           "models_of_interest": ["Camry 2.0", "RAV4"], "points_of_interest": ["price", "safety"]}


def user(session: Session, name: str) -> User:
    return session.scalar(select(User).where(User.username == name))


def register(session: Session, who: str = "sales", **changes: Any) -> SalesProspect:
    prospect, _created = rules.register_prospect(session, {**WALK_IN, **changes},
                                                 user=user(session, who))
    session.commit()
    return prospect


# -- services --------------------------------------------------------------------------------

def test_registering_makes_a_prospect_customer_and_a_timeline_entry(
        session: Session, seeded: dict[str, Any]) -> None:
    prospect, created = rules.register_prospect(session, WALK_IN, user=user(session, "sales"))
    session.commit()
    assert created and prospect.status == "consulting"
    customer = session.get(Party, prospect.customer_id)
    assert customer.roles == ["prospect"] and customer.phone_numbers == ["+8613800138000"]
    assert customer.branch_id == seeded["branches"]["A"]
    assert prospect.salesperson_id == seeded["users"]["sales"]
    assert prospect.points_of_interest == ["price", "safety"]
    assert prospect.models_of_interest == ["Camry 2.0", "RAV4"]
    kinds = session.scalars(select(TimelineEntry.kind).where(
        TimelineEntry.party_id == customer.id)).all()
    assert "sales.prospect" in kinds
    assert session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "sales_prospect"))


def test_the_same_phone_finds_the_existing_customer(session: Session,
                                                    seeded: dict[str, Any]) -> None:
    old = make_customer(session, "Li Na", seeded["branches"]["A"])
    old.phones.clear()
    session.flush()
    from carebiz.crm.services.parties import update_party
    update_party(session, old, {"phones": ["+86 138-0013-8000"]})
    session.commit()
    prospect, created = rules.register_prospect(session, {**WALK_IN, "name": ""},
                                                user=user(session, "sales"))
    session.commit()
    assert not created and prospect.customer_id == old.id
    assert set(session.get(Party, old.id).roles) == {"customer", "prospect"}
    assert session.scalar(select(Party).where(Party.name == "王伟")) is None
    # a second open prospect for the same customer: follow up the first instead
    with pytest.raises(Conflict) as info:
        rules.register_prospect(session, WALK_IN, user=user(session, "sales"))
    assert info.value.details["prospect_id"] == prospect.id


def test_a_phone_of_another_branch_is_refused_without_naming_anyone(
        session: Session, seeded: dict[str, Any]) -> None:
    register(session, "manager", branch_id=seeded["branches"]["B"], name="张敏")
    session.rollback()
    with pytest.raises(Conflict) as info:
        rules.register_prospect(session, WALK_IN, user=user(session, "sales"))
    assert "张敏" not in info.value.message and "张敏" not in str(info.value.errors)


def test_every_broken_rule_is_named(session: Session, seeded: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as info:
        rules.register_prospect(session, {"name": "", "phone": "12", "source": "tv",
                                          "points_of_interest": ["colour"], "budget": "-1",
                                          "branch_id": seeded["branches"]["B"]},
                                user=user(session, "sales"))
    assert set(info.value.errors) >= {"phone", "source", "points_of_interest", "budget",
                                      "branch_id"}


def test_points_of_interest_are_configured_per_business(session: Session,
                                                        seeded: dict[str, Any]) -> None:
    host = session.info["carebiz.host"]
    settings.set_value(session, host, "sales.points_of_interest", "price, 外观")
    session.commit()
    prospect = register(session, points_of_interest=["外观"])
    assert prospect.points_of_interest == ["外观"]
    with pytest.raises(ValidationFailed):
        rules.register_prospect(session, {**WALK_IN, "phone": "13900139000",
                                          "points_of_interest": ["safety"]},
                                user=user(session, "sales"))


def test_review_per_branch(session: Session, seeded: dict[str, Any]) -> None:
    host = session.info["carebiz.host"]
    settings.set_value(session, host, "sales.review_branches", "A")
    session.commit()
    prospect = register(session)
    assert prospect.status == "pending_review"
    with pytest.raises(Forbidden):
        rules.transition(session, prospect, "approve", user=user(session, "sales"))
    session.rollback()
    with pytest.raises(IllegalTransition) as info:
        rules.transition(session, prospect, "win", user=user(session, "sales"))
    assert info.value.details == {"current_status": "pending_review", "error": "invalid_transition",
                                  "allowed": ["approve", "reject"]}
    session.rollback()
    rules.transition(session, prospect, "approve", user=user(session, "manager"))
    session.commit()
    assert prospect.status == "consulting" and prospect.reviewed_by == seeded["users"]["manager"]
    other = register(session, "manager", branch_id=seeded["branches"]["B"],
                     phone="13900139000")
    assert other.status == "consulting"


def test_closing_lost_needs_a_reason_from_the_list(session: Session,
                                                   seeded: dict[str, Any]) -> None:
    prospect = register(session)
    sales = user(session, "sales")
    for reason in (None, "aliens"):
        with pytest.raises(ValidationFailed) as info:
            rules.close_prospect(session, prospect, outcome="lost", lost_reason=reason,
                                 user=sales)
        assert "lost_reason" in info.value.errors
        session.rollback()
    rules.close_prospect(session, prospect, outcome="lost", lost_reason="price", user=sales)
    session.commit()
    assert prospect.status == "lost" and prospect.closed_at is not None
    with pytest.raises(IllegalTransition):
        rules.close_prospect(session, prospect, outcome="won", user=sales)
    session.rollback()
    rules.transition(session, prospect, "reopen", user=sales)
    rules.close_prospect(session, prospect, outcome="won", user=sales)
    session.commit()
    assert prospect.status == "won" and prospect.lost_reason == ""


def test_a_stale_edit_is_refused(session: Session, seeded: dict[str, Any]) -> None:
    prospect = register(session)
    seen = prospect.version
    rules.update_prospect(session, prospect, {"budget": "200000"}, user=user(session, "sales"),
                          expected_version=seen)
    session.commit()
    with pytest.raises(Conflict) as info:
        rules.update_prospect(session, prospect, {"budget": "1"}, user=user(session, "sales"),
                              expected_version=seen)
    assert info.value.code == "version_conflict"


def test_return_visits_plan_the_next_from_the_outcome(session: Session,
                                                     seeded: dict[str, Any]) -> None:
    prospect = register(session)
    sales = user(session, "sales")
    due = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    visit = visits.schedule_visit(session, prospect, due_at=due, user=sales)
    session.commit()
    assert visits.is_overdue(visit, dt.date.today() + dt.timedelta(days=1))
    entry = session.get(TimelineEntry, visit.timeline_entry_id)
    assert entry.kind == "return_visit" and entry.status == "open"
    visits.complete_visit(session, visit, outcome="interested", user=sales, satisfaction=4)
    session.commit()
    assert visit.status == "done" and entry.status == "done"
    following = session.get(SalesReturnVisit, visit.next_visit_id)
    assert following.status == "open"
    assert following.due_at - visit.done_at == pytest.approx(dt.timedelta(days=3),
                                                             abs=dt.timedelta(minutes=1))
    with pytest.raises(Conflict):
        visits.complete_visit(session, visit, outcome="interested", user=sales)
    session.rollback()
    with pytest.raises(ValidationFailed):  # an appointment needs its time
        visits.complete_visit(session, following, outcome="appointment", user=sales)
    session.rollback()
    # closing the prospect cancels what is still planned
    rules.close_prospect(session, prospect, outcome="won", user=sales)
    session.commit()
    assert session.get(SalesReturnVisit, following.id).status == "cancelled"
    assert session.get(TimelineEntry, following.timeline_entry_id).status == "cancelled"


# -- API -------------------------------------------------------------------------------------

def test_api_contract(app: Flask, seeded: dict[str, Any], api_client: Any) -> None:
    sales = api_client("sales")
    answer = sales.post("/api/v1/sales/prospects", json=WALK_IN)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert {"id", "customer_id", "status"} <= set(body) and body["status"] == "consulting"
    listed = sales.get("/api/v1/sales/prospects").get_json()
    assert listed["total"] == 1 and listed["items"][0]["customer_name"] == "王伟"
    again = sales.post("/api/v1/sales/prospects", json={**WALK_IN, "phone": "13800138000"})
    assert again.status_code == 409
    lost = sales.post(f"/api/v1/sales/prospects/{body['id']}/close", json={"outcome": "lost"})
    assert lost.status_code == 422 and "lost_reason" in lost.get_json()["errors"]
    won = sales.post(f"/api/v1/sales/prospects/{body['id']}/close", json={"outcome": "won"})
    assert won.status_code == 200 and won.get_json()["status"] == "won"
    illegal = sales.post(f"/api/v1/sales/prospects/{body['id']}/close",
                         json={"outcome": "lost", "lost_reason": "price"})
    assert illegal.status_code == 409
    assert illegal.get_json()["status"] == "won"  # the contract: where the prospect is
    assert illegal.get_json()["error"] == "invalid_transition"
    assert illegal.get_json()["allowed"] == []
    assert illegal.get_json()["current_status"] == "won"
    stale = sales.patch(f"/api/v1/sales/prospects/{body['id']}",
                        json={"notes": "x", "version": 1})
    assert stale.status_code == 409
    assert sales.get("/api/v1/sales/prospects?status=nonsense").status_code == 422
    huge = sales.post("/api/v1/sales/prospects", json={**WALK_IN, "phone": "13900139009",
                                                      "salesperson_id": 2**40,
                                                      "branch_id": 2**40})
    assert huge.status_code == 422
    assert set(huge.get_json()["errors"]) >= {"branch_id"}
    visit = sales.post("/api/v1/sales/return-visits", json={
        "prospect_id": 2**40, "due_at": "2030-01-01T10:00:00+08:00"})
    assert visit.status_code in (404, 422)


def test_api_permissions_and_branches(app: Flask, seeded: dict[str, Any],
                                      api_client: Any) -> None:
    manager = api_client("manager")
    made = manager.post("/api/v1/sales/prospects",
                        json={**WALK_IN, "branch_id": seeded["branches"]["B"]})
    assert made.status_code == 201
    sales = api_client("sales")
    assert sales.get("/api/v1/sales/prospects").get_json()["total"] == 0
    assert sales.get(f"/api/v1/sales/prospects/{made.get_json()['id']}").status_code == 404
    viewer = api_client("viewer")
    assert viewer.post("/api/v1/sales/prospects", json=WALK_IN).status_code == 403
    assert viewer.get("/api/v1/sales/prospects").status_code == 200


def test_api_return_visits(app: Flask, seeded: dict[str, Any], api_client: Any) -> None:
    sales = api_client("sales")
    pid = sales.post("/api/v1/sales/prospects", json=WALK_IN).get_json()["id"]
    due = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).isoformat()
    made = sales.post("/api/v1/sales/return-visits", json={"prospect_id": pid, "due_at": due})
    assert made.status_code == 201 and made.get_json()["overdue"] is True
    overdue = sales.get("/api/v1/sales/return-visits?overdue=1").get_json()
    assert overdue["total"] == 1
    done = sales.post(f"/api/v1/sales/return-visits/{made.get_json()['id']}/done",
                      json={"outcome": "no_answer"})
    assert done.status_code == 200 and done.get_json()["next_visit_id"]
    assert sales.get("/api/v1/sales/return-visits?overdue=1").get_json()["total"] == 0


def test_switching_sales_off_hides_it(app: Flask, seeded: dict[str, Any],
                                      api_client: Any) -> None:
    admin = api_client("admin")
    assert admin.patch("/api/v1/plugins/sales", json={"enabled": False}).status_code == 200
    assert admin.get("/api/v1/sales/prospects").status_code == 404


def test_a_salesperson_must_work_in_the_branch(session: Session, seeded: dict[str, Any]) -> None:
    """A salesperson of branch B cannot be given a prospect of branch A."""
    make_user(session, "b_sales", roles=["salesperson"], branches=["B"])
    session.commit()
    with pytest.raises(ValidationFailed) as info:
        rules.register_prospect(session, {**WALK_IN, "salesperson_id":
                                          user(session, "b_sales").id},
                                user=user(session, "sales"))
    assert "salesperson_id" in info.value.errors
