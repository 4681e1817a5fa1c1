"""Geofence rules without a database: compiling the three kinds, the projection's error
against haversine, enter/exit by a change of state, schedules, groups and re-upload
silence."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from carebiz_plugins.gps.fixes import Fix
from carebiz_plugins.gps.geo import EARTH_RADIUS_M, haversine_m
from carebiz_plugins.gps.rules import (
    DeviceRules,
    Limits,
    RuleEngine,
    Schedule,
    compile_fence,
)

IMEI = "123456789012345"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)          # a Monday
LAT, LON = 31.2304, 121.4737                         # Shanghai


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """A point ``north_m`` / ``east_m`` from (lat, lon) on the sphere geo uses."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon


def destination(lat: float, lon: float, bearing_deg: float, dist_m: float) -> tuple[float, float]:
    """Great-circle destination (the inverse of haversine)."""
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    d = dist_m / EARTH_RADIUS_M
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1),
                         math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), math.degrees(l2)


def circle(fid: int = 1, radius: float = 500.0, **kw: object) -> object:
    return compile_fence(id=fid, kind="circle", name=f"fence {fid}", radius_m=radius,
                         geometry={"type": "Point", "coordinates": [LON, LAT]}, **kw)


def fix(seconds: float, lat: float, lon: float, **kw: object) -> Fix:
    return Fix(IMEI, T0 + timedelta(seconds=seconds), lat, lon, **kw)  # type: ignore[arg-type]


def types(events: list) -> list[str]:
    return [e.type for e in events]


@pytest.mark.parametrize("lat", [0.0, 31.23, 45.0, 60.0])
def test_circle_boundary_agrees_with_haversine(lat: float) -> None:
    """1 km circles: the local projection misplaces the boundary by < 0.3 m at 60°
    (D² tan φ / R), so 999 m is inside and 1001 m outside on every bearing."""
    fence = compile_fence(id=1, kind="circle", radius_m=1000.0,
                          geometry=json.dumps({"type": "Point", "coordinates": [10.0, lat]}))
    for bearing in range(0, 360, 15):
        inside = destination(lat, 10.0, bearing, 999.0)
        outside = destination(lat, 10.0, bearing, 1001.0)
        assert haversine_m(lat, 10.0, *inside) == pytest.approx(999.0, abs=0.01)
        assert fence.contains(*inside), (lat, bearing)
        assert not fence.contains(*outside), (lat, bearing)


def test_projection_error_bound_documented() -> None:
    """The bound in the fences docstring: at 45°, 5 km from the centre, under 4 m."""
    fence = compile_fence(id=1, kind="polygon", geometry={"type": "Polygon", "coordinates": [[
        [9.9, 44.9], [10.1, 44.9], [10.1, 45.1], [9.9, 45.1], [9.9, 44.9]]]})
    worst = 0.0
    for bearing in range(0, 360, 10):
        lat, lon = destination(45.0, 10.0, bearing, 5000.0)
        x, y = fence.project(lat, lon)
        worst = max(worst, abs(math.hypot(x, y) - 5000.0))
    assert 0.1 < worst < 5000.0 ** 2 * math.tan(math.radians(45.1)) / EARTH_RADIUS_M + 0.5


def test_polygon_with_hole_and_corridor() -> None:
    ring = [[121.0, 31.0], [121.1, 31.0], [121.1, 31.1], [121.0, 31.1], [121.0, 31.0]]
    hole = [[121.04, 31.04], [121.06, 31.04], [121.06, 31.06], [121.04, 31.06],
            [121.04, 31.04]]
    poly = compile_fence(id=2, kind="polygon",
                         geometry={"type": "Feature", "properties": {},
                                   "geometry": {"type": "Polygon", "coordinates": [ring, hole]}})
    assert poly.contains(31.02, 121.02)
    assert not poly.contains(31.05, 121.05)            # in the hole
    assert not poly.contains(31.2, 121.05)             # far away: the bbox answers
    line = {"type": "LineString", "coordinates": [[121.0, 31.0], [121.01, 31.0]]}
    road = compile_fence(id=3, kind="corridor", geometry=line, half_width_m=30.0)
    assert road.contains(*offset(31.0, 121.005, 29.0, 0.0))
    assert not road.contains(*offset(31.0, 121.005, 31.0, 0.0))
    assert road.contains(*offset(31.0, 121.01, 0.0, 29.0))   # round end cap
    default = compile_fence(id=4, kind="corridor", geometry=line)  # 25 m by default
    assert default.contains(*offset(31.0, 121.005, 24.0, 0.0))
    assert not default.contains(*offset(31.0, 121.005, 26.0, 0.0))


