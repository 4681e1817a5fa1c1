"""The plugin module named by the ``carebiz.plugins`` entry point ``sales``.

The manifest says who the plugin is; the hook implementations hand the platform what sales
adds (tables, pages, API, permissions, menu items, settings, timeline kinds, record pages,
panels, query sources, list exports, demo data). They only compose: the work is done in
``services``, ``api``, ``views`` and the templates beside this module.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from carebiz import hookimpl
from carebiz.concurrency import bumped
from carebiz.contributions import (
    AuditLabels,
    DocumentType,
    ExportTable,
    MenuItem,
    Panel,
    Permission,
    QuerySource,
    RecordPage,
    Report,
    ReportParam,
    SettingSpec,
    TimelineKind,
)
from carebiz.db import Base
from carebiz.plugins import PluginManifest

from . import __version__, api, commerce, pipeline, views, views_funnel
from . import models as sales_models
from .lists import LISTS as SALES_LISTS
from .services.choices import LISTS
from .services.dashboard import QUERY_SOURCES

if TYPE_CHECKING:
    import flask
    import flask_smorest
    from flask_login import AnonymousUserMixin
    from sqlalchemy.orm import Session

    from carebiz.crm.models import Party
    from carebiz.models import Branch, User

manifest = PluginManifest(
    name="sales",
    version=__version__,
    label=_l("Sales"),
    description=_l("Prospects, showroom, test drives, quotations, orders, vehicle stock "
                   "and purchasing."),
    package="carebiz_plugins.sales",
)

#: built-in roles that read sales records (admin is a superuser and needs no grant)
READERS = ("manager", "salesperson", "read_only")
SELLERS = ("manager", "salesperson")


def _tables() -> list[type[Base]]:
    """Every ``sales_…`` model declared in :mod:`.models` (so a model added there is owned
    by the plugin without a second list to keep in step)."""
    return [obj for _name, obj in inspect.getmembers(sales_models, inspect.isclass)
            if issubclass(obj, Base) and obj.__module__ == sales_models.__name__
            and str(getattr(obj, "__tablename__", "")).startswith("sales_")]


@hookimpl
def models() -> list[type[Base]]:
    return _tables()


@hookimpl
def web_blueprints() -> list[flask.Blueprint]:
    return [views.bp, views_funnel.bp, *commerce.WEB_BLUEPRINTS, *pipeline.WEB_BLUEPRINTS]


@hookimpl
def api_blueprints() -> list[flask_smorest.Blueprint]:
    return [api.blp, *commerce.BLUEPRINTS, *pipeline.BLUEPRINTS]


@hookimpl
def permissions() -> list[Permission]:
    return [
        Permission("sales.view", _l("See sales records"), default_roles=READERS, weight=300),
        Permission("sales.prospects", _l("Register and follow up prospects"),
                   default_roles=SELLERS, weight=301),
        Permission("sales.review", _l("Approve or reject new prospects"),
                   default_roles=("manager",), weight=302),
        Permission("sales.showroom", _l("Log showroom visits and book test drives"),
                   default_roles=SELLERS, weight=303),
        *commerce.PERMISSIONS,
        *pipeline.PERMISSIONS,
    ]


@hookimpl
def menu_items(user: User | AnonymousUserMixin) -> list[MenuItem]:
    return [MenuItem("sales", _l("Sales"), "sales.dashboard", permission="sales.view",
                     section="main", icon="car-front", weight=300), *commerce.MENU,
            *pipeline.MENU]


@hookimpl
def settings() -> list[SettingSpec]:
    labels = {
        "sales.sources": _l("Prospect sources (comma-separated)"),
        "sales.points_of_interest": _l("Points of interest (comma-separated)"),
        "sales.lost_reasons": _l("Lost reasons (comma-separated)"),
        "sales.industries": _l("Industries (comma-separated)"),
    }
    specs = [SettingSpec(lst.key, lst.default, labels[lst.key], weight=300 + i)
             for i, lst in enumerate(LISTS)]
    specs.append(SettingSpec(
        "sales.review_branches", "", _l("Branches whose new prospects a manager reviews"),
        description=_l("Branch codes, comma-separated; * for every branch; empty: no review."),
        weight=310))
    return specs + commerce.SETTINGS


@hookimpl
def timeline_kinds() -> list[TimelineKind]:
    return [
        TimelineKind("sales.prospect", _l("Prospect registered"), "person-plus", weight=300),
        TimelineKind("sales.prospect_closed", _l("Prospect closed"), "flag", weight=301),
        TimelineKind("sales.showroom_visit", _l("Showroom visit"), "shop", weight=302),
        TimelineKind("sales.test_drive", _l("Test drive"), "speedometer2", weight=303),
        *pipeline.TIMELINE_KINDS,
    ]


@hookimpl
def record_pages() -> list[RecordPage]:
    return [
        RecordPage("sales_prospect", "sales.prospect", "prospect_id", "sales.view",
                   label=_l("Prospect")),
        RecordPage("sales_test_drive", "sales.test_drive", "drive_id", "sales.view",
                   label=_l("Test drive")),
        *commerce.RECORD_PAGES,
        *pipeline.RECORD_PAGES,
    ]


@hookimpl
def customer_merge(session: Session, keep: Party, remove: Party) -> None:
    """Every sales row of the merged-away customer now belongs to the one kept, in the
    merge's own transaction (versioned rows are bumped, so open forms see the change)."""
    for model in _tables():
        for column in ("customer_id", "supplier_id"):  # a purchase order names a supplier
            if column in model.__table__.c:
                session.execute(update(model).where(model.__table__.c[column] == remove.id)
                                .values({column: keep.id, **bumped(model)}))


