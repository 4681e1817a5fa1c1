"""The devices list, declared once (``carebiz.lists``) so the devices page, the API and every
export format list the same trackers in the same order for the same arguments.

Written by the pages (gpages) because no list of devices existed yet; the API's
``GET /api/v1/gps/devices`` can read the same definition (``DEVICES``), and the plugin
registers its export with ``ExportTable.of_list(DEVICES)``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from carebiz.crm.models import Vehicle
from carebiz.export.table import DATETIME, NUMBER, Column
from carebiz.lists import CHOICE, ExportSpec, Filter, ListDefinition, Search, Searched

from .models import GpsDevice

#: "registered" (the default) is every device but the pending ones, which the page lists
#: apart for assignment
STATUS_CHOICES = ("registered", "active", "disabled", "pending", "all")


def _status(stmt: Select[Any], value: str, user: Any) -> Select[Any]:
    if value == "all":
        return stmt
    if value == "registered":
        return stmt.where(GpsDevice.status != "pending")
    return stmt.where(GpsDevice.status == value)


def _search(session: Session, user: Any, stmt: Select[Any], q: str) -> Searched:
    digits = q.replace(" ", "")
    return Searched(stmt.where(or_(GpsDevice.imei.contains(digits, autoescape=True),
                                   Vehicle.plate.icontains(q, autoescape=True),
                                   GpsDevice.label.icontains(q, autoescape=True))))


def _columns(user: Any) -> list[Column]:
    return [Column("id", _l("Id"), NUMBER), Column("imei", _l("IMEI")),
            Column("plate", _l("Vehicle")), Column("status", _l("Status")),
            Column("model", _l("Model")), Column("protocol", _l("Protocol")),
            Column("phone", _l("SIM")), Column("last_seen", _l("Last seen"), DATETIME)]


def _rows(session: Session, user: Any, stmt: Select[Any]) -> Iterator[dict[str, Any]]:
    plates = stmt.add_columns(Vehicle.plate)
    for device, plate in session.execute(plates.execution_options(yield_per=500)):
        yield {"id": device.id, "imei": device.imei, "plate": plate or "",
               "status": device.status, "model": device.model, "protocol": device.protocol,
               "phone": device.phone, "last_seen": device.last_seen}


def _base() -> Select[Any]:
    """Devices with their vehicle joined, for the plate search, sort and export."""
    return select(GpsDevice).outerjoin(Vehicle, Vehicle.id == GpsDevice.vehicle_id)


DEVICES = ListDefinition(
    name="gps.devices", label=_l("Devices"), model=GpsDevice, key=GpsDevice.id,
    base=_base,
    permission="gps.manage", page="gps.devices", api="gps_api.Devices",
    filters=(Filter("status", _l("Status"), type=CHOICE, choices=STATUS_CHOICES,
                    default="registered", apply=_status),),
    search=Search(_search, label=_l("IMEI, plate or label"), max_length=40),
    sorts={"id": GpsDevice.id, "imei": GpsDevice.imei, "plate": Vehicle.plate,
           "last_seen": GpsDevice.last_seen},
    default_sort="-id",
    export=ExportSpec(_l("Devices"), _columns, _rows),
)
