"""The JSON API of waybills under ``/api/v1/gps/waybills``: thin routes over
:mod:`.services.waybills`.

Each route checks its permission, loads the waybill under the branch row filter (another
branch's waybill is a 404, also when scanned by its barcode), runs the service inside
:func:`carebiz.toolkit.saving` (one commit; an illegal status change is a 409 with
``current_status`` and ``allowed``) and answers the waybill with its ``ETag``. The list
answers from :data:`.lists_logistics.WAYBILLS`, so ``?format=csv`` exports the same rows."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_babel import gettext as _

from carebiz import db, lists
from carebiz.api.common import Blueprint
from carebiz.concurrency import etag_headers, expected_version
from carebiz.toolkit import MAX_ID, require, saving, visible_or_404

from . import schemas_logistics as s
from .lists_logistics import WAYBILLS
from .models import GpsWaybill
from .notify_consignee import notice_states, notices_on
from .services import waybills

ID = f"int(min=1, max={MAX_ID})"
EVENT_FIELDS = ("id", "from_status", "status", "at", "latitude", "longitude", "fix_time",
                "device_id", "scanned_by", "note")

blp = Blueprint("gps_waybills_api", __name__, url_prefix="/api/v1/gps/waybills",
                description="GPS: waybills of goods carried by tracked vehicles, their "
                            "scanned status changes and public tracking links.")


def _user() -> Any:
    from flask_login import current_user

    return current_user._get_current_object()


def _bill(waybill_id: int) -> GpsWaybill:
    return visible_or_404(GpsWaybill, waybill_id, _("No waybill with this id."))


def dump(bill: GpsWaybill, with_events: bool = True) -> dict[str, Any]:
    """The waybill as the API answers it, with what a scan may record now."""
    out = {c: getattr(bill, c) for c in (
        "id", "number", "status", "shipper_id", "shipper_name", "shipper_phone",
        "consignee_name", "consignee_phone", "consignee_email", "destination", "goods",
        "pieces", "weight_kg",
        "vehicle_id", "driver_name", "driver_phone", "notes", "branch_id", "created_at",
        "delivered_at", "version")}
    out["allowed"] = waybills.allowed(bill)
    if with_events:
        sess = db.session()
        history = waybills.events(sess, bill)
        notices = notice_states(sess, [e.id for e in history])
        out["events"] = [{**{c: getattr(e, c) for c in EVENT_FIELDS},
                          "notices": notices.get(e.id, [])} for e in history]
        out["consignee_notices"] = notices_on(sess, bill.branch_id)
    return out


@blp.route("")
class Waybills(MethodView):
    @require("gps.view")
    @blp.arguments(s.GpsWaybillListArgs, location="query")
    @blp.response(200, s.GpsWaybillPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Waybills of your branches, newest first; ``status``, ``vehicle_id``, ``q``."""
        return lists.api_page(WAYBILLS, args,
                              lambda rows: [dump(b, with_events=False) for b in rows])

    @require("gps.waybills")
    @blp.arguments(s.GpsWaybillCreateSchema)
    @blp.response(201, s.GpsWaybillSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Receive a consignment: it gets the next number of the day (``WB20261202-0001``)
        and its first status, ``received``, with the vehicle's position."""
        with saving():
            bill = waybills.create_waybill(db.session(), data, user=_user())
        return dump(bill), 201, etag_headers(bill)


@blp.route("/scan")
class WaybillScan(MethodView):
    @require("gps.waybills")
    @blp.arguments(s.GpsWaybillScanSchema)
    @blp.response(200, s.GpsWaybillSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """A scan of a waybill's barcode records its next status (or ``status``) with the
        vehicle's position and who scanned; 404 for a waybill you may not see, 409 with
        ``allowed`` for a status not possible now."""
        with saving():
            event = waybills.scan(db.session(), data["code"], data.get("status"),
                                  user=_user(), note=data.get("note", ""))
        bill = db.session().get(GpsWaybill, event.waybill_id)
        assert bill is not None
        return dump(bill), 200, etag_headers(bill)


@blp.route(f"/<{ID}:waybill_id>")
class WaybillItem(MethodView):
    @require("gps.view")
    @blp.response(200, s.GpsWaybillSchema)
    def get(self, waybill_id: int) -> Any:
        """The waybill with every scanned status change and its position."""
        bill = _bill(waybill_id)
        return dump(bill), 200, etag_headers(bill)


@blp.route(f"/<{ID}:waybill_id>/status")
class WaybillStatus(MethodView):
    @require("gps.waybills")
    @blp.arguments(s.GpsWaybillStatusSchema)
    @blp.response(200, s.GpsWaybillSchema)
    def post(self, data: dict[str, Any], waybill_id: int) -> Any:
        """Record the next status (or ``status``): received → loaded → in_transit →
        delivered; anything else is a 409 naming the current status and ``allowed``."""
        bill = _bill(waybill_id)
        with saving():
            waybills.move(db.session(), bill, data.get("status"), user=_user(),
                          note=data.get("note", ""),
                          expected_version=expected_version(data.get("version")))
        bill = _bill(waybill_id)
        return dump(bill), 200, etag_headers(bill)


@blp.route(f"/<{ID}:waybill_id>/token")
class WaybillToken(MethodView):
    @require("gps.waybills")
    @blp.arguments(s.GpsWaybillTokenArgs)
    @blp.response(201, s.GpsWaybillTokenSchema)
    def post(self, data: dict[str, Any], waybill_id: int) -> Any:
        """A link to the public tracking page for the consignee (no login; valid for
        ``gps.waybill_token_days``, 7). ``revoke_previous`` withdraws the links given
        before."""
        bill = _bill(waybill_id)
        with saving():
            token, expires = waybills.issue_token(db.session(), bill,
                                                  revoke_previous=data["revoke_previous"])
        return {"token": token, "expires_at": expires,
                "url": url_for("gps_track.track", number=bill.number, t=token,
                               _external=True)}, 201
