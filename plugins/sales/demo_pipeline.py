"""Demo opportunities: a dozen across the stages of the first demo branch, for the
customers the showroom's month registered (so the kanban, the pipeline summary and the
forecast reports have something to show). The branch runs its own Toyota (丰田) pipeline,
named in English and Chinese (a trade-in appraisal stage added, the won stage renamed), so
the board reads in the reader's language and the setup page shows a set with both names.
Through the services, so the timeline, audit and signals are what real work leaves; safe
to run twice (a branch with opportunities, or with its Toyota stages, is left alone)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebiz.toolkit import today as business_today

from .models import SalesOpportunity, SalesProspect
from .services import opportunities as rules
from .services import stage_names as names

#: (make, model, value, stage to reach, days it has been open, days to close)
PLAN = [
    ("丰田", "Camry 2.0", 179800, "first_contact", 2, 45),
    ("丰田", "RAV4 荣放", 199800, "first_contact", 1, 60),
    ("丰田", "Corolla 卡罗拉", 119800, "needs_analysis", 6, 30),
    ("丰田", "Highlander 汉兰达", 289800, "needs_analysis", 9, 50),
    ("丰田", "Camry 2.5 Hybrid", 219800, "test_drive", 12, 20),
    ("丰田", "bZ4X", 169800, "test_drive", 8, 25),
    ("丰田", "Sienna 赛那", 309800, "quotation", 15, 14),
    ("丰田", "RAV4 荣放", 209800, "quotation", 18, 10),
    ("丰田", "Camry 2.0", 175800, "negotiation", 21, 5),
    ("丰田", "Highlander 汉兰达", 299800, "negotiation", 25, 7),
    ("丰田", "Corolla 卡罗拉", 125800, "won", 28, 0),
    ("丰田", "bZ4X", 172800, "lost", 27, 0),
]
ORDER = ["first_contact", "needs_analysis", "test_drive", "quotation", "negotiation"]
MAKE = "丰田"
#: the branch's Toyota pipeline: (code, English name, Chinese name, probability, kind)
STAGES = [
    ("first_contact", "Lead", "线索", 10, "open"),
    ("needs_analysis", "Needs analysis", "需求分析", 20, "open"),
    ("test_drive", "Test drive", "试乘试驾", 40, "open"),
    ("trade_in", "Trade-in appraisal", "置换评估", 50, "open"),
    ("quotation", "Quotation", "报价", 60, "open"),
    ("negotiation", "Negotiation", "议价", 80, "open"),
    ("won", "Order signed", "已签单", 100, "won"),
    ("lost", "Lost", "战败", 0, "lost"),
]


def load_stages(session: Session, branch: Any) -> None:
    """The branch's Toyota pipeline with names in both languages (left alone once the
    branch has one: a manager may have changed it)."""
    if rules.own_stages(session, branch.id, MAKE):
        return
    rules.set_stages(session, branch.id, MAKE, [
        {"code": code, "labels": {names.EN: en, names.ZH: zh}, "probability": probability,
         "kind": kind} for code, en, zh, probability, kind in STAGES], user=None)


def load(session: Session, branch: Any, users: dict[str, Any]) -> None:
    """A dozen opportunities, one or two in every stage, for the branch's consulting
    prospects (fewer when there are fewer of them), in the branch's Toyota pipeline."""
    load_stages(session, branch)
    if session.scalar(select(func.count(SalesOpportunity.id))
                      .where(SalesOpportunity.branch_id == branch.id)):
        return
    manager = users.get("manager") or users.get("salesperson")
    seller = users.get("salesperson") or manager
    prospects = session.scalars(select(SalesProspect).where(
        SalesProspect.branch_id == branch.id, SalesProspect.status == "consulting")
        .order_by(SalesProspect.id).limit(len(PLAN))).all()
    today = business_today()
    for i, (prospect, (brand, model, value, stage, age, closes)) in enumerate(
            zip(prospects, PLAN, strict=False)):
        opp = rules.create_opportunity(session, {
            "customer_id": prospect.customer_id, "prospect_id": prospect.id,
            "brand": brand, "model": model, "expected_value": Decimal(value),
            "currency": "CNY", "branch_id": branch.id,
            "expected_close_on": today + dt.timedelta(days=closes) if closes else today,
            "salesperson_id": (seller if i % 3 else manager).id}, user=None)
        if stage in ("won", "lost"):
            for step in ORDER[1:4]:
                rules.move(session, opp, step, user=None)
            rules.move(session, opp, stage, user=None,
                       lost_reason="bought_elsewhere" if stage == "lost" else None)
        elif stage != ORDER[0]:
            for step in ORDER[1:ORDER.index(stage) + 1]:
                rules.move(session, opp, step, user=None)
        opened = opp.stage_entered_at - dt.timedelta(days=age)
        opp.created_at = opened
        if i == 9:  # a manager's own estimate beats the stage's default
            rules.update_opportunity(session, opp, {"probability": 90}, user=None)
