"""GPS through the core notify service: alarms as notices to the people who watch the
vehicle, and a vehicle's position answered to a text message naming its plate or IMEI.

Who watches a vehicle: every active user holding ``gps.view`` who works in the alarm's
branch (or in every branch). Each gets the notice in their own language (in-app, and by
e-mail when it is configured and they have not switched it off).

Who may ask by text message: the core answers only senders whose number is a user's
registered phone, and hands us that user; we answer only about devices of branches that
user sees with ``gps.view``. A plate or IMEI of another branch reads exactly like one that
does not exist ("not found"), so the reply never tells what is tracked elsewhere.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from carebiz.contributions import EventReceiver
from carebiz.crm.models import Vehicle
from carebiz.crm.search_keys import plate_key
from carebiz.models import User
from carebiz.notify import Notice, Recipient, absolute_link, locale_of, send
from carebiz.security import can
from carebiz.signals import receiver_session
from carebiz.toolkit import business_tz

from . import signals
from .labels import alarm_label
from .models import GpsDevice, GpsDeviceState

log = logging.getLogger(__name__)

VIEW = "gps.view"
#: an IMEI: 15 digits (some trackers report 14 or 16)
IMEI = re.compile(r"^\d{14,16}$")
#: what can be a plate once separators are gone: letters and digits, with a digit
PLATE = re.compile(r"^(?=.*\d)[0-9A-Z\u4e00-\u9fff]{5,10}$")


def _sees_branch(user: User, branch_id: int | None) -> bool:
    if user.all_branches or user.is_superuser:
        return True
    return branch_id is not None and branch_id in user.branch_ids


def watchers(session: Session, branch_id: int | None) -> list[User]:
    """The active users who watch vehicles of ``branch_id``: ``gps.view`` and the branch."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id))
    return [u for u in users if can(u, VIEW) and _sees_branch(u, branch_id)]


def _name(device: GpsDevice, vehicle: Vehicle | None) -> str:
    """How the vehicle is called in a message: its plate, else its VIN, else the tracker."""
    if vehicle is not None and (vehicle.plate or vehicle.vin):
        return str(vehicle.plate or vehicle.vin)
    return device.label or device.imei


def _local(moment: dt.datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(business_tz()).strftime("%Y-%m-%d %H:%M")


def _where(latitude: float | None, longitude: float | None) -> str:
    if latitude is None or longitude is None:
        return ""
    return f"{latitude:.5f},{longitude:.5f}"


def alarm_notices(session: Session, alarm_id: int, device_id: int, vehicle_id: int | None,
                  branch_id: int | None, type: str, fix_time: dt.datetime,  # noqa: A002
                  latitude: float | None, longitude: float | None) -> list[Notice]:
    """One notice per watcher, each in the watcher's language."""
    device = session.get(GpsDevice, device_id)
    if device is None:
        return []
    vehicle = session.get(Vehicle, vehicle_id) if vehicle_id is not None else None
    name = _name(device, vehicle)
    where = _where(latitude, longitude)
    notices = []
    for user in watchers(session, branch_id):
        with force_locale(locale_of(user)):
            subject = _("%(alarm)s: %(vehicle)s", alarm=alarm_label(type), vehicle=name)
            text = _("%(alarm)s on %(vehicle)s at %(time)s.", alarm=alarm_label(type),
                     vehicle=name, time=_local(fix_time))
            if where:
                text += " " + _("Position: %(where)s.", where=where)
        notices.append(Notice(Recipient.user(user.id), subject, text, link="/gps/alarms",
                              kind=f"gps.alarm.{type}", source="gps",
                              importance="high" if type in ("sos", "power_cut") else "normal"))
    return notices


def notify_alarm(sender: Flask, alarm_id: int, device_id: int, vehicle_id: int | None,
                 branch_id: int | None, type: str, fix_time: dt.datetime,  # noqa: A002
                 latitude: float | None = None, longitude: float | None = None,
                 **_: Any) -> None:
    """Receiver of ``gps.alarm.raised``: notices to the vehicle's watchers, in a transaction
    of their own (the alarm is stored whatever happens here)."""
    with sender.app_context(), receiver_session(sender) as session:
        for notice in alarm_notices(session, alarm_id, device_id, vehicle_id, branch_id, type,
                                    fix_time, latitude, longitude):
            send(session, notice)


def receivers() -> list[EventReceiver]:
    return [EventReceiver(signals.alarm_raised, notify_alarm, name="gps.notify_alarm")]


# -- position enquiries by text message -------------------------------------------------------
def _candidates(session: Session, text: str) -> list[tuple[GpsDevice, Vehicle | None]] | None:
    """Devices the text names (by IMEI, else by plate); None when it names nothing of ours."""
    word = re.sub(r"[\s·\-]", "", text).upper()
    if IMEI.match(word):
        stmt = (select(GpsDevice, Vehicle).outerjoin(Vehicle, Vehicle.id == GpsDevice.vehicle_id)
                .where(GpsDevice.imei == word))
    elif PLATE.match(word):
        key = plate_key(word)
        stmt = (select(GpsDevice, Vehicle).join(Vehicle, Vehicle.id == GpsDevice.vehicle_id)
                .where(or_(Vehicle.plate == word, Vehicle.plate_key == key))
                .order_by((Vehicle.plate == word).desc(), GpsDevice.id))
    else:
        return None
    return [(device, vehicle) for device, vehicle in session.execute(stmt)]


def position_reply(session: Session, text: str, user: User) -> str | None:
    """``<plate> <local time> <speed> km/h <lat>,<lon> <map link>`` for a device the user
    watches; "not found" for a plate or IMEI they do not; None for any other text."""
    found = _candidates(session, text)
    if found is None:
        return None
    mine = [(d, v) for d, v in found if d.status == "active"
            and can(user, VIEW) and _sees_branch(user, d.branch_id)]
    if not mine:
        return str(_("%(text)s: no tracked vehicle found.", text=text.strip()[:20]))
    device, vehicle = mine[0]
    state = session.get(GpsDeviceState, device.id)
    if state is None or state.latitude is None or state.longitude is None:
        return str(_("%(vehicle)s: no position received yet.", vehicle=_name(device, vehicle)))
    link = absolute_link(f"/gps/playback?device={device.imei}")
    speed = f"{state.speed_kmh or 0:.0f}"
    return f"{_name(device, vehicle)} {_local(state.fix_time)} {speed} km/h " \
           f"{_where(state.latitude, state.longitude)} {link}".strip()
