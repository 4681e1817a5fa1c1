"""The plugin module named by the ``carebiz.plugins`` entry point ``gps``.

The manifest says who the plugin is; the hook implementations hand the platform what GPS
adds (tables, permissions, settings, row filters, commands). They only compose: the work is
done in ``services`` and ``ingest``. Other parts of the plugin (API, pages, alarms, rules) add
their hook lines in the clearly marked blocks below.
"""

from __future__ import annotations

import datetime as dt
import inspect
from typing import TYPE_CHECKING, Any

import flask
import flask_smorest
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, select

from carebiz import hookimpl
from carebiz.contributions import (
    AuditLabels,
    DocumentType,
    EventReceiver,
    Permission,
    RecordPage,
    ScheduledJob,
    SettingSpec,
    Task,
    TimelineKind,
)
from carebiz.db import Base
from carebiz.plugins import PluginManifest

from . import __version__
from . import models as gps_models
from .permissions import permission_specs
from .settings import setting_specs

if TYPE_CHECKING:
    import click
    from sqlalchemy.orm import Session

    from carebiz.contributions import ExportTable, MenuItem, Panel, QuerySource, Report
    from carebiz.crm.models import Party
    from carebiz.models import Branch, User

manifest = PluginManifest(
    name="gps",
    version=__version__,
    label=_l("GPS tracking"),
    description=_l("GT06 trackers and phone apps: live map, playback, mileage, alarms, "
                   "geofences and remote cut-off of vehicles."),
    package="carebiz_plugins.gps",
)


def _tables() -> list[type[Base]]:
    """Every ``gps_…`` model declared in :mod:`.models`."""
    return [obj for _name, obj in inspect.getmembers(gps_models, inspect.isclass)
            if issubclass(obj, Base) and obj.__module__ == gps_models.__name__
            and str(getattr(obj, "__tablename__", "")).startswith("gps_")]


@hookimpl
def models() -> list[type[Base]]:
    return _tables()


@hookimpl
def permissions() -> list[Permission]:
    """Tracking's and logistics' permissions (listed in :mod:`.permissions`)."""
    return permission_specs()


@hookimpl
def settings() -> list[SettingSpec]:
    """Every part's settings (listed in :mod:`.settings`)."""
    return setting_specs()


@hookimpl
def row_filters(model: type[Base], user: Any) -> list[Any] | None:
    """Positions, live state, trips, stops and daily mileage carry no branch of their own:
    a user sees them for the devices of the branches they work in (same rule as the core's
    branch rule on the device)."""
    if model not in gps_models.DEVICE_SCOPED:
        return None
    if user is None or not getattr(user, "is_authenticated", False):
        return [false()]
    if user.all_branches or user.is_superuser:
        return None
    ids = sorted(user.branch_ids)
    if not ids:
        return [false()]
    device = gps_models.GpsDevice
    return [model.device_id.in_(  # type: ignore[attr-defined]
        select(device.id).where(device.branch_id.in_(ids)))]


@hookimpl
def cli_commands() -> list[click.Command]:
    """``carebiz gps …``. The group comes through :mod:`.cli_logistics`, which adds its
    commands (``reminders``, ``subscribe-all``) to the group of :mod:`.cli` when imported:
    taking the group from there makes sure they are on it."""
    from .cli_logistics import gps_cli

    return [gps_cli]


# --- hooks of the other GPS parts (gapi: api_blueprints, query_sources, reports;
# --- gpages: web_blueprints, menu_items, vehicle_panels, customer_panels; grules: none)
# --- go below this line, each in its own block ---------------------------------------------

# --- gapi: the JSON API, the pages switched on, query sources and reports -------------------


@hookimpl
def timeline_kinds() -> list[TimelineKind]:
    """A tracker fitted to a customer's car lands on the customer's timeline."""
    return [TimelineKind("gps.device", _l("GPS tracker fitted"), "geo-alt", weight=600),
            TimelineKind("gps.subscription_reminder", _l("GPS service renewal due"),
                         "broadcast", weight=601)]


# --- gsubs: service subscriptions and waybills (their permissions and settings are in
# --- permissions.py and settings.py; the OsmAnd ingest's (gscale) settings too) -------------


@hookimpl
def event_receivers() -> list[EventReceiver]:
    """A new tracker gets its service subscription (gsubs); the alarm rules' cached
    configuration is dropped when devices, geofences, groups, vehicles or settings change in
    this process (grules: a separate ingest process waits for the cache's 30 s to run out);
    alarms go out through the core's notify service (gnotify)."""
    from .notify import receivers as notify_receivers
    from .notify_consignee import receivers as consignee_receivers
    from .services import alarms
    from .services.subscriptions import on_device_registered
    from .signals import device_registered

    return [EventReceiver(device_registered, on_device_registered,
                          name="gps.subscribe_new_device"),
            *(EventReceiver(signal, alarms.invalidate, name=f"gps.rules_cache.{signal.name}",
                            weight=10) for signal in alarms.invalidating_signals()),
            # gnotify: alarms reach the people who watch the car (plugins/gps/notify.py)
            *notify_receivers(),
            # notice: each waybill scan reaches the consignee (plugins/gps/notify_consignee.py)
            *consignee_receivers()]


def _reminders_task(ctx: Any, **_params: Any) -> dict[str, int]:
    from carebiz import db

    from .services.subscriptions import send_reminders

    sent = send_reminders(db.session())
    db.session().commit()
    return {"sent": sent}


