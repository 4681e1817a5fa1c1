"""The kanban under "All my branches": a board per pipeline the cards run through, a card
whose stage its pipeline dropped kept in an "other stage" column and movable from there;
the opportunity list and its export read stage labels, never codes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.models import User
from carebiz_plugins.sales.models import SalesOpportunity
from carebiz_plugins.sales.services import opportunities as rules

BYD = [{"code": "lead", "label": "线索", "probability": 5},
       {"code": "offer", "label": "报价单", "probability": 60},
       {"code": "deal", "label": "成交", "probability": 100, "kind": "won"},
       {"code": "gone", "label": "战败", "probability": 0, "kind": "lost"}]


def user(session: Session, name: str) -> User:
    return session.scalar(select(User).where(User.username == name))


def opened(session: Session, customer_id: int, brand: str, model: str, value: str,
           **extra: Any) -> SalesOpportunity:
    opp = rules.create_opportunity(session, {"customer_id": customer_id, "brand": brand,
                                             "model": model, "expected_value": value,
                                             "currency": "CNY", **extra},
                                   user=user(session, "sales"))
    session.commit()
    return opp


def build(session: Session, seeded: dict[str, Any], people: dict[str, int]) -> dict[str, Any]:
    """A Toyota card on the built-in stages, two BYD cards on branch A's BYD pipeline, then
    that pipeline drops the stage ``offer`` one of them stands in."""
    a = seeded["branches"]["A"]
    rules.set_stages(session, a, "BYD", BYD, user=None)
    session.commit()
    camry = opened(session, people["alice"], "Toyota", "Camry", "180000")
    han = opened(session, people["alice"], "BYD", "汉 EV", "220000")
    seal = opened(session, people["alice"], "BYD", "海豹", "200000", stage="offer")
    rules.set_stages(session, a, "BYD", [BYD[0], BYD[2], BYD[3]], user=None)
    session.commit()
    return {"camry": camry.id, "han": han.id, "seal": seal.id}


def test_cards_group_by_their_pipeline_and_none_is_left_off(
        app: Flask, session: Session, seeded: dict[str, Any], people: dict[str, int]) -> None:
    ids = build(session, seeded, people)
    rows = list(session.scalars(select(SalesOpportunity).order_by(SalesOpportunity.id)))
    with app.test_request_context():
        boards, unconverted = rules.boards(session, rows)
    assert unconverted == []
    assert len(boards) == 2
    toyota, byd = boards
    assert toyota.scopes == [(seeded["branches"]["A"], "Toyota")]
    assert [c.stage.code for c in toyota.columns if c.stage] == list(rules.DEFAULT_STAGES)
    first = toyota.columns[0]
    assert ([o.id for o in first.cards], first.count, first.value, first.weighted_value) == (
        [ids["camry"]], 1, Decimal("180000.00"), Decimal("18000.00"))
    assert [c.stage.code if c.stage else None for c in byd.columns] == [
        "lead", "deal", "gone", None]
    assert [o.id for o in byd.columns[0].cards] == [ids["han"]]
    other = byd.columns[-1]
    assert [o.id for o in other.cards] == [ids["seal"]]
    seal = session.get(SalesOpportunity, ids["seal"])
    assert byd.allowed(seal) == ["deal", "gone", "lead"]  # out of the dropped stage: anywhere
    rules.move(session, seal, "lead", user=None)
    session.commit()
    assert (seal.stage, seal.probability) == ("lead", 5)


def test_the_board_under_all_branches_shows_every_card(
        app: Flask, session: Session, seeded: dict[str, Any], people: dict[str, int],
        client_for: Any) -> None:
    ids = build(session, seeded, people)
    web = client_for("sales")
    html = web.get("/sales/pipeline").get_data(as_text=True)
    for key in ("camry", "han", "seal"):
        assert f'data-card="{ids[key]}"' in html, key
    assert html.count("data-board-title") == 2 and "Branch A · BYD" in html
    assert "Other stage" in html
    assert "Open: 3, worth CN¥600,000.00" in html
    one = web.get("/sales/pipeline?brand=Toyota").get_data(as_text=True)
    assert "data-board-title" not in one and f'data-card="{ids["han"]}"' not in one
    moved = web.post(f"/sales/pipeline/{ids['seal']}/move",
                     data={"stage": "deal", "version": "1", "next": "/sales/pipeline"})
    assert moved.status_code == 302
    assert session.get(SalesOpportunity, ids["seal"]).status == "won"


def test_the_list_and_its_export_show_stage_labels(
        app: Flask, session: Session, seeded: dict[str, Any], people: dict[str, int],
        client_for: Any, api_client: Any) -> None:
    ids = build(session, seeded, people)
    web = client_for("sales")
    html = web.get("/sales/opportunities").get_data(as_text=True)
    assert "First contact (Open)" in html and "线索 (Open)" in html
    assert "first_contact (" not in html
    exported = web.get("/sales/opportunities?format=csv").get_data(as_text=True)
    assert "First contact" in exported and "线索" in exported
    item = api_client("sales").get(f"/api/v1/sales/opportunities/{ids['han']}").get_json()
    assert (item["stage"], item["stage_label"]) == ("lead", "线索")
    stranded = api_client("sales").get(f"/api/v1/sales/opportunities/{ids['seal']}").get_json()
    assert stranded["stage_label"] == "offer" and stranded["allowed"] == ["deal", "gone", "lead"]
