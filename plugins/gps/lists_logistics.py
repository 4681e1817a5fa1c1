"""The waybills and subscriptions lists, declared once (``carebiz.lists``) so their pages,
their API and every export format list the same rows in the same order.

A subscription row names the vehicle's owner only to readers who may see that customer
(a customer of another branch reads "a customer of another branch", as everywhere in the
platform); the names are looked up once per batch of rows, never per row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from carebiz import db
from carebiz.crm.models import Party, Vehicle
from carebiz.export.table import DATE, DATETIME, MONEY, NUMBER, Column
from carebiz.lists import CHOICE, ID, ExportSpec, Filter, ListDefinition, Search, Searched
from carebiz.security import visible
from carebiz.services import settings
from carebiz.toolkit import host, today

from .models import GpsDevice, GpsSubscription, GpsWaybill
from .services.subscriptions import REMINDER_DAYS, STATES, state
from .services.waybills import STATUSES, status_label

STATE_LABELS = {"active": _l("Active"), "expiring": _l("Ending soon"), "expired": _l("Expired")}
SUBSCRIPTION_STATES = (*STATES, "all")


def _eq(column: Any) -> Any:
    return lambda stmt, value, user: stmt.where(column == value)


# --- waybills ---------------------------------------------------------------------------


def _waybill_search(session: Session, user: Any, stmt: Select[Any], q: str) -> Searched:
    code = "".join(q.split()).upper()
    return Searched(stmt.where(or_(GpsWaybill.number.contains(code, autoescape=True),
                                   GpsWaybill.consignee_name.icontains(q, autoescape=True),
                                   GpsWaybill.shipper_name.icontains(q, autoescape=True),
                                   GpsWaybill.goods.icontains(q, autoescape=True),
                                   Vehicle.plate.icontains(q, autoescape=True))))


def _waybill_base() -> Select[Any]:
    return select(GpsWaybill).outerjoin(Vehicle, Vehicle.id == GpsWaybill.vehicle_id)


def _waybill_rows(session: Session, user: Any, stmt: Select[Any]) -> Iterator[dict[str, Any]]:
    for bill, plate in session.execute(stmt.add_columns(Vehicle.plate)
                                       .execution_options(yield_per=500)):
        yield {"id": bill.id, "number": bill.number, "status": status_label(bill.status),
               "shipper": bill.shipper_name, "consignee": bill.consignee_name,
               "destination": bill.destination, "goods": bill.goods, "pieces": bill.pieces,
               "weight_kg": bill.weight_kg, "plate": plate or "", "driver": bill.driver_name,
               "created_at": bill.created_at, "delivered_at": bill.delivered_at}


WAYBILLS = ListDefinition(
    name="gps.waybills", label=_l("Waybills"), model=GpsWaybill, key=GpsWaybill.id,
    base=_waybill_base, permission="gps.view", page="gps_logistics.waybills_list",
    api="gps_waybills_api.Waybills",
    filters=(
        Filter("status", _l("Status"), type=CHOICE, choices=STATUSES,
               apply=_eq(GpsWaybill.status)),
        Filter("vehicle_id", _l("Vehicle"), type=ID, apply=_eq(GpsWaybill.vehicle_id)),
        Filter("branch_id", _l("Branch"), type=ID, apply=_eq(GpsWaybill.branch_id)),
    ),
    search=Search(_waybill_search, label=_l("Number, consignee, goods or plate"),
                  max_length=80),
    sorts={"created_at": GpsWaybill.created_at, "number": GpsWaybill.number,
           "status": GpsWaybill.status},
    default_sort="-created_at",
    export=ExportSpec(_l("Waybills"), lambda user: [
        Column("id", _l("Id"), NUMBER), Column("number", _l("Number")),
        Column("status", _l("Status")), Column("shipper", _l("Shipper")),
        Column("consignee", _l("Consignee")), Column("destination", _l("Destination")),
        Column("goods", _l("Goods")), Column("pieces", _l("Pieces"), NUMBER),
        Column("weight_kg", _l("Weight (kg)"), NUMBER), Column("plate", _l("Vehicle")),
        Column("driver", _l("Driver")), Column("created_at", _l("Received"), DATETIME),
        Column("delivered_at", _l("Delivered"), DATETIME)], _waybill_rows),
)


# --- subscriptions ----------------------------------------------------------------------


def reminder_days() -> int:
    try:
        return max(0, int(settings.get(db.session(), host(), REMINDER_DAYS) or 0))
    except Exception:  # noqa: BLE001 - a list must not fail on a missing setting
        return 7


def state_condition(value: str, on: dt.date | None = None) -> Any:
    """The SQL condition of a subscription state on ``on`` (today)."""
    on = on or today()
    soon = on + dt.timedelta(days=reminder_days())
    if value == "expired":
        return GpsSubscription.end_on < on
    if value == "expiring":
        return GpsSubscription.end_on.between(on, soon)
    return GpsSubscription.end_on > soon


def _state(stmt: Select[Any], value: str, user: Any) -> Select[Any]:
    return stmt if value == "all" else stmt.where(state_condition(value))


def _subscription_search(session: Session, user: Any, stmt: Select[Any], q: str) -> Searched:
    return Searched(stmt.where(or_(GpsDevice.imei.contains(q.replace(" ", ""),
                                                           autoescape=True),
                                   Vehicle.plate.icontains(q, autoescape=True))))


def _subscription_base() -> Select[Any]:
    return (select(GpsSubscription).join(GpsDevice, GpsDevice.id == GpsSubscription.device_id)
            .outerjoin(Vehicle, Vehicle.id == GpsDevice.vehicle_id))


def customer_names(session: Session, ids: set[int], user: Any) -> dict[int, str]:
    """Names of the customers ``user`` may see among ``ids``; the others read masked."""
    if not ids:
        return {}
    seen = dict(session.execute(visible(select(Party.id, Party.name).where(Party.id.in_(ids)),
                                        Party, user)).all())
    hidden = _("a customer of another branch")
    return {i: seen.get(i, hidden) for i in ids}


def _subscription_rows(session: Session, user: Any, stmt: Select[Any]
                       ) -> Iterator[dict[str, Any]]:
    batch: list[Any] = []
    on, days = today(), reminder_days()

    def flush() -> Iterator[dict[str, Any]]:
        names = customer_names(session, {s.customer_id for s, _i, _p in batch
                                         if s.customer_id}, user)
        for sub, imei, plate in batch:
            yield {"id": sub.id, "imei": imei, "plate": plate or "",
                   "customer": names.get(sub.customer_id, "") if sub.customer_id else "",
                   "start_on": sub.start_on, "end_on": sub.end_on,
                   "state": str(STATE_LABELS[state(sub, on, days)]),
                   "yearly_price": sub.yearly_price, "currency": sub.currency}
        batch.clear()

    rows = stmt.add_columns(GpsDevice.imei, Vehicle.plate).execution_options(yield_per=500)
    for row in session.execute(rows):
        batch.append(tuple(row))
        if len(batch) >= 500:
            yield from flush()
    yield from flush()


SUBSCRIPTIONS = ListDefinition(
    name="gps.subscriptions", label=_l("GPS subscriptions"), model=GpsSubscription,
    key=GpsSubscription.id, base=_subscription_base, permission="gps.view",
    page="gps_logistics.subscriptions_list", api="gps_subscriptions_api.Subscriptions",
    filters=(
        Filter("state", _l("State"), type=CHOICE, choices=SUBSCRIPTION_STATES,
               default="all", apply=_state),
        Filter("customer_id", _l("Customer"), type=ID, apply=_eq(GpsSubscription.customer_id)),
        Filter("branch_id", _l("Branch"), type=ID, apply=_eq(GpsSubscription.branch_id)),
    ),
    search=Search(_subscription_search, label=_l("IMEI or plate"), max_length=40),
    sorts={"end_on": GpsSubscription.end_on, "id": GpsSubscription.id,
           "plate": Vehicle.plate},
    default_sort="end_on",
    export=ExportSpec(_l("GPS subscriptions"), lambda user: [
        Column("id", _l("Id"), NUMBER), Column("imei", _l("IMEI")),
        Column("plate", _l("Vehicle")), Column("customer", _l("Customer")),
        Column("start_on", _l("Since"), DATE), Column("end_on", _l("Until"), DATE),
        Column("state", _l("State")),
        Column("yearly_price", _l("Yearly price"), MONEY, currency_key="currency"),
        Column("currency", _l("Currency"))], _subscription_rows),
)
