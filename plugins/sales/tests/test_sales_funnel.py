"""The conversion funnel: exact counts and rates on built data (the service without HTTP),
the same numbers through the core's reports API, the prospect list behind each count, the
funnel page with its CSV and the dashboard's funnel chart."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.models import User
from carebiz.testing import make_vehicle
from carebiz.toolkit import today
from carebiz_plugins.sales.models import (
    SalesDemoCar,
    SalesOrder,
    SalesProspect,
    SalesQuotation,
    SalesReturnVisit,
    SalesShowroomVisit,
    SalesTestDrive,
)
from carebiz_plugins.sales.services import funnel
from carebiz_plugins.sales.services import prospects as rules

UTC = dt.UTC


def user(session: Session, name: str) -> User:
    return session.scalar(select(User).where(User.username == name))


class Built:
    """Eight prospects of branch A and one of branch B, each taken to a known step."""

    def __init__(self, session: Session, seeded: dict[str, Any]) -> None:
        self.session = session
        self.a, self.b = seeded["branches"]["A"], seeded["branches"]["B"]
        self.serial = 0
        self.car: SalesDemoCar | None = None
        self.ids: dict[str, int] = {}

    def prospect(self, key: str, source: str, who: str = "sales",
                 branch: int | None = None) -> SalesProspect:
        made, _c = rules.register_prospect(self.session, {
            "name": f"Kunde {key}", "phone": f"1380000{len(self.ids) + 1:04d}",
            "source": source, "points_of_interest": ["price"], "models_of_interest": ["Camry"],
            **({"branch_id": branch} if branch else {})}, user=user(self.session, who))
        self.session.flush()
        self.ids[key] = made.id
        return made

    def showroom(self, p: SalesProspect) -> None:
        self.session.add(SalesShowroomVisit(branch_id=p.branch_id, customer_id=p.customer_id,
                                            prospect_id=p.id, arrived_at=dt.datetime.now(UTC)))

    def called(self, p: SalesProspect) -> None:
        now = dt.datetime.now(UTC)
        self.session.add(SalesReturnVisit(branch_id=p.branch_id, customer_id=p.customer_id,
                                          prospect_id=p.id, due_at=now, done_at=now,
                                          status="done", outcome="interested"))

    def drive(self, p: SalesProspect, status: str = "returned") -> None:
        if self.car is None:
            vehicle = make_vehicle(self.session, 901, self.a)
            self.car = SalesDemoCar(branch_id=self.a, vehicle_id=vehicle.id)
            self.session.add(self.car)
            self.session.flush()
        now = dt.datetime.now(UTC)
        self.session.add(SalesTestDrive(
            branch_id=p.branch_id, demo_car_id=self.car.id, vehicle_id=self.car.vehicle_id,
            customer_id=p.customer_id, prospect_id=p.id, starts_at=now,
            ends_at=now + dt.timedelta(hours=1), licence_number="310101199001011234",
            licence_expiry=dt.date(2031, 1, 1), waiver_signed=True, status=status))

    def quote(self, p: SalesProspect, branch: int | None = None,
              written: dt.datetime | None = None) -> SalesQuotation:
        q = SalesQuotation(branch_id=branch or p.branch_id, customer_id=p.customer_id,
                           model="Camry", currency="CNY", total=Decimal("180000"))
        if written is not None:
            q.created_at = written
        self.session.add(q)
        self.session.flush()
        return q

    def order(self, p: SalesProspect, *, delivered: bool = False,
              cancelled: bool = False) -> None:
        q = self.quote(p)
        self.session.add(SalesOrder(
            branch_id=p.branch_id, quotation_id=q.id, customer_id=p.customer_id,
            currency="CNY", total=Decimal("180000"),
            delivery_status="cancelled" if cancelled else (
                "delivered" if delivered else "pending"),
            delivered_at=dt.datetime.now(UTC) if delivered else None))


@pytest.fixture
def built(session: Session, seeded: dict[str, Any]) -> Built:
    b = Built(session, seeded)
    p1 = b.prospect("p1", "walk_in")  # registered only …
    b.quote(p1, branch=b.b)  # … quoted in the other branch (not this prospect's funnel)
    b.quote(p1, written=p1.registered_at - dt.timedelta(days=400))  # … and long before
    b.showroom(b.prospect("p2", "walk_in"))
    b.called(b.prospect("p3", "walk_in"))
    b.drive(b.prospect("p4", "walk_in"))
    p5 = b.prospect("p5", "walk_in")
    b.quote(p5)  # quoted without a test drive: past that step all the same
    b.drive(p5, status="cancelled")
    b.order(b.prospect("p6", "phone"))
    b.order(b.prospect("p7", "phone"), delivered=True)
    b.order(b.prospect("p8", "phone"), cancelled=True)  # quoted; the order is no order
    b.order(b.prospect("p9", "phone", who="manager", branch=b.b))
    session.commit()
    return b


def links(html: str, path: str = "/sales/prospects") -> list[dict[str, str]]:
    """The arguments of every link of the page to ``path``."""
    found = re.findall(r'href="([^"]+)"', html)
    return [dict(parse_qsl(urlsplit(unescape(h)).query)) for h in found
            if urlsplit(unescape(h)).path == path]


def counts(steps: list[dict[str, Any]]) -> list[int]:
    return [s["count"] for s in steps]


def test_the_funnel_counts_each_step_and_the_rates_between_them(
        app: Flask, session: Session, built: Built) -> None:
    with app.test_request_context():
        seen = funnel.funnel(session, user(session, "sales"), today(), today())
        everyone = funnel.funnel(session, user(session, "manager"), today(), today())
        by_person = funnel.funnel(session, user(session, "manager"), today(), today(),
                                  by="salesperson")
        by_month = funnel.funnel(session, user(session, "sales"), today(), today(), by="month")
        before = funnel.funnel(session, user(session, "sales"), today() - dt.timedelta(days=9),
                               today() - dt.timedelta(days=1))
    assert [s["step"] for s in seen["total"]] == list(funnel.STEPS)
    assert counts(seen["total"]) == [8, 7, 5, 4, 2, 1]
    assert [s["rate"] for s in seen["total"]] == [
        None, Decimal("87.5"), Decimal("71.4"), Decimal("80.0"), Decimal("50.0"),
        Decimal("50.0")]
    assert seen["total"][-1]["overall_rate"] == Decimal("12.5")
    groups = {g["key"]: counts(g["steps"]) for g in seen["groups"]}
    assert groups == {"walk_in": [5, 4, 2, 1, 0, 0], "phone": [3, 3, 3, 3, 2, 1]}
    # the manager sees branch B's prospect too; the salesperson does not
    assert {g["key"]: counts(g["steps"]) for g in everyone["groups"]}["phone"] == [
        4, 4, 4, 4, 3, 1]
    sales_id, manager_id = (str(user(session, n).id) for n in ("sales", "manager"))
    assert {g["key"]: counts(g["steps"])[0] for g in by_person["groups"]} == {
        sales_id: 8, manager_id: 1}
    assert [counts(g["steps"]) for g in by_month["groups"]] == [[8, 7, 5, 4, 2, 1]]
    assert before["groups"] == [] and counts(before["total"]) == [0] * 6
    assert [s["rate"] for s in before["total"]] == [None] * 6


def test_the_reports_give_the_same_numbers(app: Flask, api_client: Any, built: Built) -> None:
    answer = api_client("sales").get("/api/v1/reports/sales.funnel_by_source?days=30")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["measures"] == ["count", "sum_consulted", "sum_test_drive", "sum_quotation",
                                "sum_order", "sum_delivered"]
    rows = {r["source"]: [r[m] for m in body["measures"]] for r in body["rows"]}
    assert rows == {"walk_in": [5, 4, 2, 1, 0, 0], "phone": [3, 3, 3, 3, 2, 1]}
    for name in ("sales.funnel_by_salesperson", "sales.funnel_by_month"):
        assert api_client("sales").get(f"/api/v1/reports/{name}").status_code == 200


def test_each_step_lists_its_prospects(app: Flask, api_client: Any, built: Built) -> None:
    api = api_client("sales")

    def listed(**args: str) -> set[int]:
        answer = api.get("/api/v1/sales/prospects", query_string={**args, "per_page": 100})
        assert answer.status_code == 200, answer.get_json()
        return {item["id"] for item in answer.get_json()["items"]}

    ids = built.ids
    assert listed(reached="order") == {ids["p6"], ids["p7"]}
    assert listed(reached="test_drive", source="walk_in") == {ids["p4"], ids["p5"]}
    assert len(listed(reached="consulted")) == 7
    assert api.get("/api/v1/sales/prospects?reached=flying").status_code == 422


def test_the_funnel_page_links_every_count_and_exports(app: Flask, client_for: Any,
                                                       built: Built) -> None:
    client = client_for("sales")
    day = today().isoformat()
    page = client.get(f"/sales/funnel?from={day}&to={day}&by=source")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Walk-in" in html and "Phone call" in html and "87.5" in html
    assert {"registered_from": day, "registered_to": day, "source": "phone",
            "reached": "delivered"} in links(html)
    exported = client.get(f"/sales/funnel.csv?from={day}&to={day}&by=source")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Source", "Prospects", "Visited or consulted"]
    total = rows[-1]
    assert total[:7] == ["Total", "8", "7", "5", "4", "2", "1"]
    assert client.get("/sales/funnel?from=2026-13-01").status_code == 400
    assert client.get("/sales/funnel?by=colour").status_code == 400


def test_the_dashboard_shows_the_funnel_a_click_from_its_lists(
        app: Flask, client_for: Any, built: Built) -> None:
    html = client_for("sales").get("/sales/").get_data(as_text=True)
    assert 'data-chart="funnel"' in html
    first = today().replace(day=1).isoformat()
    assert {"registered_from": first, "registered_to": today().isoformat(),
            "reached": "quotation"} in links(html)
    assert {"from": first, "to": today().isoformat()} in links(html, "/sales/funnel")
