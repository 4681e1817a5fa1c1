"""The sales plugin as a plugin: discovery, its own migration history, ownership of names."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from carebiz import migrate

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
    assert migrate.current(app)["sales"] == ("sales_0002",)
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
        assert count == 40 and {"won", "lost", "consulting"} <= statuses
        assert session.scalar(select(func.count(SalesReturnVisit.id))) > 10
        assert session.scalar(select(func.count(SalesTestDrive.id))) == 2
