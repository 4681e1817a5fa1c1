"""The sales plugin as a plugin: discovery, its own migration history, ownership of names."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from carebiz import migrate
from carebiz.toolkit import today

SALES_TABLES = {"sales_prospect", "sales_prospect_interest", "sales_prospect_model",
                "sales_return_visit", "sales_showroom_visit", "sales_demo_car",
                "sales_test_drive"}


def test_sales_loads_alone_with_the_core(app: Flask) -> None:
    host = app.extensions["carebiz"].host
    assert "sales" in host.names and host.is_active("sales")
    assert host.manifests["sales"].package == "carebiz_plugins.sales"


def test_migrations_create_the_tables_and_match_the_models(
        make_app: Callable[..., Flask]) -> None:
    app = make_app(schema=False, CAREBIZ_PLUGINS="sales")
    assert migrate.upgrade(app) == ["core", "sales"]
    assert migrate.current(app)["sales"] == ("sales_0004",)
    assert set(migrate.plugin_metadata(app, "sales").tables) >= SALES_TABLES
    assert migrate.differences(app, "sales") == []


def test_demo_data_is_a_showroom_month_and_runs_twice(make_app: Callable[..., Flask]) -> None:
    from sqlalchemy import func, select

    from carebiz.demo import load_demo
    from carebiz_plugins.sales.models import SalesProspect, SalesReturnVisit, SalesTestDrive

    app = make_app(CAREBIZ_PLUGINS="sales")
    load_demo(app)
    load_demo(app)
    with app.app_context(), app.extensions["carebiz"].session_factory() as session:
        count = session.scalar(select(func.count(SalesProspect.id)))
        statuses = set(session.scalars(select(SalesProspect.status)))
        assert count == 46 and {"won", "lost", "consulting"} <= statuses  # 40 + 6 buyers
        assert session.scalar(select(func.count(SalesReturnVisit.id))) > 10
        assert session.scalar(select(func.count(SalesTestDrive.id))) == 2


def test_demo_commerce_has_every_state_and_adds_nothing_twice(
        make_app: Callable[..., Flask]) -> None:
    """Stock aged 5–120 days in every status, a supplier with a received and an open
    purchase order, quotations (trade-ins, one in USD) and orders in every state; the
    second load adds no row anywhere."""

    from sqlalchemy import func, select

    from carebiz.crm.models import Party, Vehicle
    from carebiz.crm.validation import vin_check_digit
    from carebiz.demo import load_demo
    from carebiz_plugins.sales.models import (
        SalesOrder,
        SalesPayment,
        SalesPurchaseOrder,
        SalesQuotation,
        SalesQuotationLine,
        SalesStock,
    )
    from carebiz_plugins.sales.services.orders import payment_status

    tables = (SalesStock, SalesPurchaseOrder, SalesQuotation, SalesOrder, SalesPayment,
              Party, Vehicle)
    app = make_app(CAREBIZ_PLUGINS="sales")
    load_demo(app)
    factory = app.extensions["carebiz"].session_factory

    def counts() -> dict[str, int]:
        with app.app_context(), factory() as session:
            return {t.__name__: session.scalar(select(func.count()).select_from(t))
                    for t in tables}

    first = counts()
    load_demo(app)
    assert counts() == first
    with app.app_context(), factory() as session:
        cars = list(session.scalars(select(SalesStock)))
        assert {c.status for c in cars} == {"ordered", "in_transit", "in_stock", "reserved",
                                             "sold", "delivered"}
        assert all(c.vin[8] == vin_check_digit(c.vin) for c in cars)
        ages = [(today() - c.received_on).days for c in cars if c.received_on
                and c.status in ("in_stock", "reserved")]
        assert min(ages) <= 5 and max(ages) >= 120
        assert {"大众", "丰田", "比亚迪"} <= {c.make for c in cars}
        pos = list(session.scalars(select(SalesPurchaseOrder)))
        assert {p.status for p in pos} == {"received", "ordered"}
        supplier = session.get(Party, pos[0].supplier_id)
        assert "supplier" in supplier.roles
        quotes = list(session.scalars(select(SalesQuotation)))
        assert "USD" in {q.currency for q in quotes}
        assert session.scalar(select(func.count(SalesQuotationLine.id))
                              .where(SalesQuotationLine.kind == "trade_in")) >= 2
        by_state = {(payment_status(o), o.vehicle_status, o.delivery_status): o
                    for o in session.scalars(select(SalesOrder))}
        payment = {k[0] for k in by_state}
        assert {"unpaid", "partly_paid", "paid"} <= payment or \
            {"overdue", "partly_paid", "paid"} <= payment
        assert any(o.paid < o.total for o in by_state.values())
        delivered = [o for o in by_state.values() if o.delivery_status == "delivered"]
        assert len(delivered) == 1
        car = session.get(SalesStock, delivered[0].stock_id)
        assert session.get(Vehicle, car.vehicle_id).owner_id == delivered[0].customer_id
        assert "customer" in session.get(Party, delivered[0].customer_id).roles
        assert any(o.vehicle_status == "ready" and o.delivery_status != "delivered"
                   for o in by_state.values())
