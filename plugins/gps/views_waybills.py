"""Pages of waybills and service subscriptions under ``/gps`` (blueprint ``gps_logistics``),
and the public tracking page ``/track/<number>?t=<token>`` (blueprint ``gps_track``).

Lists read their list definitions (the page, the API and the Export control list the same
rows); record pages offer exactly the moves the state allows; every form posts to a service
through :func:`carebiz.toolkit.saving`. The tracking page needs no login: the signed token
is the permission, it shows the status and the last position only, and it is rate limited
per address (``CAREBIZ_GPS_TRACK_LIMIT``, default ``30/minute``) with the storage the login
throttle uses, so several workers share one count."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from carebiz import db, lists
from carebiz.concurrency import parse_version
from carebiz.crm.models import Vehicle
from carebiz.security import visible
from carebiz.toolkit import can, form_status, require, saving, today, visible_or_404
from carebiz.web.admin_forms import options

from . import barcode
from . import forms_logistics as f
from .lists_logistics import (
    STATE_LABELS,
    SUBSCRIPTIONS,
    WAYBILLS,
    customer_names,
    reminder_days,
)
from .models import GpsDevice, GpsSubscription, GpsSubscriptionPayment, GpsWaybill
from .notify_consignee import notice_states, notices_on
from .services import subscriptions, waybills

bp = Blueprint("gps_logistics", __name__, url_prefix="/gps", template_folder="templates")
public_bp = Blueprint("gps_track", __name__, url_prefix="/track", template_folder="templates")

TRACK_LIMIT = "CAREBIZ_GPS_TRACK_LIMIT"
LIMITER = "gps.track_limiter"


def _user() -> Any:
    return current_user._get_current_object()


@bp.context_processor
def _words() -> dict[str, Any]:
    return {"status_label": waybills.status_label,
            "method_label": lambda code: str(f.METHOD_LABELS.get(code, code)),
            "state_label": lambda code: str(STATE_LABELS.get(code, code))}


@bp.app_context_processor
def _subscription_flag() -> dict[str, Any]:
    """``gps_subscription_of(device_id)`` in every template: the device page shows its
    subscription (and whether it expired) without the devices view knowing of it."""
    return {"gps_subscription_of": subscription_flag}


def subscription_flag(device_id: int) -> dict[str, Any] | None:
    """The device's subscription as the device page shows it: id, last day and state."""
    sub = subscriptions.for_device(db.session(), device_id)
    if sub is None:
        return None
    return {"id": sub.id, "end_on": sub.end_on,
            "state": subscriptions.state(sub, today(), reminder_days())}


# --- waybills ---------------------------------------------------------------------------


@bp.get("/waybills")
@require("gps.view")
def waybills_list() -> Any:
    sess = db.session()
    listed = lists.prepare(WAYBILLS, request.args, sess, _user())
    page = lists.page(listed, sess, request.args.get("page", 1, type=int) or 1, clamp=True)
    cars = _plates({b.vehicle_id for b in page.items})
    return render_template("gps/waybills.html", page=page, values=listed.values,
                           sort=listed.sort, q=listed.q, list_name=WAYBILLS.name, cars=cars,
                           statuses=waybills.STATUSES)


def _plates(ids: set[int | None]) -> dict[int, str]:
    wanted = sorted(i for i in ids if i)
    if not wanted:
        return {}
    stmt = visible(select(Vehicle.id, Vehicle.plate, Vehicle.vin)
                   .where(Vehicle.id.in_(wanted)), Vehicle, _user())
    return {i: plate or vin or str(i) for i, plate, vin in db.session().execute(stmt)}


def _tracked_vehicles() -> list[Any]:
    """The vehicles with an active tracker the user may see, for the waybill form."""
    stmt = (select(Vehicle.id, Vehicle.plate, Vehicle.vin)
            .join(GpsDevice, GpsDevice.vehicle_id == Vehicle.id)
            .where(GpsDevice.status == "active").order_by(Vehicle.plate).limit(500))
    rows = db.session().execute(visible(stmt, Vehicle, _user())).all()
    return options([("", _("No vehicle yet"))] + [(str(i), plate or vin or str(i))
                                                  for i, plate, vin in rows])


