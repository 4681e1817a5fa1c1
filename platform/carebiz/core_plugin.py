"""The platform core, registered as the first plugin through the same hooks as every other.

Like Datasette's default plugins, the core uses the hooks itself, so the hook machinery is
exercised on every request and third-party plugins see working examples."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select

from carebiz import __version__, hookimpl
from carebiz.contributions import (
    ExportFormat,
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
from carebiz.db import utcnow
from carebiz.errors import ServiceError
from carebiz.models import CORE_MODELS, AuditEntry, Job
from carebiz.plugins.manifest import CORE, PluginManifest
from carebiz.security.rows import branch_rule

manifest = PluginManifest(
    name=CORE,
    version=__version__,
    label=_l("Platform core"),
    description=_l("Users, roles, branches, audit, settings and background jobs."),
    package="carebiz",
)


@hookimpl
def models() -> list[type]:
    from carebiz.crm.models import CRM_MODELS
    from carebiz.currency.models import ExchangeRate
    from carebiz.documents.models import DocumentTemplate
    from carebiz.query.models import SavedQuery
    from carebiz.units.models import PackagingUnit

    return CORE_MODELS + CRM_MODELS + [ExchangeRate, PackagingUnit, SavedQuery,
                                       DocumentTemplate]


@hookimpl
def web_blueprints() -> list[Any]:
    from carebiz.crm import import_views
    from carebiz.crm import views as crm_views
    from carebiz.currency import views as currency_views
    from carebiz.documents import views as documents_views
    from carebiz.query import views as query_views
    from carebiz.units import views as units_views
    from carebiz.web import admin, auth, exports, home, jobs, setup

    return [auth.bp, home.bp, admin.bp, jobs.bp, exports.bp, crm_views.bp, import_views.bp,
            currency_views.bp, units_views.bp, query_views.bp, documents_views.bp, setup.bp]


@hookimpl
def api_blueprints() -> list[Any]:
    from carebiz.api.core import blp
    from carebiz.crm.api import blp as crm_blp
    from carebiz.crm.import_api import blp as import_blp
    from carebiz.currency.api import blp as currency_blp
    from carebiz.documents.api import blp as documents_blp
    from carebiz.query.api import blp as query_blp
    from carebiz.units.api import blp as units_blp

    return [blp, crm_blp, import_blp, units_blp, currency_blp, query_blp, documents_blp]


@hookimpl
def permissions() -> list[Permission]:
    return [
        Permission("admin.users", _l("Manage users"), weight=10),
        Permission("admin.roles", _l("Manage roles and their permissions"), weight=11),
        Permission("admin.branches", _l("Manage branches"), weight=12),
        Permission("admin.tokens", _l("Manage everyone's API tokens"), weight=13),
        Permission("admin.plugins", _l("Switch subsystems on and off"), weight=14),
        Permission("admin.settings", _l("Change business settings"), weight=15),
        Permission("audit.view", _l("Read the audit log"), default_roles=("manager",),
                   weight=20),
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
        Permission("currency.rates", _l("Enter exchange rates"), default_roles=("manager",),
                   weight=40),
        Permission("units.manage", _l("Define packaging units"),
                   default_roles=("manager", "parts_clerk"), weight=40),
    ]


#: built-in roles, for default grants
ALL_STAFF = ("manager", "salesperson", "service_adviser", "technician", "parts_clerk",
             "dispatcher", "read_only")
FRONT_DESK = ("manager", "salesperson", "service_adviser", "dispatcher", "parts_clerk")


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
        MenuItem("query", _l("Analysis"), "query.index", None, weight=40),
        MenuItem("crm.import", _l("Import customers"), "crm_import.upload",
                 "crm.customers.import", "admin", weight=18),
        MenuItem("crm.custom_fields", _l("Custom fields"), "crm.custom_fields",
                 "crm.custom_fields", "admin", weight=17),
        MenuItem("admin.users", _l("Users"), "admin.users", "admin.users", "admin", weight=10),
        MenuItem("admin.roles", _l("Roles"), "admin.roles", "admin.roles", "admin", weight=11),
        MenuItem("admin.branches", _l("Branches"), "admin.branches", "admin.branches", "admin",
                 weight=12),
        MenuItem("admin.tokens", _l("API tokens"), "admin.tokens", None, "admin", weight=13),
        MenuItem("admin.plugins", _l("Subsystems"), "admin.plugins", "admin.plugins", "admin",
                 weight=14),
        MenuItem("admin.settings", _l("Settings"), "admin.settings", "admin.settings", "admin",
                 weight=15),
        MenuItem("admin.audit", _l("Audit log"), "admin.audit", "audit.view", "admin",
                 weight=16),
        MenuItem("documents.templates", _l("Document templates"), "documents.templates",
                 "admin.settings", "admin", weight=19),
        MenuItem("currency.rates", _l("Exchange rates"), "currency.rates", None, "admin",
                 weight=20),
        MenuItem("units.index", _l("Units"), "units.index", None, "admin", weight=21),
    ]


@hookimpl
def row_filters(model: type, user: Any) -> list[Any] | None:
    if model is AuditEntry:
        if not user.is_authenticated:
            return [AuditEntry.id < 0]
        if user.all_branches or user.is_superuser:
            return None
        ids = sorted(user.branch_ids)
        return [or_(AuditEntry.branch_id.is_(None), AuditEntry.branch_id.in_(ids))]
    return branch_rule(model, user)


@hookimpl
def settings() -> list[SettingSpec]:
    return [
        SettingSpec("core.company_name", "CareBusiness", _l("Company name"), weight=1),
        SettingSpec("core.jobs_keep_days", 30, _l("Days to keep finished background jobs"),
                    type="int", weight=50),
        SettingSpec("core.base_currency", "CNY", _l("Base currency of the company"), weight=2,
                    description=_l("ISO 4217 code; values and reports are kept in it.")),
        SettingSpec("crm.phone_region", "CN", _l("Default region of phone numbers"), weight=20,
                    description=_l("Two-letter country code used for numbers typed without "
                                   "+country code.")),
        SettingSpec("crm.plate_region", "CN", _l("Region of number plates"), weight=21,
                    description=_l("CN checks mainland plates; other codes only normalise.")),
        SettingSpec("crm.vin_check_digit", True, _l("Verify the VIN check digit"), type="bool",
                    weight=22, description=_l("Switch off in markets whose VINs carry no "
                                              "check digit.")),
    ]


def purge_jobs(ctx: Any, days: int | None = None) -> dict[str, int]:
    """Fail the running jobs whose process died, then delete finished and failed jobs older
    than the setting ``core.jobs_keep_days`` with their files, and every file of that age in
    the exports folder (exports, printed PDFs, leftovers of jobs that died while writing)."""
    from carebiz.jobs.cleanup import purge_files, remove_files, sweep_dead
    from carebiz.services.settings import get

    dead = sweep_dead(ctx.app)
    host = ctx.app.extensions["carebiz"].host
    keep = int(days if days is not None else get(ctx.session, host, "core.jobs_keep_days"))
    cutoff = utcnow() - dt.timedelta(days=keep)
    old = (Job.status.in_(("finished", "failed")), Job.finished_at < cutoff)
    files = sum(remove_files(ctx.app, job) for job in ctx.session.scalars(select(Job)
                                                                         .where(*old)))
    result = ctx.session.execute(delete(Job).where(*old))
    files += purge_files(ctx.app, cutoff)
    ctx.progress(100)
    return {"deleted": result.rowcount, "dead": len(dead), "files": files}


def _import_files(app: Any, job: Any) -> list[Any]:
    """The stored upload a ``crm.import`` job names (removed when the job dies or goes)."""
    from carebiz.crm.services.importer import upload_path

    try:
        return [upload_path(app.instance_path, (job.params or {}).get("upload", ""))]
    except ServiceError:
        return []


def refresh_value_scores(ctx: Any) -> dict[str, int]:
    """Recompute customers' RFM quintiles and segments."""
    from carebiz.crm.services.value import refresh_scores

    count = refresh_scores(ctx.session)
    ctx.progress(100)
    return {"customers": count}