@hookimpl
def query_sources() -> list[QuerySource]:
    """Prospects, their points and models of interest, return visits: the dashboard's charts
    and anyone's analyses read them through the core query service."""
    from . import queries

    return [*QUERY_SOURCES, *queries.SOURCES]


@hookimpl
def reports() -> list[Report]:
    from . import queries

    return [
        Report("sales.won_by_month", _l("Deals won by month"), "sales_prospects",
               where={"field": "status", "op": "eq", "value": "won"},
               group_by=[{"field": "closed_at", "by": "month"}], chart="line", weight=300),
        Report("sales.prospects_by_source", _l("Prospects by source"), "sales_prospects",
               group_by=["source", "status"], chart="stacked", weight=301),
        Report("sales.traffic_by_day", _l("Showroom traffic by day"), "sales_showroom_visits",
               params=(ReportParam("days", _l("Days back"), "number", 30),),
               where={"field": "arrived_at", "op": "last_days", "value": {"param": "days"}},
               group_by=[{"field": "arrived_at", "by": "day"}], chart="line", weight=302),
        Report("sales.traffic_by_hour", _l("Showroom traffic by hour"), "sales_showroom_visits",
               params=(ReportParam("days", _l("Days back"), "number", 30),),
               where={"field": "arrived_at", "op": "last_days", "value": {"param": "days"}},
               group_by=["arrived_hour", "outcome"], chart="stacked", weight=303),
        Report("sales.traffic_by_salesperson", _l("Showroom conversion by salesperson"),
               "sales_showroom_visits",
               params=(ReportParam("days", _l("Days back"), "number", 30),),
               where={"field": "arrived_at", "op": "last_days", "value": {"param": "days"}},
               group_by=["salesperson_id", "outcome"], chart="stacked", weight=304),
        *queries.REPORTS,
    ]


@hookimpl
def export_tables() -> list[ExportTable]:
    return [ExportTable.of_list(definition, weight=300 + i)
            for i, definition in enumerate([*SALES_LISTS, *commerce.LISTS])]


@hookimpl
def customer_panels(session: Session, customer: Party,
                    user: User | AnonymousUserMixin) -> list[Panel]:
    """The customer's prospects, open return visits and test drives, as ``user`` may see
    them (read with the ``session`` handed over: the 360° page is built outside requests
    too)."""
    from .panel import customer_panel

    return customer_panel(session, customer, user)


@hookimpl
def audit_labels() -> list[AuditLabels]:
    """Labels of the sales records' fields and statuses for the history and the audit log
    (:mod:`.audit_labels`)."""
    from .audit_labels import declarations

    return declarations()


@hookimpl
def demo_data(session: Session, branches: list[Branch], users: dict[str, User]) -> None:
    """A showroom's month in the first demo branch (once; see :mod:`.demo`)."""
    from .demo import load

    load(session, branches, users)


@hookimpl
def document_types() -> list[DocumentType]:
    return list(commerce.DOCUMENTS)
