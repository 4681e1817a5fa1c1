"""The printable waybill (core documents: HTML preview, PDF, Word at
``/documents/gps.waybill/<id>`` and ``/api/v1/documents/gps.waybill/<id>?format=…``).

The builder loads the waybill through the branch row filter with the printing user (another
branch's waybill is a 404, never printed) and answers the generic document keys — which the
Word export lays out alone — plus ``barcode``, the Code 128 SVG of the number the print
template shows (and a scanner reads) above the parties."""

from __future__ import annotations

import datetime as dt
from typing import Any

from babel.dates import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.contributions import DocumentType
from carebiz.crm.models import Vehicle
from carebiz.errors import NotFound
from carebiz.models import Branch
from carebiz.security.rows import visible
from carebiz.services import settings
from carebiz.toolkit import business_tz, host

from . import barcode
from .models import GpsWaybill
from .services import waybills


def build_waybill(session: Session, record_id: int, *, user: Any, locale: str
                  ) -> dict[str, Any]:
    """A waybill as it travels with the goods: number and barcode, shipper, consignee,
    goods, vehicle and driver, the scans so far, and the places to sign."""
    loc = str(locale or "zh_CN")
    bill = session.scalar(visible(select(GpsWaybill).where(GpsWaybill.id == record_id),
                                  GpsWaybill, user))
    if bill is None:
        raise NotFound(_("No waybill with id %(id)s.", id=record_id))
    vehicle = session.get(Vehicle, bill.vehicle_id) if bill.vehicle_id else None
    branch = session.get(Branch, bill.branch_id)

    def when(value: dt.datetime | None) -> str:
        return format_datetime(value, "short", tzinfo=business_tz(), locale=loc) if value else ""

    weight = f"{bill.weight_kg} kg" if bill.weight_kg is not None else ""
    rows = [[when(e.at), waybills.status_label(e.status),
             f"{e.latitude:.5f}, {e.longitude:.5f}" if e.latitude is not None else "",
             e.note] for e in waybills.events(session, bill)]
    return {
        "title": _("Waybill %(number)s", number=bill.number),
        "company": str(settings.get(session, host(), "core.company_name") or ""),
        "branch": branch.name if branch else "",
        "barcode": barcode.svg(bill.number, module=2.0, height=60),
        "number": bill.number,
        "parties": [(_("Shipper"), " · ".join(filter(None, [bill.shipper_name,
                                                            bill.shipper_phone]))),
                    (_("Consignee"), " · ".join(filter(None, [bill.consignee_name,
                                                              bill.consignee_phone,
                                                              bill.consignee_email]))),
                    (_("Destination"), bill.destination),
                    (_("Goods"), bill.goods),
                    (_("Pieces"), str(bill.pieces)), (_("Weight"), weight),
                    (_("Vehicle"), (vehicle.plate or vehicle.vin or "") if vehicle else ""),
                    (_("Driver"), " · ".join(filter(None, [bill.driver_name,
                                                           bill.driver_phone]))),
                    (_("Status"), waybills.status_label(bill.status))],
        "columns": [_("Time"), _("Status"), _("Position"), _("Note")],
        "rows": rows,
        "notes": bill.notes,
        "generated_at": format_datetime(dt.datetime.now(dt.UTC), "medium",
                                        tzinfo=business_tz(), locale=loc),
    }


WAYBILL_DOCUMENT = DocumentType("gps.waybill", _l("Waybill"), "gps/waybill_print.html",
                                build_waybill, permission="gps.view",
                                record_type="gps_waybill")
