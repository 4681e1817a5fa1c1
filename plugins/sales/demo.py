"""Demo data of sales: a showroom's month in the first demo branch.

Forty prospects over the last thirty days from several sources (walk-ins, calls, Autohome,
referrals …) with Chinese and English names, some won, some lost with a reason, the rest
consulting with return visits (a few overdue); a traffic log, two demo cars and test drives.
Everything goes through the services, so the timeline, audit and events are what a real
month leaves. Safe to run twice: a branch that has prospects is left alone."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebiz.crm.services.vehicles import create_vehicle
from carebiz.crm.validation import vin_check_digit
from carebiz.db import utcnow

from .models import SalesProspect, SalesReturnVisit
from .services import drives, showroom, visits
from .services import prospects as rules

NAMES = ["王建国", "李秀英", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴敏",
         "徐涛", "孙悦", "马超", "朱琳", "胡军", "郭蕾", "何鹏", "高燕", "林峰", "罗佳",
         "Michael Chen", "Sarah Wang", "David Li", "Emily Zhang", "Jason Liu",
         "郑凯", "谢婷", "韩冰", "唐亮", "冯雪", "董浩", "萧然", "程晨", "曹阳", "袁媛",
         "Kevin Zhou", "Linda Wu", "邓超", "许晴", "傅强"]
SOURCES = ["walk_in"] * 4 + ["phone"] * 3 + ["autohome"] * 2 + ["dongchedi", "referral",
                                                                 "website", "wechat", "event"]
MODELS = ["Camry 2.0", "Camry 2.5 Hybrid", "RAV4 荣放", "Corolla 卡罗拉", "Highlander 汉兰达",
          "bZ4X", "Sienna 赛那"]
POINTS = ["price", "fuel_economy", "safety", "space", "comfort", "brand", "after_sales"]
INDUSTRIES = ["it", "finance", "education", "medical", "manufacturing", "retail",
              "self_employed", ""]
LOST = ["bought_elsewhere", "price", "not_now", "financing"]


def load(session: Session, branches: list[Any], users: dict[str, Any]) -> None:
    """Load the month, then the commerce part (:mod:`.demo_commerce`); each part skips
    itself when its data is there already."""
    if not branches:
        return
    branch = branches[0]
    if not session.scalar(select(func.count(SalesProspect.id))
                          .where(SalesProspect.branch_id == branch.id)):
        _month(session, branch, users)
    from . import demo_commerce  # stock, purchasing, quotations and orders: its own guard

    demo_commerce.load(session, branch, users)
    from . import demo_pipeline  # a dozen opportunities across the stages: its own guard

    demo_pipeline.load(session, branch, users)


def _month(session: Session, branch: Any, users: dict[str, Any]) -> None:
    """The prospects' month: registrations, return visits, traffic and test drives."""
    rng = random.Random(11)  # the same month every time
    seller = users.get("salesperson") or users.get("manager")
    manager = users.get("manager") or seller
    now = utcnow()
    for i, name in enumerate(NAMES):
        days_ago = rng.randint(0, 29)
        when = now - dt.timedelta(days=days_ago, hours=rng.randint(0, 8))
        prospect, _created = rules.register_prospect(session, {
            "name": name, "phone": f"+86139{10000000 + i * 7919:08d}",
            "source": rng.choice(SOURCES), "branch_id": branch.id,
            "models_of_interest": rng.sample(MODELS, rng.randint(1, 2)),
            "points_of_interest": rng.sample(POINTS, rng.randint(1, 3)),
            "budget": rng.choice([150000, 200000, 250000, 300000, 400000]),
            "industry": rng.choice(INDUSTRIES),
            "intended_purchase_on": (now + dt.timedelta(days=rng.randint(7, 90))).date(),
            "salesperson_id": (seller if i % 3 else manager).id}, user=manager)
        prospect.registered_at = when
        fate = rng.random()
        if days_ago > 3 and fate < 0.25:
            rules.close_prospect(session, prospect, outcome="won", user=manager)
            prospect.closed_at = when + dt.timedelta(days=rng.randint(1, min(days_ago, 10)))
        elif days_ago > 3 and fate < 0.45:
            rules.close_prospect(session, prospect, outcome="lost", user=manager,
                                 lost_reason=rng.choice(LOST))
            prospect.closed_at = when + dt.timedelta(days=rng.randint(1, min(days_ago, 10)))
        else:
            visit = visits.schedule_visit(session, prospect, user=manager,
                                          due_at=when + dt.timedelta(days=rng.choice([1, 2, 3])))
            if visit.due_at < now - dt.timedelta(days=1) and rng.random() < 0.6:
                visits.complete_visit(session, visit, user=manager,
                                      outcome=rng.choice(["interested", "thinking",
                                                          "no_answer", "wants_quote"]))
                session.get(SalesReturnVisit, visit.id).done_at = visit.due_at
        if i % 2 == 0:
            showroom.log_visit(session, {
                "prospect_id": prospect.id, "arrived_at": when,
                "left_at": when + dt.timedelta(minutes=rng.randint(20, 90)),
                "party_size": rng.randint(1, 4), "models": prospect.models_of_interest,
                "outcome": rng.choice(["browsing", "test_drive", "quotation"]),
                "salesperson_id": prospect.salesperson_id, "branch_id": branch.id}, user=manager)
    _demo_fleet(session, branch, manager, now)


def _vin(serial: int) -> str:
    """A demo VIN with a correct ISO 3779 check digit (Toyota China's WMI)."""
    body = f"LVGBE40K0R{serial:07d}"
    return body[:8] + vin_check_digit(body) + body[9:]


def _demo_fleet(session: Session, branch: Any, user: Any, now: dt.datetime) -> None:
    """Two demo cars and a test drive on each (one returned, one booked for tomorrow)."""
    customers = list(session.scalars(select(SalesProspect.customer_id)
                                     .where(SalesProspect.branch_id == branch.id)
                                     .order_by(SalesProspect.id).limit(2)))
    for n, (model, customer_id) in enumerate(zip(("Camry 2.5 Hybrid", "RAV4 荣放"), customers,
                                                 strict=False)):
        car = create_vehicle(session, {"vin": _vin(91000 + n), "make": "Toyota",
                                       "model": model, "year": now.year,
                                       "branch_id": branch.id}, user=user)
        drives.add_demo_car(session, car)
        start = (now + dt.timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
        if n == 0:
            start = now - dt.timedelta(hours=3)
        drive = drives.book_drive(session, {
            "vehicle_id": car.id, "customer_id": customer_id, "starts_at": start,
            "ends_at": start + dt.timedelta(minutes=45), "licence_number": f"11010819850{n}12345",
            "licence_expiry": (now + dt.timedelta(days=900)).date(), "waiver_signed": True},
            user=user)
        if n == 0:
            drives.start_drive(session, drive, odometer_out=1520, user=user)
            drives.return_car(session, drive, odometer_in=1538, user=user,
                                   feedback="安静，加速平顺 / quiet, smooth")