@hookimpl
def tasks() -> list[Task]:
    from .services.retention import run_task as partitions_task  # gpart

    return [Task("gps.subscription_reminders", _l("Send GPS service renewal reminders"),
                 _reminders_task, permission="gps.subscriptions"),
            # gpart: monthly partitions of gps_position and retention (services/retention.py)
            Task("gps.partitions", _l("Create GPS position partitions and apply retention"),
                 partitions_task, permission="admin.settings")]


@hookimpl
def scheduled_jobs() -> list[ScheduledJob]:
    return [ScheduledJob("gps.daily_subscription_reminders", "gps.subscription_reminders",
                         dt.timedelta(days=1)),
            ScheduledJob("gps.daily_partitions", "gps.partitions", dt.timedelta(days=1))]


@hookimpl
def record_pages() -> list[RecordPage]:
    return [RecordPage("gps_waybill", "gps_logistics.waybill", "waybill_id", "gps.view",
                       label=_l("Waybill")),
            RecordPage("gps_subscription", "gps_logistics.subscription", "subscription_id",
                       "gps.view", label=_l("GPS subscription"))]


# --- gapi: the JSON API, pages, panels, exports, query sources and reports -----------------


@hookimpl
def api_blueprints() -> list[flask_smorest.Blueprint]:
    from . import api_subscriptions, api_waybills
    from .api import blp

    return [blp, api_waybills.blp, api_subscriptions.blp]


@hookimpl
def web_blueprints() -> list[flask.Blueprint]:
    """The pages, the waybill pages and their public tracking page, and the OsmAnd HTTP
    ingest route (no login: phone apps post there)."""
    from . import views_waybills
    from .ingest.http import bp as osmand_bp
    from .views import bp

    return [bp, views_waybills.bp, views_waybills.public_bp, osmand_bp]


@hookimpl
def menu_items(user: Any) -> list[MenuItem]:
    from . import views_waybills
    from .views import menu_items as items

    return [*items(), *views_waybills.menu_items()]


@hookimpl
def customer_panels(session: Session, customer: Any, user: Any) -> list[Panel]:
    from .panel import customer_panel

    return customer_panel(session, customer, user)


@hookimpl
def vehicle_panels(session: Session, vehicle: Any, user: Any) -> list[Panel]:
    from .panel import vehicle_panel

    return vehicle_panel(session, vehicle, user)


@hookimpl
def export_tables() -> list[ExportTable]:
    from carebiz.contributions import ExportTable

    from .device_list import DEVICES
    from .lists_logistics import SUBSCRIPTIONS, WAYBILLS

    return [ExportTable.of_list(DEVICES), ExportTable.of_list(WAYBILLS),
            ExportTable.of_list(SUBSCRIPTIONS)]


@hookimpl
def query_sources() -> list[QuerySource]:
    """Trips, stops, daily mileage and alarms for the query service (never positions: see
    :mod:`.queries`)."""
    from .queries import SOURCES

    return list(SOURCES)


@hookimpl
def reports() -> list[Report]:
    from .queries import REPORTS

    return list(REPORTS)


# --- gnotify: position enquiries by text message (plugins/gps/notify.py) ---------------------


@hookimpl
def inbound_message(session: Any, text: str, user: Any) -> str | None:
    from .notify import position_reply

    return position_reply(session, text, user)


# --- gsubs: documents, demo data, merges and history of waybills and subscriptions -------


@hookimpl
def document_types() -> list[DocumentType]:
    from .documents_logistics import WAYBILL_DOCUMENT

    return [WAYBILL_DOCUMENT]


@hookimpl
def demo_data(session: Session, branches: list[Branch], users: dict[str, User]) -> None:
    from .demo_logistics import load

    load(session, branches, users)


@hookimpl
def customer_merge(session: Session, keep: Party, remove: Party) -> None:
    """Subscriptions billed to, and waybills shipped by, the merged-away customer now name
    the one kept, in the merge's own transaction (versioned rows are bumped, so open forms
    see the change)."""
    from sqlalchemy import update

    from carebiz.concurrency import bumped

    for model, column in ((gps_models.GpsSubscription, "customer_id"),
                          (gps_models.GpsWaybill, "shipper_id")):
        session.execute(update(model).where(model.__table__.c[column] == remove.id)
                        .values({column: keep.id, **bumped(model)}))


@hookimpl
def audit_labels() -> list[AuditLabels]:
    """How the history of waybills and subscriptions reads (statuses by name, customers
    and vehicles by name — masked for readers who may not see them)."""
    from .services.waybills import STATUS_LABELS

    return [
        AuditLabels("gps_waybill", fields={
            "number": _l("Number"), "status": _l("Status"), "vehicle_id": _l("Vehicle"),
            "pieces": _l("Pieces"), "weight_kg": _l("Weight (kg)"), "goods": _l("Goods"),
            "branch_id": _l("Branch")},
            values={"status": dict(STATUS_LABELS)},
            references={"vehicle_id": "vehicle", "branch_id": "branch"},
            events={"gps.waybill.created": _l("Waybill received"),
                    "gps.waybill.status_changed": _l("Waybill scanned"),
                    "gps.waybill.link_issued": _l("Tracking link issued")}),
        AuditLabels("gps_subscription", fields={
            "customer_id": _l("Customer"), "yearly_price": _l("Yearly price"),
            "currency": _l("Currency"), "start_on": _l("Since"), "end_on": _l("Until"),
            "payment_id": _l("Payment"), "amount": _l("Amount"), "device_id": _l("Tracker")},
            references={"customer_id": "party"},
            events={"gps.subscription.started": _l("GPS subscription started"),
                    "gps.subscription.renewed": _l("GPS subscription renewed")}),
    ]