@bp.route("/waybills/new", methods=["GET", "POST"])
@require("gps.waybills")
def waybill_new() -> Any:
    form = f.WaybillForm()
    form.vehicle_id.choices = _tracked_vehicles()
    if form.validate_on_submit():
        with saving(form) as done:
            bill = waybills.create_waybill(db.session(), form.payload(), user=_user())
        if done.ok:
            return redirect(url_for(".waybill", waybill_id=bill.id))
    return render_template("gps/waybill_form.html", form=form), form_status(form)


def _render_waybill(bill: GpsWaybill, form: Any = None, status: int = 200,
                    link: tuple[str, Any] | None = None) -> Any:
    from carebiz.documents.service import offered

    sess = db.session()
    plate = _plates({bill.vehicle_id}).get(bill.vehicle_id or 0, "")
    history = waybills.events(sess, bill)
    return render_template(
        "gps/waybill.html", bill=bill, events=history, plate=plate,
        notices=notice_states(sess, [e.id for e in history]),
        notices_on=notices_on(sess, bill.branch_id),
        allowed=waybills.allowed(bill), form=form or f.MoveForm(version=bill.version),
        svg=barcode.svg(bill.number), link=link,
        may_scan=can(_user(), "gps.waybills"),
        documents=offered("gps_waybill", _user())), status


@bp.get("/waybills/<int:waybill_id>")
@require("gps.view")
def waybill(waybill_id: int) -> Any:
    return _render_waybill(visible_or_404(GpsWaybill, waybill_id))


@bp.post("/waybills/<int:waybill_id>/status")
@require("gps.waybills")
def waybill_status(waybill_id: int) -> Any:
    bill = visible_or_404(GpsWaybill, waybill_id)
    form = f.MoveForm()
    if form.validate_on_submit():
        with saving(form) as done:
            waybills.move(db.session(), bill, form.status.data or None, user=_user(),
                          note=form.note.data or "",
                          expected_version=parse_version(form.version.data))
        if done.ok:
            return redirect(url_for(".waybill", waybill_id=bill.id))
    bill = visible_or_404(GpsWaybill, waybill_id)
    return _render_waybill(bill, form, form_status(form) if form.errors else 409)


@bp.post("/waybills/<int:waybill_id>/link")
@require("gps.waybills")
def waybill_link(waybill_id: int) -> Any:
    """Issue a tracking link for the consignee and show it on the waybill's page."""
    bill = visible_or_404(GpsWaybill, waybill_id)
    form = f.MoveForm()
    if not form.validate_on_submit():
        return _render_waybill(bill, status=400)
    with saving() as done:
        token, expires = waybills.issue_token(
            db.session(), bill, revoke_previous=request.form.get("revoke") == "1")
    if not done.ok:
        return _render_waybill(bill, status=409)
    url = url_for("gps_track.track", number=bill.number, t=token, _external=True)
    return _render_waybill(bill, link=(url, expires))


@bp.route("/waybills/scan", methods=["GET", "POST"])
@require("gps.waybills")
def scan() -> Any:
    """The scanning page: a barcode reader types the number and Enter; each scan records
    the waybill's next status and the page is ready for the next parcel."""
    form = f.ScanForm()
    done_event = None
    if form.validate_on_submit():
        with saving(form, aliases={"status": "code"}) as done:
            done_event = waybills.scan(db.session(), form.code.data or "", user=_user(),
                                       note=form.note.data or "")
        if done.ok:
            bill = db.session().get(GpsWaybill, done_event.waybill_id)
            return render_template("gps/waybill_scan.html", form=f.ScanForm(formdata=None),
                                   last=bill, event=done_event)
    return render_template("gps/waybill_scan.html", form=form, last=None,
                           event=None), form_status(form)


# --- subscriptions ----------------------------------------------------------------------


@bp.get("/subscriptions")
@require("gps.view")
def subscriptions_list() -> Any:
    sess = db.session()
    listed = lists.prepare(SUBSCRIPTIONS, request.args, sess, _user())
    page = lists.page(listed, sess, request.args.get("page", 1, type=int) or 1, clamp=True)
    devices = {d.id: d for d in sess.scalars(select(GpsDevice).where(
        GpsDevice.id.in_({s.device_id for s in page.items})))} if page.items else {}
    plates = _plates({d.vehicle_id for d in devices.values()})
    names = customer_names(sess, {s.customer_id for s in page.items if s.customer_id},
                           _user())
    on, days = today(), reminder_days()
    return render_template("gps/subscriptions.html", page=page, values=listed.values,
                           sort=listed.sort, q=listed.q, list_name=SUBSCRIPTIONS.name,
                           devices=devices, plates=plates, names=names,
                           state=lambda s: subscriptions.state(s, on, days))


