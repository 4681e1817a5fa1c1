"""Episode rules without a database: overspeed (minimal duration, hysteresis, fence
limits, gaps), idle, fatigue, ignition outside hours, device alarms and the offline sweep's
decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from carebiz_plugins.gps.fixes import DeviceAlarm, DeviceStatus, Fix
from carebiz_plugins.gps.rules import (
    DeviceRules,
    Limits,
    OfflineWatch,
    RuleEngine,
    Schedule,
    compile_fence,
    offline_candidates,
)

IMEI = "123456789012345"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)          # Monday 09:00 UTC
LAT, LON = 31.2304, 121.4737


def fix(seconds: float, speed: float = 0.0, ignition: bool | None = True,
        **kw: object) -> Fix:
    return Fix(IMEI, T0 + timedelta(seconds=seconds), LAT, LON, speed_kmh=speed,
               ignition=ignition, **kw)  # type: ignore[arg-type]


def run(limits: Limits, fixes: list[Fix], **rules_kw: object) -> list:
    engine = RuleEngine()
    return engine.evaluate(fixes, {IMEI: DeviceRules(IMEI, 1, limits=limits, **rules_kw)})  # type: ignore[arg-type]


def speeds(values: list[float], step: float = 5.0, start: float = 0.0) -> list[Fix]:
    return [fix(start + i * step, v) for i, v in enumerate(values)]


# --- overspeed -------------------------------------------------------------------------------

def test_overspeed_once_per_episode_after_min_duration() -> None:
    limits = Limits(overspeed_kmh=80, overspeed_min_seconds=10)
    # 85 for 4 fixes at 5 s: raised at the third (10 s after the start), once
    events = run(limits, speeds([70, 85, 90, 95, 88, 85, 70]))
    assert [e.type for e in events] == ["overspeed"]
    e = events[0]
    assert e.fix_time == T0 + timedelta(seconds=15)
    assert e.details["limit_kmh"] == 80 and e.details["max_speed_kmh"] == 95
    assert e.details["duration_s"] == 10 and e.details["started_at"] == (
        T0 + timedelta(seconds=5)).isoformat()


def test_short_overspeed_raises_nothing() -> None:
    assert run(Limits(overspeed_kmh=80, overspeed_min_seconds=10),
               speeds([85, 70, 85, 70, 85, 70])) == []


def test_hysteresis_keeps_a_wavering_speed_one_episode() -> None:
    limits = Limits(overspeed_kmh=80, overspeed_min_seconds=10)
    # dips to 79 (within 2 km/h) keep the episode; a dip to 75 ends it
    wavering = [85, 79, 85, 79, 85, 79, 85, 79, 85]
    assert len(run(limits, speeds(wavering))) == 1
    two = [85, 85, 85, 75, 85, 85, 85]
    assert len(run(limits, speeds(two))) == 2


def test_speeding_in_the_band_only_does_not_raise() -> None:
    # above the limit once, then inside the hysteresis band for long: not "above" long
    assert run(Limits(overspeed_kmh=80, overspeed_min_seconds=10),
               speeds([85, 79, 79, 79, 79])) == []


def test_gap_ends_an_episode_and_invalid_fixes_are_ignored() -> None:
    limits = Limits(overspeed_kmh=80, overspeed_min_seconds=10)
    fixes = [fix(0, 90), fix(400, 90)]                   # 400 s without data
    assert run(limits, fixes) == []
    assert run(limits, [fix(0, 90), fix(5, 150, valid=False), fix(8, 70)]) == []


def test_fence_speed_limit_applies_inside_it() -> None:
    school = compile_fence(id=7, kind="circle", name="school", radius_m=300,
                           geometry={"type": "Point", "coordinates": [LON, LAT]},
                           speed_limit_kmh=30)
    limits = Limits(overspeed_kmh=80, overspeed_min_seconds=0)
    events = run(limits, speeds([20, 45, 45]), fences=(school,))
    assert [e.type for e in events] == ["overspeed"]
    assert events[0].details["limit_kmh"] == 30 and events[0].details["fence_id"] == 7
    # a fence limit works for a vehicle with no limit of its own too
    assert len(run(Limits(overspeed_min_seconds=0), speeds([45]), fences=(school,))) == 1
    # outside its schedule the fence's limit is off: the vehicle's 80 applies
    night = Schedule.from_json({"from": "22:00", "to": "06:00"}, ZoneInfo("UTC"))
    quiet = compile_fence(id=8, kind="circle", radius_m=300, speed_limit_kmh=30,
                          geometry={"type": "Point", "coordinates": [LON, LAT]},
                          schedule=night)
    assert run(limits, speeds([45, 45]), fences=(quiet,)) == []


def test_no_limit_no_overspeed() -> None:
    assert run(Limits(), speeds([200, 200, 200, 200])) == []


# --- idle ------------------------------------------------------------------------------------

def test_idle_once_per_episode() -> None:
    limits = Limits(idle_minutes=5)
    parked = [fix(i * 60, 0) for i in range(12)]              # 11 minutes, ignition on
    events = run(limits, parked)
    assert [e.type for e in events] == ["idle"]
    assert events[0].fix_time == T0 + timedelta(minutes=5)
    assert events[0].details["minutes"] == 5
    # moving in between starts a new episode
    two = [fix(i * 60, 0) for i in range(6)] + [fix(400, 40)] + \
          [fix(460 + i * 60, 0) for i in range(6)]
    assert len(run(limits, two)) == 2
    # ignition off: no idle, however long
    assert run(limits, [fix(i * 60, 0, ignition=False) for i in range(12)]) == []
    # a device that does not report ignition is never idle
    assert run(limits, [fix(i * 60, 0, ignition=None) for i in range(12)]) == []


def test_idle_from_heartbeats() -> None:
    engine = RuleEngine()
    rules = DeviceRules(IMEI, 1, limits=Limits(idle_minutes=5))
    engine.evaluate([fix(0, 0)], {IMEI: rules})
    assert engine.status(DeviceStatus(IMEI, T0 + timedelta(minutes=3), ignition=True),
                         rules) == []
    events = engine.status(DeviceStatus(IMEI, T0 + timedelta(minutes=6), ignition=True), rules)
    assert [e.type for e in events] == ["idle"]
    assert (events[0].latitude, events[0].longitude) == (LAT, LON)
    assert engine.status(DeviceStatus(IMEI, T0 + timedelta(minutes=9), ignition=True),
                         rules) == []


# --- fatigue ---------------------------------------------------------------------------------

def drive(start: float, minutes: int, speed: float = 60.0) -> list[Fix]:
    return [fix(start + i * 60, speed) for i in range(minutes + 1)]


def test_fatigue_after_hours_of_driving_once() -> None:
    limits = Limits(fatigue_hours=2, fatigue_break_minutes=20)
    events = run(limits, drive(0, 150))
    assert [e.type for e in events] == ["fatigue"]
    assert events[0].fix_time == T0 + timedelta(minutes=120)
    assert events[0].details["driven_minutes"] == 120


def test_short_stops_do_not_reset_fatigue_and_a_break_does() -> None:
    limits = Limits(fatigue_hours=2, fatigue_break_minutes=20)
    # 70 min driving, 10 min stop, 70 min driving: 140 min of driving without a break
    short = drive(0, 70) + [fix(70 * 60 + i * 60, 0) for i in range(1, 10)] + \
        drive(80 * 60, 70)
    events = run(limits, short)
    assert [e.type for e in events] == ["fatigue"]
    # the stop time itself is not driving: the alarm comes after 120 minutes at the wheel
    assert events[0].fix_time == T0 + timedelta(minutes=130)
    # with a 25 min break instead, neither stretch reaches 2 h
    rest = drive(0, 70) + [fix(70 * 60 + i * 60, 0) for i in range(1, 26)] + \
        drive(96 * 60, 70)
    assert run(limits, rest) == []
    # and so does a silence as long as a break (the unit was off)
    silent = drive(0, 70) + drive(100 * 60, 70)
    assert run(limits, silent) == []


# --- ignition outside allowed hours ------------------------------------------------------------

def test_ignition_outside_hours_once_per_ignition_episode() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    # 09:00 UTC = 17:00 local; allowed 07:00-18:00
    day = Schedule.from_json({"days": [1, 2, 3, 4, 5], "from": "07:00", "to": "18:00"}, tz)
    assert day is not None
    limits = Limits(allowed_hours=(day,))
    inside = [fix(i * 600, 40) for i in range(5)]                 # 17:00-17:40 local
    assert run(limits, inside) == []
    # kept running past 18:00: once, however long it runs
    past = [fix(i * 600, 40) for i in range(12)]
    events = run(limits, past)
    assert [e.type for e in events] == ["ignition_outside_hours"]
    assert events[0].details["local_time"] == "2026-03-02 18:00"
    # off and on again at night: a second episode
    again = past + [fix(7300, 0, ignition=False), fix(7400, 0, ignition=True)]
    assert len(run(limits, again)) == 2
    # a device with no ignition report never raises it
    assert run(limits, [fix(i * 600, 40, ignition=None) for i in range(12)]) == []


def test_ignition_outside_hours_from_a_heartbeat() -> None:
    day = Schedule.from_json({"from": "07:00", "to": "18:00"}, ZoneInfo("UTC"))
    assert day is not None
    rules = DeviceRules(IMEI, 1, limits=Limits(allowed_hours=(day,)))
    engine = RuleEngine()
    night = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    assert engine.status(DeviceStatus(IMEI, night, ignition=False), rules) == []
    events = engine.status(DeviceStatus(IMEI, night + timedelta(minutes=1), ignition=True),
                           rules)
    assert [e.type for e in events] == ["ignition_outside_hours"]
    assert engine.status(DeviceStatus(IMEI, night + timedelta(minutes=4), ignition=True),
                         rules) == []


# --- device alarms -----------------------------------------------------------------------------

def test_device_alarms_pass_through_once_and_not_from_history() -> None:
    engine = RuleEngine()
    f = fix(0, 0)
    sos = DeviceAlarm(IMEI, "sos", f.fix_time, f)
    first = engine.device_alarm(sos)
    assert [(e.type, e.latitude, e.details) for e in first] == [("sos", LAT, {"source": "device"})]
    assert engine.device_alarm(sos) == []                      # the frame resent
    cut = DeviceAlarm(IMEI, "power_cut", T0 + timedelta(seconds=5))
    assert [e.type for e in engine.device_alarm(cut)] == ["power_cut"]
    old = fix(-3600, 0, reupload=True)
    assert engine.device_alarm(DeviceAlarm(IMEI, "vibration", old.fix_time, old)) == []


def test_reupload_feeds_no_episode() -> None:
    limits = Limits(overspeed_kmh=80, overspeed_min_seconds=0, idle_minutes=1,
                    fatigue_hours=0.01)
    history = [fix(i * 60, 120 if i % 2 else 0, reupload=True) for i in range(30)]
    engine = RuleEngine()
    assert engine.evaluate(history, {IMEI: DeviceRules(IMEI, 1, limits=limits)}) == []
    assert IMEI not in engine.states


# --- offline -----------------------------------------------------------------------------------

def test_offline_once_per_silence() -> None:
    now = T0 + timedelta(minutes=30)
    seen = T0
    w = OfflineWatch(IMEI, seen, 20, latitude=LAT, longitude=LON)
    events = offline_candidates(now, [w])
    assert [(e.type, e.fix_time) for e in events] == [("offline", seen)]
    assert events[0].details["silent_minutes"] == 30
    # already alarmed for this silence
    done = OfflineWatch(IMEI, seen, 20, alarmed_for=seen)
    assert offline_candidates(now, [done]) == []
    # spoke again after that alarm and is silent again: a new one
    later = OfflineWatch(IMEI, seen + timedelta(minutes=5), 20, alarmed_for=seen)
    assert len(offline_candidates(now + timedelta(minutes=30), [later])) == 1
    # not yet long enough, or no delay configured
    assert offline_candidates(now, [OfflineWatch(IMEI, seen, 45)]) == []
    assert offline_candidates(now, [OfflineWatch(IMEI, seen, 0)]) == []
