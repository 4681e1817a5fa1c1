"""Demo data of subscriptions and waybills: a small courier fleet in the first demo branch.

Four trackers on demo customers' cars around Shanghai, each with its live state and its
service subscription — one running, one ending within the week (the reminder job has
something to write), one expired, one renewed and paid — and six waybills between
received and delivered, scanned with their vehicles' positions. Everything goes through the
services (audit, timeline, revenue events as in real use). Safe to run twice: a branch that
has waybills is left alone; trackers are only added where the branch has none."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebiz.crm.models import Vehicle
from carebiz.toolkit import today

from .models import GpsDevice, GpsDeviceState, GpsSubscription, GpsWaybill
from .services import subscriptions, waybills

#: (latitude, longitude) of the demo fleet's depots and roads in Shanghai
PLACES = [(31.2304, 121.4737), (31.1443, 121.8083), (31.3960, 121.2570), (31.0456, 121.3994)]
IMEIS = ["356307042441013", "356307042441021", "356307042441039", "356307042441047"]
#: subscription end relative to today, in days: running, ending soon, expired, renewed
ENDS = [200, 5, -20, None]
WAYBILLS = [
    ("上海鲜达物流", "李娜", "13812345671", "苏州工业园区星湖街 328 号", "冷链生鲜", 12, "86.5", 3),
    ("华东电子配件", "王强", "13912345672", "杭州市滨江区网商路 699 号", "电子元件", 4, "18.20", 2),
    ("沪上家具城", "陈晓明", "13712345673", "嘉兴市南湖区中环南路 1 号", "办公椅", 20, "240", 1),
    ("Greenfield Trading", "Anna Zhou", "13612345674", "宁波市鄞州区天童南路 588 号",
     "Machine parts", 2, "55", 0),
    ("上海鲜达物流", "赵敏", "13512345675", "无锡市梁溪区中山路 88 号", "水果", 30, "150", 3),
    ("华东电子配件", "刘伟", "13412345676", "南通市崇川区工农路 111 号", "显示屏", 6, "42", 2),
]


def _trackers(session: Session, branch: Any) -> list[GpsDevice]:
    devices = list(session.scalars(select(GpsDevice).where(
        GpsDevice.branch_id == branch.id, GpsDevice.status == "active")
        .order_by(GpsDevice.id).limit(4)))
    if devices:
        return devices
    cars = session.scalars(select(Vehicle).where(Vehicle.branch_id == branch.id,
                                                 Vehicle.owner_id.is_not(None))
                           .order_by(Vehicle.id).limit(4)).all()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for n, car in enumerate(cars):
        if session.scalar(select(GpsDevice.id).where(GpsDevice.imei == IMEIS[n])):
            continue
        device = GpsDevice(imei=IMEIS[n], vehicle_id=car.id, branch_id=branch.id,
                           status="active", label=f"Demo GT06 {n + 1}", model="GT06N",
                           first_seen=now, last_seen=now)
        session.add(device)
        session.flush()
        lat, lon = PLACES[n]
        session.add(GpsDeviceState(device_id=device.id, fix_time=now, latitude=lat,
                                   longitude=lon, speed_kmh=0.0 if n % 2 else 46.0,
                                   course=90, valid=True, ignition=n % 2 == 0,
                                   moving=n % 2 == 0, online=True, last_seen=now))
        devices.append(device)
    session.flush()
    return devices


def _subscriptions(session: Session, devices: list[GpsDevice], users: dict[str, Any]) -> None:
    on = today()
    for device, end in zip(devices, ENDS, strict=False):
        sub = subscriptions.for_device(session, device.id)
        if sub is None:
            start = on - dt.timedelta(days=365 - (end if end is not None else 20))
            sub = subscriptions.subscribe(session, device, start_on=start)
        if end is None:  # ran out ten days ago… then renewed at the counter
            sub.end_on = on - dt.timedelta(days=10)
            session.flush()
            subscriptions.renew(session, sub, {"method": "wechat", "reference": "DEMO-1"},
                                user=users.get("admin"))


def _waybills(session: Session, branch: Any, devices: list[GpsDevice],
              users: dict[str, Any]) -> None:
    clerk = users.get("admin")
    for n, (shipper, name, phone, dest, goods, pieces, weight, moves) in enumerate(WAYBILLS):
        device = devices[n % len(devices)] if devices else None
        bill = waybills.create_waybill(session, {
            "shipper_name": shipper, "consignee_name": name, "consignee_phone": phone,
            "destination": dest, "goods": goods, "pieces": pieces, "weight_kg": weight,
            "vehicle_id": device.vehicle_id if device else None, "driver_name": "周师傅",
            "driver_phone": "13300000000", "branch_id": branch.id}, user=None)
        bill.created_by = getattr(clerk, "id", None)
        for _step in range(moves):
            waybills.move(session, bill, user=clerk)


def load(session: Session, branches: list[Any], users: dict[str, Any]) -> None:
    if not branches:
        return
    branch = branches[0]
    if session.scalar(select(func.count(GpsWaybill.id))
                      .where(GpsWaybill.branch_id == branch.id)):
        return
    devices = _trackers(session, branch)
    if not session.scalar(select(func.count(GpsSubscription.id))
                          .where(GpsSubscription.branch_id == branch.id)):
        _subscriptions(session, devices, users)
    _waybills(session, branch, devices, users)
