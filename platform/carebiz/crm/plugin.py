"""The CRM's default plugin: parties and vehicles with their pages, API and import, the
CRM's permissions, menu, settings and value-score jobs, the customer and vehicle lists'
exports, record pages, timeline kinds, the query sources and report over customers and
vehicles, the customer statement and the demo customers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l

from carebiz import hookimpl
from carebiz.contributions import (
    ExportTable,
    MenuItem,
    Permission,
    QueryField,
    QuerySource,
    RecordPage,
    Report,
    ReportParam,
    ScheduledJob,
    SettingSpec,
    Task,
    TimelineKind,
)

#: built-in roles, for default grants
ALL_STAFF = ("manager", "salesperson", "service_adviser", "technician", "parts_clerk",
             "dispatcher", "read_only")
FRONT_DESK = ("manager", "salesperson", "service_adviser", "dispatcher", "parts_clerk")


@hookimpl
def models() -> list[type]:
    from carebiz.crm.models import CRM_MODELS

    return list(CRM_MODELS)


@hookimpl
def web_blueprints() -> list[Any]:
    from carebiz.crm import import_views, views

    return [views.bp, import_views.bp]


@hookimpl
def api_blueprints() -> list[Any]:
    from carebiz.crm.api import blp
    from carebiz.crm.import_api import blp as import_blp

    return [blp, import_blp]


@hookimpl
def permissions() -> list[Permission]:
    return [
        Permission("crm.customers.view", _l("See customers and their 360° page"),
                   default_roles=ALL_STAFF, weight=30),
        Permission("crm.customers.edit", _l("Register and edit customers"),
                   default_roles=FRONT_DESK, weight=31),
        Permission("crm.customers.merge", _l("Merge duplicate customers"),
                   default_roles=("manager",), weight=32),
        Permission("crm.customers.import", _l("Import customers and vehicles"),
                   default_roles=("manager",), weight=33),
        Permission("crm.vehicles.view", _l("See vehicles"), default_roles=ALL_STAFF, weight=34),
        Permission("crm.vehicles.edit", _l("Register and edit vehicles, record odometers"),
                   default_roles=(*FRONT_DESK, "technician"), weight=35),
        Permission("crm.timeline.edit", _l("Record interactions and follow-ups"),
                   default_roles=(*FRONT_DESK, "technician"), weight=36),
        Permission("crm.segments.view", _l("See customer value and segments"),
                   default_roles=("manager", "salesperson"), weight=37),
        Permission("crm.custom_fields", _l("Define custom fields"), weight=38),
    ]


@hookimpl
def menu_items(user: Any) -> list[MenuItem]:
    if not user.is_authenticated:
        return []
    return [
        MenuItem("crm.customers", _l("Customers"), "crm.customers", "crm.customers.view",
                 weight=10),
        MenuItem("crm.vehicles", _l("Vehicles"), "crm.vehicles", "crm.vehicles.view",
                 weight=11),
        MenuItem("crm.my_day", _l("My day"), "crm.my_day", "crm.timeline.edit", weight=5),
        MenuItem("crm.import", _l("Import customers"), "crm_import.upload",
                 "crm.customers.import", "admin", weight=18),
        MenuItem("crm.custom_fields", _l("Custom fields"), "crm.custom_fields",
                 "crm.custom_fields", "admin", weight=17),
    ]


@hookimpl
def settings() -> list[SettingSpec]:
    return [
        SettingSpec("crm.phone_region", "CN", _l("Default region of phone numbers"), weight=20,
                    description=_l("Two-letter country code used for numbers typed without "
                                   "+country code.")),
        SettingSpec("crm.plate_region", "CN", _l("Region of number plates"), weight=21,
                    description=_l("CN checks mainland plates; other codes only normalise.")),
        SettingSpec("crm.vin_check_digit", True, _l("Verify the VIN check digit"), type="bool",
                    weight=22, description=_l("Switch off in markets whose VINs carry no "
                                              "check digit.")),
    ]


@hookimpl
def tasks() -> list[Task]:
    from carebiz.crm.importing import import_files, run_import_task
    from carebiz.crm.services.value import run_refresh_task

    return [Task("crm.refresh_scores", _l("Recompute customer value scores and segments"),
                 run_refresh_task, permission="crm.segments.view"),
            Task("crm.import", _l("Import customers and vehicles"), run_import_task,
                 permission="crm.customers.import", files=import_files)]


@hookimpl
def scheduled_jobs() -> list[ScheduledJob]:
    return [ScheduledJob("crm.refresh_scores.nightly", "crm.refresh_scores",
                         dt.timedelta(days=1))]


@hookimpl
def export_tables() -> list[ExportTable]:
    from carebiz.crm.lists import CUSTOMERS, VEHICLES

    return [ExportTable.of_list(CUSTOMERS), ExportTable.of_list(VEHICLES)]


@hookimpl
def document_types() -> list[Any]:
    from carebiz.crm.statement import CUSTOMER_STATEMENT

    return [CUSTOMER_STATEMENT]


@hookimpl
def record_pages() -> list[RecordPage]:
    return [
        RecordPage("party", "crm.customer", "party_id", "crm.customers.view",
                   label=_l("Customer")),
        RecordPage("vehicle", "crm.vehicle", "vehicle_id", "crm.vehicles.view",
                   label=_l("Vehicle")),
    ]


@hookimpl
def timeline_kinds() -> list[TimelineKind]:
    return [
        TimelineKind("call", _l("Call"), "telephone", weight=1),
        TimelineKind("visit", _l("Visit"), "shop", weight=2),
        TimelineKind("message", _l("Message"), "chat", weight=3),
        TimelineKind("note", _l("Note"), "pencil", weight=4),
        TimelineKind("task", _l("Task"), "check2-square", weight=5),
        TimelineKind("return_visit", _l("Return visit"), "arrow-repeat", weight=6),
    ]


@hookimpl
def query_sources() -> list[QuerySource]:
    """Customers and vehicles for the query service (weighted after plugins' sources)."""
    from carebiz.contributions import BASE_CURRENCY, BRANCH_RELATION
    from carebiz.crm.forms import FUEL_LABELS, KIND_LABELS
    from carebiz.crm.models import FUEL_TYPES, KINDS, Party, PartyValue, Vehicle
    from carebiz.crm.services.parties import name_prefix
    from carebiz.crm.services.value import SEGMENTS

    value_join = (PartyValue, PartyValue.party_id == Party.id)
    branch_ops = ("eq", "ne", "in", "empty", "not_empty")
    customers = QuerySource("customers", _l("Customers"), Party, (
        QueryField("id", _l("Number"), "number"),
        QueryField("name", _l("Name"), "text", prefix=name_prefix),
        QueryField("kind", _l("Kind"), "choice",
                   choices=tuple((kind, KIND_LABELS[kind]) for kind in KINDS)),
        QueryField("branch_id", _l("Branch"), "number", branch_ops,
                   relation=BRANCH_RELATION),
        QueryField("created_at", _l("Registered"), "datetime"),
        QueryField("source", _l("Source"), "text"),
        QueryField("city", _l("City"), "text"),
        QueryField("segment", _l("Segment"), "choice", column=PartyValue.segment,
                   join=value_join, choices=tuple(SEGMENTS.items())),
        QueryField("lifetime_value", _l("Lifetime value"), "money",
                   column=PartyValue.lifetime_value, join=value_join,
                   currency=BASE_CURRENCY),
        QueryField("do_not_contact", _l("Do not contact"), "bool"),
    ), permission="crm.customers.view", weight=200, where=lambda m: m.active.is_(True))
    vehicles = QuerySource("vehicles", _l("Vehicles"), Vehicle, (
        QueryField("id", _l("Number"), "number"),
        QueryField("vin", _l("VIN"), "text"),
        QueryField("plate", _l("Plate"), "text"),
        QueryField("make", _l("Make"), "text"),
        QueryField("model", _l("Model"), "text"),
        QueryField("year", _l("Year"), "number"),
        QueryField("fuel_type", _l("Fuel"), "choice",
                   choices=tuple((fuel, FUEL_LABELS[fuel]) for fuel in FUEL_TYPES)),
        QueryField("odometer_km", _l("Odometer (km)"), "number"),
        QueryField("created_at", _l("Registered"), "datetime"),
        QueryField("branch_id", _l("Branch"), "number", branch_ops,
                   relation=BRANCH_RELATION),
        QueryField("owner", _l("Owner"), "text", column=Party.name,
                   join=(Party, Party.id == Vehicle.owner_id)),
    ), permission="crm.vehicles.view", weight=201)
    return [customers, vehicles]


@hookimpl
def reports() -> list[Report]:
    return [Report(
        "crm.new_customers_by_month", _l("New customers by month"), "customers",
        _l("Customers registered in the chosen number of days, by month."),
        params=(ReportParam("days", _l("Days back"), "number", 365),),
        where={"field": "created_at", "op": "last_days", "value": {"param": "days"}},
        group_by=[{"field": "created_at", "by": "month"}], chart="bar", weight=10)]


@hookimpl
def demo_data(session: Any, branches: list[Any], users: dict[str, Any]) -> None:
    from carebiz.crm.demo import load

    load(session, branches, users)


@hookimpl
def audit_labels() -> list[Any]:
    from carebiz.crm.audit_labels import DECLARATIONS

    return list(DECLARATIONS)


@hookimpl
def home_widgets(session: Any, user: Any) -> list[Any]:
    from carebiz.crm.home import widgets

    return widgets(session, user)
