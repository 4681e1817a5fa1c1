"""The kanban under "All my branches": a board per pipeline the cards run through, a card
whose stage its pipeline dropped kept in an "other stage" column and movable from there;
the opportunity list and its export read stage labels, never codes."""

from __future__ import annotations

import re
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


def _rows(rows: list[tuple[str, str, str, str]], version: str) -> dict[str, str]:
    data = {"version": version}
    for i, (code, label, probability, kind) in enumerate(rows):
        data.update({f"code-{i}": code, f"label_zh-{i}": label, f"label_en-{i}": "",
                     f"probability-{i}": probability,
                     f"kind-{i}": kind, f"position-{i}": str(i + 1)})
    return data


def test_a_manager_sets_up_stages_on_a_page(app: Flask, session: Session,
                                           seeded: dict[str, Any], client_for: Any) -> None:
    a = seeded["branches"]["A"]
    assert client_for("sales").get("/sales/pipeline/setup").status_code == 403
    web = client_for("manager")
    page = web.get(f"/sales/pipeline/setup?branch_id={a}&brand=BYD")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "data-inherited" in html
    assert 'name="code-0" value="first_contact"' in html  # the set in force, to start from
    version = re.search(r'name="version" type="hidden" value="(\d+)"', html) or re.search(
        r'name="version" value="(\d+)"', html)
    assert version
    stale_version = version.group(1)
    typed = [("lead", "线索", "5", "open"), ("offer", "", "140", "open"),
             ("deal", "成交", "100", "won"), ("gone", "战败", "0", "lost")]
    bad = web.post(f"/sales/pipeline/setup?branch_id={a}&brand=BYD",
                   data=_rows(typed, stale_version))
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'data-error="probability"' in html and 'value="140"' in html  # kept as typed
    typed[1] = ("offer", "报价单", "60", "open")
    saved = web.post(f"/sales/pipeline/setup?branch_id={a}&brand=BYD",
                     data=_rows(typed, stale_version))
    assert saved.status_code == 302
    assert [s.code for s in rules.stages_for(session, a, "BYD")] == [
        "lead", "offer", "deal", "gone"]
    # another manager's form, read before that save, is refused and keeps what they typed
    stale = web.post(f"/sales/pipeline/setup?branch_id={a}&brand=BYD",
                     data=_rows([("x1", "新", "10", "open"), ("w", "赢", "100", "won"),
                                 ("l", "输", "0", "lost")], stale_version))
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert 'value="x1"' in html and "Someone else changed these stages" in html
    assert rules.stages_for(session, a, "BYD")[0].code == "lead"
    one_won = web.post(f"/sales/pipeline/setup?branch_id={a}&brand=BYD", data=_rows(
        [("a1", "", "10", "open")], str(rules.stages_version(session, a, "BYD"))))
    assert one_won.status_code == 422 and 'data-error="stages"' in one_won.get_data(
        as_text=True)
    board = web.get(f"/sales/pipeline?branch_id={a}").get_data(as_text=True)
    assert 'data-testid="pipeline-setup"' in board