def _render_subscription(sub: GpsSubscription, form: Any = None, status: int = 200) -> Any:
    sess = db.session()
    device = sess.get(GpsDevice, sub.device_id)
    payments = sess.scalars(select(GpsSubscriptionPayment)
                            .where(GpsSubscriptionPayment.subscription_id == sub.id)
                            .order_by(GpsSubscriptionPayment.period_start.desc())).all()
    names = customer_names(sess, {sub.customer_id} if sub.customer_id else set(), _user())
    return render_template(
        "gps/subscription.html", sub=sub, device=device, payments=payments,
        plate=_plates({device.vehicle_id if device else None}).get(
            device.vehicle_id if device and device.vehicle_id else 0, ""),
        customer=names.get(sub.customer_id or 0),
        state=subscriptions.state(sub, today(), reminder_days()),
        form=form or f.RenewForm(version=sub.version),
        may_renew=can(_user(), "gps.subscriptions")), status


@bp.get("/subscriptions/<int:subscription_id>")
@require("gps.view")
def subscription(subscription_id: int) -> Any:
    return _render_subscription(visible_or_404(GpsSubscription, subscription_id))


@bp.post("/subscriptions/<int:subscription_id>/renew")
@require("gps.subscriptions")
def subscription_renew(subscription_id: int) -> Any:
    sub = visible_or_404(GpsSubscription, subscription_id)
    form = f.RenewForm()
    if form.validate_on_submit():
        with saving(form) as done:
            subscriptions.renew(db.session(), sub, {
                "amount": form.amount.data or None, "method": form.method.data,
                "reference": form.reference.data or "", "paid_on": form.paid_on.data or None},
                user=_user(), expected_version=parse_version(form.version.data))
        if done.ok:
            return redirect(url_for(".subscription", subscription_id=sub.id))
    sub = visible_or_404(GpsSubscription, subscription_id)
    return _render_subscription(sub, form, form_status(form))


def menu_items() -> list[Any]:
    """Waybills and subscriptions in the "GPS" dropdown (``parent="gps"``; shown in the top
    bar by themselves while the GPS pages' own item is not registered). Scanning is a tab of
    the waybill pages, so the dropdown stays short."""
    from carebiz.contributions import MenuItem

    return [MenuItem("gps.waybills", _l("Waybills"), "gps_logistics.waybills_list",
                     permission="gps.view", weight=6, parent="gps", icon="box-seam"),
            MenuItem("gps.subscriptions", _l("GPS subscriptions"),
                     "gps_logistics.subscriptions_list", permission="gps.view", weight=8,
                     parent="gps", icon="calendar-check")]


# --- the public tracking page -----------------------------------------------------------


def _limited() -> int | None:
    """Seconds to wait when this address has asked too often, else None (the request is
    counted). An unreachable storage lets the request through (logged by ``limits``)."""
    from limits import parse
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    from carebiz.security.throttle import storage_url

    limiter = current_app.extensions.get(LIMITER)
    if limiter is None:
        limiter = MovingWindowRateLimiter(storage_from_string(storage_url(current_app.config)))
        current_app.extensions[LIMITER] = limiter
    item = parse(str(current_app.config.get(TRACK_LIMIT) or "30/minute"))
    key = request.remote_addr or "-"
    try:
        if limiter.hit(item, "gps.track", key):
            return None
        reset = limiter.get_window_stats(item, "gps.track", key).reset_time
    except Exception:  # noqa: BLE001 - an outage of the storage must not close the page
        current_app.logger.warning("gps tracking rate limit storage unavailable")
        return None
    import time

    return max(1, int(reset - time.time()))


@public_bp.get("/<number>")
def track(number: str) -> Any:
    """The consignee's view of a waybill: status, times and the last position."""
    wait = _limited()
    if wait is not None:
        return render_template("gps/track.html", refused="limited", wait=wait), 429, {
            "Retry-After": str(wait)}
    try:
        bill = waybills.read_token(db.session(), number[:40], request.args.get("t", ""))
    except waybills.TokenRefused as refused:
        code = 410 if refused.reason == "expired" else 404
        return render_template("gps/track.html", refused=refused.reason), code
    return render_template("gps/track.html", refused=None,
                           view=waybills.public_view(db.session(), bill))
