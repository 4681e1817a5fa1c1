"""The end of an overspeed episode without a database: the final figures a raised episode
reports when the speed drops, the limit goes away or the data stops; silence for an episode
too short to raise; re-uploaded fixes inside a running episode; taking an episode up after a
restart (:meth:`RuleEngine.resume`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from carebiz_plugins.gps.fixes import DeviceStatus, Fix
from carebiz_plugins.gps.rules import (
    DeviceRules,
    EpisodeEnd,
    Limits,
    RuleEngine,
    compile_fence,
)

IMEI = "123456789012345"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LAT, LON = 31.2304, 121.4737
LIMITS = Limits(overspeed_kmh=80, overspeed_min_seconds=10)
RULES = {IMEI: DeviceRules(IMEI, 1, limits=LIMITS)}


def fix(seconds: float, speed: float, lat: float = LAT, **kw: object) -> Fix:
    return Fix(IMEI, T0 + timedelta(seconds=seconds), lat, LON, speed_kmh=speed,
               ignition=True, **kw)  # type: ignore[arg-type]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def long_run() -> list[Fix]:
    """70, then 3 min 10 s above 80 (every 10 s, up to 131 at 2 min), then 60."""
    fast = [fix(10 + i * 10, 131 if i == 12 else 90 + i) for i in range(19)]   # 10 … 190
    return [fix(0, 70), *fast, fix(200, 60)]


def test_a_raised_episode_ends_with_its_true_duration_and_top_speed() -> None:
    fixes = long_run()
    result = RuleEngine().run(fixes, RULES)
    assert [a.type for a in result.alarms] == ["overspeed"]
    raised = result.alarms[0].details
    assert raised["duration_s"] == 10 and raised["max_speed_kmh"] == 91   # at 10 s in
    assert result.ended == [EpisodeEnd(IMEI, at(10), at(200), 190, 131, "speed")]
    assert result.ended[0].details() == {
        "duration_s": 190, "max_speed_kmh": 131, "ended_at": at(200).isoformat(),
        "ended_by": "speed"}
    assert result.ended[0].started_at.isoformat() == raised["started_at"]


def test_the_end_comes_in_a_later_batch_and_the_band_does_not_end_it() -> None:
    engine = RuleEngine()
    first = engine.run([fix(0, 90), fix(10, 95), fix(20, 100)], RULES)
    assert len(first.alarms) == 1 and first.ended == []
    # 79 is inside the hysteresis band (80 - 2): still the same episode
    band = engine.run([fix(30, 79), fix(40, 120), fix(50, 79)], RULES)
    assert band.alarms == [] and band.ended == []
    end = engine.run([fix(60, 77)], RULES)
    assert end.alarms == [] and end.ended == [
        EpisodeEnd(IMEI, at(0), at(60), 60, 120, "speed")]
    assert engine.run([fix(70, 60)], RULES).ended == []               # ended once


def test_a_gap_ends_it_at_its_last_fix() -> None:
    engine = RuleEngine()
    result = engine.run([fix(0, 90), fix(10, 95), fix(30, 99), fix(400, 90)], RULES)
    assert result.ended == [EpisodeEnd(IMEI, at(0), at(30), 30, 99, "gap")]
    # the fix after the gap starts an episode of its own
    assert engine.states[IMEI].speed_start == at(400).timestamp()


def test_leaving_the_fence_that_set_the_limit_ends_it() -> None:
    school = compile_fence(id=7, kind="circle", name="school", radius_m=300,
                           geometry={"type": "Point", "coordinates": [LON, LAT]},
                           speed_limit_kmh=30)
    rules = {IMEI: DeviceRules(IMEI, 1, limits=Limits(overspeed_min_seconds=10),
                               fences=(school,))}
    away = LAT + 0.05
    result = RuleEngine().run([fix(0, 45), fix(10, 50), fix(20, 48), fix(30, 60, lat=away)],
                              rules)
    assert [(a.type, a.details["fence_id"]) for a in result.alarms] == [
        ("overspeed", 7), ("geofence_exit", 7)]
    assert result.ended == [EpisodeEnd(IMEI, at(0), at(30), 30, 50, "limit")]


def test_an_episode_too_short_to_raise_ends_silently() -> None:
    engine = RuleEngine()
    # slowed after 5 s; then two fixes 6 minutes apart (a gap each time)
    result = engine.run([fix(0, 90), fix(5, 95), fix(8, 60), fix(20, 90), fix(400, 90),
                         fix(800, 90)], RULES)
    assert result.alarms == [] and result.ended == []
    assert engine.evaluate([fix(805, 50)], RULES) == []               # the list API is kept


def test_reupload_inside_the_running_episode_counts_for_its_top_speed_only() -> None:
    engine = RuleEngine()
    engine.run([fix(0, 90), fix(20, 95), fix(40, 96)], RULES)
    # buffered fixes sent late: one inside the episode (150), one before it began (160)
    late = engine.run([fix(30, 150, reupload=True), fix(-30, 160, reupload=True),
                       fix(25, 170, reupload=True, valid=False)], RULES)
    assert late.alarms == [] and late.ended == []
    st = engine.states[IMEI]
    assert st.speed_max == 150 and st.last_t == at(40).timestamp()    # nothing else moved
    end = engine.run([fix(50, 50)], RULES)
    assert end.ended == [EpisodeEnd(IMEI, at(0), at(50), 50, 150, "speed")]
    # once ended, its figures are final
    engine.run([fix(45, 200, reupload=True)], RULES)
    assert engine.states[IMEI].speed_max == 150 and engine.states[IMEI].speed_start is None


def test_resume_takes_up_a_running_episode_after_a_restart() -> None:
    before = RuleEngine()
    history = [fix(0, 70), fix(10, 90), fix(20, 95), fix(30, 131), fix(40, 100)]
    assert len(before.evaluate(history, RULES)) == 1
    after = RuleEngine()                                               # the restart
    assert after.claim_unseen([IMEI]) == [IMEI]
    assert after.claim_unseen([IMEI]) == []                            # looked up once
    # a heartbeat made the state before the first fix: the episode is still taken up
    after.status(DeviceStatus(IMEI, at(45), ignition=True), RULES[IMEI])
    stored = [f for f in history if f.fix_time >= at(10)]
    assert after.resume(IMEI, RULES[IMEI], stored, at(10)) == []
    result = after.run([fix(50, 110), fix(60, 60)], RULES)
    assert result.alarms == []                                         # not raised twice
    assert result.ended == [EpisodeEnd(IMEI, at(10), at(60), 50, 131, "speed")]


def test_resume_answers_an_end_the_replay_saw_and_leaves_known_devices_alone() -> None:
    stored = [fix(10, 90), fix(20, 95), fix(30, 120), fix(40, 60), fix(50, 55)]
    engine = RuleEngine()
    assert engine.resume(IMEI, RULES[IMEI], stored, at(10)) == [
        EpisodeEnd(IMEI, at(10), at(40), 30, 120, "speed")]
    assert engine.states[IMEI].speed_start is None
    assert engine.run([fix(60, 90), fix(65, 90)], RULES).alarms == []   # a fresh episode
    # a device already fed fixes is not replayed again
    assert engine.resume(IMEI, RULES[IMEI], stored, at(10)) == []
    # an episode the replay does not find (another start) is not taken up
    other = RuleEngine()
    assert other.resume(IMEI, RULES[IMEI], stored, at(5)) == []
    assert other.states[IMEI].speed_start is None
    assert other.run([fix(60, 90), fix(70, 90)], RULES).alarms != []    # raised afresh
