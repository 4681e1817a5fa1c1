"""The dashboard, the showroom log and test drives: services without HTTP, then the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.crm.models import Vehicle
from carebiz.errors import Conflict, ValidationFailed
from carebiz.models import User
from carebiz.testing import make_customer, make_vehicle
from carebiz.toolkit import today
from carebiz.toolkit.transitions import IllegalTransition
from carebiz_plugins.sales.services import dashboard as board
from carebiz_plugins.sales.services import drives, visits
from carebiz_plugins.sales.services import prospects as rules

UTC = dt.UTC


def user(session: Session, name: str) -> User:
    return session.scalar(select(User).where(User.username == name))


def prospect(session: Session, phone: str, who: str = "sales", **extra: Any) -> Any:
    made, _c = rules.register_prospect(session, {
        "name": f"Kunde {phone[-3:]}", "phone": phone, "source": extra.pop("source", "walk_in"),
        "points_of_interest": extra.pop("points", ["price"]),
        "models_of_interest": extra.pop("models", ["Camry"]), **extra}, user=user(session, who))
    return made


def test_dashboard_counts_the_day(app: Flask, session: Session, seeded: dict[str, Any]) -> None:
    sales = user(session, "sales")
    won = prospect(session, "13800000001", source="phone", points=["safety", "price"],
                   models=["RAV4"], industry="it")
    lost = prospect(session, "13800000002")
    prospect(session, "13800000003")
    prospect(session, "13800000004", who="manager", branch_id=seeded["branches"]["B"])
    rules.close_prospect(session, won, outcome="won", user=sales)
    rules.close_prospect(session, lost, outcome="lost", lost_reason="price", user=sales)
    open_one = prospect(session, "13800000005")
    visits.schedule_visit(session, open_one, due_at=dt.datetime.now(UTC), user=sales)
    visits.schedule_visit(session, open_one, due_at=dt.datetime.now(UTC) - dt.timedelta(days=5),
                          user=sales)
    session.commit()
    with app.test_request_context():
        figures = board.dashboard(session, sales, today())
    assert (figures["won"], figures["lost"]) == (1, 1)
    assert figures["consulting"] == 4  # branch B's prospect is not the salesperson's to see
    assert (figures["visits_due"], figures["visits_overdue"]) == (1, 1)
    assert figures["by_source"] == [{"key": "phone", "label": "Phone call", "count": 1}]
    assert {i["key"] for i in figures["by_point_of_interest"]} == {"safety", "price"}
    assert figures["by_model"] == [{"key": "RAV4", "label": "RAV4", "count": 1}]
    assert figures["by_industry"][0]["key"] == "it"
    assert figures["by_salesperson"][0]["count"] == 1
    with app.test_request_context():
        yesterday = board.dashboard(session, sales, today() - dt.timedelta(days=1), "day")
    assert (yesterday["won"], yesterday["visits_due"], yesterday["by_source"]) == (0, 0, [])


def test_dashboard_api_and_page(app: Flask, seeded: dict[str, Any], api_client: Any,
                                client_for: Any) -> None:
    sales = api_client("sales")
    sales.post("/api/v1/sales/prospects", json={"name": "Anna", "phone": "13800000009",
                                               "source": "walk_in"})
    with app.app_context():  # the business's day, which is not UTC's near midnight
        day = today()
    answer = sales.get(f"/api/v1/sales/dashboard?date={day.isoformat()}")
    assert answer.status_code == 200
    body = answer.get_json()
    assert {"won", "lost", "consulting", "visits_due", "visits_overdue", "by_source",
            "by_salesperson", "by_point_of_interest", "by_model"} <= set(body)
    assert body["consulting"] == 1
    assert sales.get("/api/v1/sales/dashboard?date=2026-13-01").status_code == 422
    page = client_for("sales").get("/sales/")
    assert page.status_code == 200 and 'data-figure="consulting"' in page.get_data(as_text=True)


def _demo_car(session: Session, seeded: dict[str, Any]) -> tuple[Vehicle, Any]:
    car = make_vehicle(session, 7, seeded["branches"]["A"])
    drives.add_demo_car(session, car)
    customer = make_customer(session, "Zhao Lei", seeded["branches"]["A"])
    session.commit()
    return car, customer


def _booking(car: Vehicle, customer: Any, start: dt.datetime, hours: int = 1,
             **extra: Any) -> dict[str, Any]:
    return {"vehicle_id": car.id, "customer_id": customer.id, "starts_at": start,
            "ends_at": start + dt.timedelta(hours=hours), "licence_number": "110101199001011234",
            "licence_expiry": (today() + dt.timedelta(days=365)).isoformat(), **extra}


def test_test_drives_never_double_book_and_write_the_odometer(
        app: Flask, session: Session, seeded: dict[str, Any]) -> None:
    car, customer = _demo_car(session, seeded)
    sales = user(session, "sales")
    start = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    with app.test_request_context():
        drive = drives.book_drive(session, _booking(car, customer, start), user=sales)
        session.commit()
        with pytest.raises(Conflict):
            drives.book_drive(session, _booking(car, customer, start +
                                                     dt.timedelta(minutes=30)), user=sales)
        session.rollback()
        # back to back is fine
        drives.book_drive(session, _booking(car, customer, start + dt.timedelta(hours=1)),
                               user=sales)
        session.commit()
        with pytest.raises(ValidationFailed) as info:
            drives.book_drive(session, _booking(
                car, customer, start + dt.timedelta(days=1),
                licence_expiry=(today() - dt.timedelta(days=1)).isoformat()), user=sales)
        assert "licence_expiry" in info.value.errors
        session.rollback()
        with pytest.raises(ValidationFailed):  # no waiver, no drive
            drives.start_drive(session, drive, odometer_out=1200, user=sales)
        session.rollback()
        drives.start_drive(session, drive, odometer_out=1200, user=sales,
                                waiver_signed=True)
        session.commit()
        with pytest.raises(ValidationFailed):  # the odometer cannot go backwards
            drives.return_car(session, drive, odometer_in=1100, user=sales)
        session.rollback()
        drives.return_car(session, drive, odometer_in=1215, user=sales, feedback="Quiet")
        session.commit()
        with pytest.raises(IllegalTransition):
            drives.return_car(session, drive, odometer_in=1300, user=sales)
        session.rollback()
    assert session.get(Vehicle, car.id).odometer_km == 1215
    assert (drive.odometer_out, drive.odometer_in, drive.status) == (1200, 1215, "returned")


def test_test_drive_and_showroom_api(app: Flask, session: Session, seeded: dict[str, Any],
                                     api_client: Any) -> None:
    car, customer = _demo_car(session, seeded)
    sales = api_client("sales")
    start = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(hours=2)
    body = {k: (v.isoformat() if isinstance(v, dt.datetime) else v)
            for k, v in _booking(car, customer, start).items()}
    first = sales.post("/api/v1/sales/test-drives", json=body)
    assert first.status_code == 201, first.get_json()
    clash = sales.post("/api/v1/sales/test-drives", json=body)
    assert clash.status_code == 409
    assert sales.get("/api/v1/sales/test-drives").get_json()["total"] == 1
    logged = sales.post("/api/v1/sales/showroom-visits",
                        json={"customer_id": customer.id, "party_size": 3,
                              "models": ["Camry"], "outcome": "test_drive"})
    assert logged.status_code == 201 and logged.get_json()["first_visit"] is True
    second = sales.post("/api/v1/sales/showroom-visits", json={"customer_id": customer.id})
    assert second.get_json()["first_visit"] is False
    assert sales.post("/api/v1/sales/showroom-visits",
                      json={"party_size": 0}).status_code == 422
    listed = sales.get("/api/v1/sales/showroom-visits").get_json()
    assert listed["total"] == 2


def test_readers_may_not_log_or_book(app: Flask, seeded: dict[str, Any],
                                     api_client: Any) -> None:
    # (no ``session`` fixture here: its app context would be shared by the requests, and
    # with it the first request's logged-in user)
    viewer = api_client("viewer")
    assert viewer.post("/api/v1/sales/showroom-visits", json={}).status_code == 403
    assert viewer.post("/api/v1/sales/test-drives", json={}).status_code == 403
    assert viewer.get("/api/v1/sales/test-drives").status_code == 200


def test_pages_and_the_360_panel(app: Flask, session: Session, seeded: dict[str, Any],
                                 client_for: Any) -> None:
    made = prospect(session, "13800000011")
    session.commit()
    client = client_for("sales")
    for url in ("/sales/", "/sales/prospects", f"/sales/prospects/{made.id}",
                "/sales/return-visits", "/sales/showroom", "/sales/test-drives",
                "/sales/prospects?format=csv"):
        assert client.get(url).status_code == 200, url
    html = client.get(f"/customers/{made.customer_id}").get_data(as_text=True)
    assert 'data-panel="sales"' in html and f'data-prospect="{made.id}"' in html
    refused = client.post("/sales/prospects", data={"phone": "", "source": "walk_in"})
    assert refused.status_code == 422


def test_chinese_from_the_sales_catalog_without_changing_the_cores(
        app: Flask, seeded: dict[str, Any], client_for: Any) -> None:
    html = client_for("sales").get("/sales/", headers={"Accept-Language": "zh-CN"}) \
        .get_data(as_text=True)
    assert "今日成交" in html and "按来源" in html and "登记潜在客户" in html
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale("zh_CN"):
        assert gettext("Walk-in") == "自然到店"
        # a word the core translates keeps the core's Chinese on the core's pages
        assert gettext("Open") == "待处理" and gettext("Close") == "关闭"


def test_showroom_traffic_reports_run_through_the_query_service(
        app: Flask, seeded: dict[str, Any], api_client: Any) -> None:
    sales = api_client("sales")
    for hour_size in (1, 2, 3):
        assert sales.post("/api/v1/sales/showroom-visits",
                          json={"party_size": hour_size}).status_code == 201
    by_hour = sales.get("/api/v1/reports/sales.traffic_by_hour").get_json()
    assert sum(row["count"] for row in by_hour["rows"]) == 3
    by_day = sales.get("/api/v1/reports/sales.traffic_by_day?days=7").get_json()
    assert sum(row["count"] for row in by_day["rows"]) == 3


def test_360_panel_statements_built_once_serve_each_customer_and_reader(
        app: Flask, session: Session, seeded: dict[str, Any]) -> None:
    """The panel's statements are built once per process and bind the customer: each
    customer's panel lists only their own records, and a reader of another branch (other
    row filters: another statement) sees none of them."""
    from carebiz.testing import make_user
    from carebiz_plugins.sales.panel import customer_panel

    first = prospect(session, "13800000021")
    second = prospect(session, "13800000022")
    other = make_user(session, "sales_b", roles=["salesperson"], branches=["B"])
    session.commit()
    sales = user(session, "sales")
    with app.test_request_context():
        for _round in range(2):  # the second round runs the statements kept by the first
            for mine, theirs in ((first, second), (second, first)):
                panels = customer_panel(session, _party(session, mine.customer_id), sales)
                assert [row["id"] for row in panels[0].summary["prospects"]] == [mine.id]
                assert f'data-prospect="{theirs.id}"' not in panels[0].html
            assert customer_panel(session, _party(session, first.customer_id), other) == []


def _party(session: Session, party_id: int) -> Any:
    from carebiz.crm.models import Party

    return session.get(Party, party_id)


def test_360_panel_of_a_customer_without_sales_costs_one_statement(
        app: Flask, session: Session, seeded: dict[str, Any]) -> None:
    """Most customers never met sales: their panel is one EXISTS statement, not four lists;
    a record in any of the four lists (here a prospect) still shows the panel."""
    from sqlalchemy import event

    from carebiz.crm.models import Party
    from carebiz_plugins.sales.panel import customer_panel

    buyer = prospect(session, "13800000023")
    nobody = Party(kind="person", name="No sales yet",
                   branch_id=_party(session, buyer.customer_id).branch_id)
    session.add(nobody)
    session.commit()
    sales = user(session, "sales")
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        with app.test_request_context():
            assert customer_panel(session, nobody, sales) == []
            assert len(seen) == 1 and "EXISTS" in seen[0]
            seen.clear()
            panels = customer_panel(session, _party(session, buyer.customer_id), sales)
            assert [row["id"] for row in panels[0].summary["prospects"]] == [buyer.id]
    finally:
        event.remove(engine, "before_cursor_execute", count)