@hookimpl
def tasks() -> list[Task]:
    from carebiz.crm.services.importer import run_import_task
    from carebiz.documents.service import run_render
    from carebiz.export.service import run_export

    return [Task("core.purge_jobs", _l("Delete old background jobs"), purge_jobs,
                 permission="admin.settings"),
            Task("core.export", _l("Export a list"), run_export),
            Task("crm.refresh_scores", _l("Recompute customer value scores and segments"),
                 refresh_value_scores, permission="crm.segments.view"),
            Task("crm.import", _l("Import customers and vehicles"), run_import_task,
                 permission="crm.customers.import", files=_import_files),
            Task("documents.render", _l("Print documents"), run_render)]


@hookimpl
def scheduled_jobs() -> list[ScheduledJob]:
    return [ScheduledJob("core.purge_jobs.daily", "core.purge_jobs", dt.timedelta(days=1)),
            ScheduledJob("crm.refresh_scores.nightly", "crm.refresh_scores",
                         dt.timedelta(days=1))]


@hookimpl
def export_tables() -> list[ExportTable]:
    from carebiz.crm.lists import CUSTOMERS, VEHICLES
    from carebiz.query.exports import analysis_table, report_table, results_table
    from carebiz.web.admin_lists import AUDIT, BRANCHES, USERS

    return [ExportTable.of_list(CUSTOMERS),
            ExportTable("query.results", _l("Query results"), results_table),
            ExportTable.of_list(VEHICLES), ExportTable.of_list(USERS),
            ExportTable.of_list(BRANCHES), ExportTable.of_list(AUDIT),
            ExportTable("query.analysis", _l("Analysis"), analysis_table),
            ExportTable("query.report", _l("Report"), report_table)]