@pytest.mark.parametrize("kind, geometry, extra, message", [
    ("circle", {"type": "Point", "coordinates": [121.0, 31.0]}, {}, "radius"),
    ("circle", {"type": "LineString", "coordinates": [[121, 31], [122, 31]]},
     {"radius_m": 5}, "centre Point"),
    ("polygon", {"type": "Point", "coordinates": [121.0, 31.0]}, {}, "Polygon"),
    ("corridor", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
     {}, "LineString"),
    ("polygon", "not json at all", {}, "GeoJSON"),
    ("square", {"type": "Point", "coordinates": [121.0, 31.0]}, {}, "unknown kind"),
])
def test_bad_fences_are_refused(kind: str, geometry: object, extra: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_fence(id=9, kind=kind, geometry=geometry, **extra)  # type: ignore[arg-type]


def test_enter_exit_by_state_change_first_fix_silent() -> None:
    fence = circle()
    rules = {IMEI: DeviceRules(IMEI, 1, fences=(fence,))}
    engine = RuleEngine()
    far = offset(LAT, LON, 2000, 0)
    # the first fix is already inside: remembered, no event
    assert engine.evaluate([fix(0, LAT, LON)], rules) == []
    events = engine.evaluate([fix(10, LAT, LON), fix(20, *far), fix(30, *far),
                              fix(40, LAT, LON), fix(50, LAT, LON)], rules)
    assert types(events) == ["geofence_exit", "geofence_enter"]
    assert events[0].fix_time == T0 + timedelta(seconds=20)
    assert events[0].details == {"fence_id": 1, "fence_name": "fence 1", "fence_kind": "circle"}
    assert (events[1].latitude, events[1].longitude) == (LAT, LON)


def test_invalid_and_zero_fixes_do_not_move_a_device_across_a_fence() -> None:
    rules = {IMEI: DeviceRules(IMEI, 1, fences=(circle(),))}
    engine = RuleEngine()
    engine.evaluate([fix(0, LAT, LON)], rules)
    far = offset(LAT, LON, 2000, 0)
    assert engine.evaluate([fix(10, *far, valid=False), fix(20, 0.0, 0.0)], rules) == []
    assert types(engine.evaluate([fix(30, *far)], rules)) == ["geofence_exit"]


def test_out_of_order_and_resent_fixes_change_nothing() -> None:
    rules = {IMEI: DeviceRules(IMEI, 1, fences=(circle(),))}
    engine = RuleEngine()
    far = offset(LAT, LON, 2000, 0)
    engine.evaluate([fix(0, LAT, LON), fix(60, LAT, LON)], rules)
    # an older fix from outside arrives late: no exit, and the state stays "inside"
    assert engine.evaluate([fix(30, *far), fix(60, *far)], rules) == []
    assert engine.states[IMEI].inside == {1: True}


def test_reupload_history_updates_nothing_and_raises_nothing() -> None:
    rules = {IMEI: DeviceRules(IMEI, 1, fences=(circle(),))}
    engine = RuleEngine()
    far = offset(LAT, LON, 2000, 0)
    engine.evaluate([fix(0, LAT, LON)], rules)
    history = [fix(100 + i, *(far if i % 2 else (LAT, LON)), reupload=True) for i in range(20)]
    assert engine.evaluate(history, rules) == []
    st = engine.states[IMEI]
    assert st.inside == {1: True} and st.last_t == T0.timestamp()
    assert types(engine.evaluate([fix(200, *far)], rules)) == ["geofence_exit"]


def test_schedule_silences_events_but_state_is_followed() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    # 09:00 UTC is 17:00 in Shanghai; the fence is active 08:00-17:30 on weekdays
    sched = Schedule.from_json({"days": [1, 2, 3, 4, 5], "from": "08:00", "to": "17:30"}, tz)
    rules = {IMEI: DeviceRules(IMEI, 1, fences=(circle(schedule=sched),))}
    engine = RuleEngine()
    far = offset(LAT, LON, 2000, 0)
    engine.evaluate([fix(0, *far)], rules)
    assert types(engine.evaluate([fix(60, LAT, LON)], rules)) == ["geofence_enter"]
    # at 17:40 local it leaves: outside the schedule, no event
    assert engine.evaluate([fix(40 * 60, *far)], rules) == []
    # comes back and parks inside; next morning at 08:00 nothing is invented
    assert engine.evaluate([fix(50 * 60, LAT, LON)], rules) == []
    assert engine.evaluate([fix(15 * 3600, LAT, LON)], rules) == []
    assert types(engine.evaluate([fix(15 * 3600 + 60, *far)], rules)) == ["geofence_exit"]


def test_schedule_windows() -> None:
    utc = ZoneInfo("UTC")
    night = Schedule.from_json({"days": [5], "from": "22:00", "to": "06:00"}, utc)
    assert night is not None
    friday = datetime(2026, 3, 6, 23, 0, tzinfo=UTC)
    assert night.contains(friday)
    assert night.contains(friday + timedelta(hours=6))        # Saturday 05:00
    assert not night.contains(friday + timedelta(hours=8))    # Saturday 07:00
    assert not night.contains(friday + timedelta(days=1))     # Saturday 23:00
    whole = Schedule.from_json({"days": [7]}, utc)
    assert whole is not None and whole.contains(datetime(2026, 3, 8, 12, tzinfo=UTC))
    assert Schedule.from_json(None, utc) is None
    with pytest.raises(ValueError, match="weekdays"):
        Schedule.from_json({"days": [0]}, utc)
    with pytest.raises(ValueError, match="time of day"):
        Schedule.from_json({"from": "25:00"}, utc)


def test_each_of_several_fences_and_a_removed_fence_forgotten() -> None:
    a, b = circle(1, 500.0), circle(2, 1500.0)
    engine = RuleEngine()
    rules = {IMEI: DeviceRules(IMEI, 1, fences=(a, b))}
    engine.evaluate([fix(0, LAT, LON)], rules)
    mid = offset(LAT, LON, 1000, 0)
    events = engine.evaluate([fix(10, *mid)], rules)
    assert [(e.type, e.details["fence_id"]) for e in events] == [("geofence_exit", 1)]
    # fence 1 unassigned, then assigned again while the device is elsewhere: first fix only
    engine.evaluate([fix(20, *mid)], {IMEI: DeviceRules(IMEI, 1, fences=(b,))})
    again = engine.evaluate([fix(30, LAT, LON)], rules)
    assert [(e.type, e.details["fence_id"]) for e in again] == []
    assert engine.states[IMEI].inside == {1: True, 2: True}


def test_limits_combine_strictest_of_groups() -> None:
    utc = ZoneInfo("UTC")
    day = Schedule.from_json({"from": "07:00", "to": "20:00"}, utc)
    assert day is not None
    g1 = Limits(overspeed_kmh=90, overspeed_min_seconds=20, idle_minutes=15,
                fatigue_hours=4, fatigue_break_minutes=15, offline_minutes=60)
    g2 = Limits(overspeed_kmh=80, overspeed_min_seconds=5, idle_minutes=None,
                fatigue_hours=3, fatigue_break_minutes=30, allowed_hours=(day,))
    both = Limits.combine([g1, g2])
    assert (both.overspeed_kmh, both.overspeed_min_seconds, both.idle_minutes) == (80, 5, 15)
    assert (both.fatigue_hours, both.fatigue_break_minutes) == (3, 30)
    assert both.allowed_hours == (day,) and both.offline_minutes == 60
    assert Limits.combine([g1, g2], vehicle_speed_kmh=100).overspeed_kmh == 100
    assert Limits.combine([]) == Limits()
