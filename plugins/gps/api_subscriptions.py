"""The JSON API of trackers' service subscriptions under ``/api/v1/gps/subscriptions``:
thin routes over :mod:`.services.subscriptions` (list, one, start, renew)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_babel import gettext as _
from sqlalchemy import select

from carebiz import db, lists
from carebiz.api.common import Blueprint
from carebiz.concurrency import etag_headers, expected_version
from carebiz.toolkit import MAX_ID, require, saving, today, visible_or_404

from . import schemas_logistics as s
from .lists_logistics import SUBSCRIPTIONS, customer_names, reminder_days
from .models import GpsDevice, GpsSubscription, GpsSubscriptionPayment
from .services import subscriptions

ID = f"int(min=1, max={MAX_ID})"

blp = Blueprint("gps_subscriptions_api", __name__, url_prefix="/api/v1/gps/subscriptions",
                description="GPS: the platform service subscription of each tracker "
                            "(period, renewals as payments, expiry).")


def _user() -> Any:
    from flask_login import current_user

    return current_user._get_current_object()


def dump_many(rows: list[GpsSubscription], with_payments: bool = False
              ) -> list[dict[str, Any]]:
    """Subscriptions as the API answers them: the device's IMEI and vehicle, the
    customer's name as the reader may see it, the state on today's date."""
    session = db.session()
    devices = {d.id: d for d in session.scalars(
        select(GpsDevice).where(GpsDevice.id.in_({r.device_id for r in rows})))} if rows else {}
    names = customer_names(session, {r.customer_id for r in rows if r.customer_id}, _user())
    on, days = today(), reminder_days()
    out = []
    for sub in rows:
        device = devices.get(sub.device_id)
        item = {c: getattr(sub, c) for c in (
            "id", "device_id", "customer_id", "yearly_price", "currency", "start_on",
            "end_on", "reminded_for", "branch_id", "version")}
        item.update(imei=device.imei if device else "",
                    vehicle_id=device.vehicle_id if device else None,
                    customer_name=names.get(sub.customer_id) if sub.customer_id else None,
                    state=subscriptions.state(sub, on, days), expired=sub.end_on < on)
        if with_payments:
            item["payments"] = list(session.scalars(
                select(GpsSubscriptionPayment)
                .where(GpsSubscriptionPayment.subscription_id == sub.id)
                .order_by(GpsSubscriptionPayment.period_start)))
        out.append(item)
    return out


def _sub(subscription_id: int) -> GpsSubscription:
    return visible_or_404(GpsSubscription, subscription_id, _("No subscription with this id."))


@blp.route("")
class Subscriptions(MethodView):
    @require("gps.view")
    @blp.arguments(s.GpsSubscriptionListArgs, location="query")
    @blp.response(200, s.GpsSubscriptionPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Subscriptions of your branches, the soonest to end first; ``state`` =
        ``active``, ``expiring`` (within the reminder days) or ``expired``."""
        return lists.api_page(SUBSCRIPTIONS, args, dump_many)

    @require("gps.subscriptions")
    @blp.arguments(s.GpsSubscriptionCreateSchema)
    @blp.response(201, s.GpsSubscriptionSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Start the subscription of a tracker that has none (registered trackers get one
        by themselves); 409 when it has one."""
        device = visible_or_404(GpsDevice, data["device_id"], _("No tracker with this id."))
        with saving():
            sub = subscriptions.subscribe(db.session(), device, start_on=data.get("start_on"),
                                          user=_user())
        return dump_many([sub], True)[0], 201, etag_headers(sub)


@blp.route(f"/<{ID}:subscription_id>")
class SubscriptionItem(MethodView):
    @require("gps.view")
    @blp.response(200, s.GpsSubscriptionSchema)
    def get(self, subscription_id: int) -> Any:
        sub = _sub(subscription_id)
        return dump_many([sub], True)[0], 200, etag_headers(sub)


@blp.route(f"/<{ID}:subscription_id>/renew")
class SubscriptionRenew(MethodView):
    @require("gps.subscriptions")
    @blp.arguments(s.GpsSubscriptionRenewSchema)
    @blp.response(201, s.GpsSubscriptionSchema)
    def post(self, data: dict[str, Any], subscription_id: int) -> Any:
        """Renew for a year: the payment is recorded and reported as the customer's
        revenue; the year runs on from the old end (from today once expired)."""
        sub = _sub(subscription_id)
        version = expected_version(data.pop("version", None))
        with saving():
            subscriptions.renew(db.session(), sub, data, user=_user(),
                                expected_version=version)
        sub = _sub(subscription_id)
        return dump_many([sub], True)[0], 201, etag_headers(sub)