@hookimpl
def export_formats() -> list[ExportFormat]:
    from carebiz.export.csv_format import write_csv

    return [ExportFormat("csv", _l("CSV (Excel, UTF-8)"), "csv", "text/csv", write_csv,
                         weight=50)]


@hookimpl
def document_types() -> list[Any]:
    from carebiz.crm.statement import CUSTOMER_STATEMENT

    return [CUSTOMER_STATEMENT]


@hookimpl
def record_pages() -> list[RecordPage]:
    return [
        RecordPage("user", "admin.user_edit", "user_id", "admin.users"),
        RecordPage("role", "admin.role_edit", "role_id", "admin.roles"),
        RecordPage("branch", "admin.branch_edit", "branch_id", "admin.branches"),
        RecordPage("party", "crm.customer", "party_id", "crm.customers.view"),
        RecordPage("vehicle", "crm.vehicle", "vehicle_id", "crm.vehicles.view"),
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
    from carebiz.crm.models import FUEL_TYPES, KINDS, Party, PartyValue, Vehicle
    from carebiz.crm.services.parties import name_prefix

    value_join = (PartyValue, PartyValue.party_id == Party.id)
    branch_ops = ("eq", "ne", "in", "empty", "not_empty")
    customers = QuerySource("customers", _l("Customers"), Party, (
        QueryField("id", _l("Number"), "number"),
        QueryField("name", _l("Name"), "text", prefix=name_prefix),
        QueryField("kind", _l("Kind"), "choice",
                   choices=((KINDS[0], _l("Person")), (KINDS[1], _l("Organization")))),
        QueryField("branch_id", _l("Branch"), "number", branch_ops),
        QueryField("created_at", _l("Registered"), "datetime"),
        QueryField("source", _l("Source"), "text"),
        QueryField("city", _l("City"), "text"),
        QueryField("segment", _l("Segment"), "text", column=PartyValue.segment,
                   join=value_join),
        QueryField("lifetime_value", _l("Lifetime value"), "money",
                   column=PartyValue.lifetime_value, join=value_join),
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
                   choices=tuple((fuel, fuel) for fuel in FUEL_TYPES)),
        QueryField("odometer_km", _l("Odometer (km)"), "number"),
        QueryField("created_at", _l("Registered"), "datetime"),
        QueryField("branch_id", _l("Branch"), "number", branch_ops),
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
