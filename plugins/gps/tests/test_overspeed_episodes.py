"""Overspeed episodes end to end: the stored alarm gets the episode's final figures through
``store_batch`` (same batch, later batch, after a restart of the rule state), re-uploaded
history leaves ended alarms alone, nobody is notified again, a failing update keeps the
positions; then the ``gps_alarms`` query fields and the overspeed report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from carebiz.testing import make_vehicle
from carebiz_plugins.gps import signals
from carebiz_plugins.gps.fixes import Fix
from carebiz_plugins.gps.ingest import pipeline
from carebiz_plugins.gps.models import GpsAlarm, GpsDevice, GpsGroup, GpsGroupVehicle, GpsPosition
from carebiz_plugins.gps.services import alarms, positions

IMEI = "123456789012345"
IMEI2 = "356307042441013"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LAT, LON = 23.1, 114.4


@pytest.fixture
def fleet(session: Any, seeded: dict[str, Any]) -> dict[str, Any]:
    """Two devices of branch A on vans limited to 80 km/h (10 s minimum)."""
    positions.reset_caches()
    pipeline.reset()
    branch = seeded["branches"]["A"]
    v1 = make_vehicle(session, 1, branch, plate="沪B00001")
    v2 = make_vehicle(session, 2, branch, plate="沪B00002")
    d1 = GpsDevice(imei=IMEI, vehicle_id=v1.id, branch_id=branch, status="active")
    d2 = GpsDevice(imei=IMEI2, vehicle_id=v2.id, branch_id=branch, status="active")
    group = GpsGroup(name="Vans", branch_id=branch, overspeed_kmh=80, overspeed_min_seconds=10)
    session.add_all([d1, d2, group])
    session.flush()
    session.add_all([GpsGroupVehicle(group_id=group.id, vehicle_id=v.id) for v in (v1, v2)])
    session.commit()
    return {"branch": branch, "d1": d1.id, "d2": d2.id, "v1": v1.id, "v2": v2.id,
            "ids": {IMEI: d1.id, IMEI2: d2.id}}


def fix(seconds: float, speed: float, device: str = IMEI, **kw: Any) -> Fix:
    return Fix(device, T0 + timedelta(seconds=seconds), LAT, LON, speed_kmh=speed,
               ignition=True, **kw)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def overspeed(session: Any) -> list[GpsAlarm]:
    session.expire_all()
    return list(session.scalars(select(GpsAlarm).where(GpsAlarm.type == "overspeed")
                                .order_by(GpsAlarm.id)))


def three_minutes(start: float = 0.0, device: str = IMEI) -> list[Fix]:
    """3 min 10 s above 80 km/h (a fix every 10 s, 131 at the top), then 60."""
    return [*(fix(start + i * 10, 131 if i == 12 else 90 + i, device) for i in range(19)),
            fix(start + 190, 60, device)]


def test_raised_and_ended_in_one_batch(app: Flask, session: Any, fleet: dict[str, Any]) -> None:
    raised: list[dict[str, Any]] = []

    def receiver(sender: Any, **payload: Any) -> None:
        raised.append(payload)

    signals.alarm_raised.connect(receiver, weak=False)
    try:
        result = pipeline.store_batch(session, fleet["ids"], three_minutes())
        session.commit()
    finally:
        signals.alarm_raised.disconnect(receiver)
    # the bus and the notification heard of the alarm once, with the figures of its raise
    assert [a["details"]["duration_s"] for a in result.alarms] == [10]
    assert [p["details"]["duration_s"] for p in raised] == [10]
    [alarm] = overspeed(session)
    assert alarm.details == {
        "speed_kmh": 91, "limit_kmh": 80, "started_at": at(0), "duration_s": 190,
        "max_speed_kmh": 131, "ended_at": at(190), "ended_by": "speed"}
    assert alarm.version == 1 and alarm.status == "open"


def test_ended_in_a_later_batch_and_a_second_episode_apart(session: Any,
                                                            fleet: dict[str, Any]) -> None:
    fixes = three_minutes()
    pipeline.store_batch(session, fleet["ids"], fixes[:10])
    session.commit()
    [alarm] = overspeed(session)
    assert alarm.details["duration_s"] == 10 and "ended_at" not in alarm.details
    pipeline.store_batch(session, fleet["ids"], [*fixes[10:], *three_minutes(0, IMEI2)[:5]])
    session.commit()
    # a second episode of the same van, ended by a gap in the data at its last fix
    pipeline.store_batch(session, fleet["ids"], [fix(600, 100), fix(610, 105), fix(620, 99)])
    session.commit()
    pipeline.store_batch(session, fleet["ids"], [fix(1000, 50)])
    session.commit()
    first, other, second = overspeed(session)
    assert (first.device_id, first.details["duration_s"], first.details["max_speed_kmh"],
            first.details["ended_at"]) == (fleet["d1"], 190, 131, at(190))
    assert other.device_id == fleet["d2"] and "ended_at" not in other.details  # still running
    assert (second.details["started_at"], second.details["duration_s"],
            second.details["max_speed_kmh"], second.details["ended_at"],
            second.details["ended_by"]) == (at(600), 20, 105, at(620), "gap")


def test_after_a_restart_the_episode_goes_on_and_ends_with_its_true_figures(
        session: Any, fleet: dict[str, Any]) -> None:
    fixes = three_minutes()
    pipeline.store_batch(session, fleet["ids"], fixes[:14])          # 131 at 120 s is stored
    session.commit()
    pipeline.reset()                                                  # the process restarts
    result = pipeline.store_batch(session, fleet["ids"], fixes[14:])
    session.commit()
    assert result.alarms == []                                        # not raised again
    [alarm] = overspeed(session)
    assert (alarm.details["duration_s"], alarm.details["max_speed_kmh"],
            alarm.details["ended_at"]) == (190, 131, at(190))


def test_after_a_restart_an_episode_that_ended_unrecorded_gets_its_end(
        session: Any, fleet: dict[str, Any]) -> None:
    pipeline.store_batch(session, fleet["ids"], three_minutes()[:10])
    session.commit()
    # its end was stored as positions but never evaluated (say the rules were off then)
    positions.store_fixes(session, fleet["ids"], [fix(100, 95), fix(110, 40)])
    session.commit()
    pipeline.reset()
    result = pipeline.store_batch(session, fleet["ids"], [fix(400, 30)])
    session.commit()
    assert result.alarms == []
    [alarm] = overspeed(session)
    assert (alarm.details["duration_s"], alarm.details["max_speed_kmh"],
            alarm.details["ended_at"]) == (110, 99, at(110))
    # an ended alarm is not taken up at the next restart
    pipeline.reset()
    pipeline.store_batch(session, fleet["ids"], [fix(410, 30)])
    session.commit()
    assert overspeed(session)[0].details["ended_at"] == at(110)


def test_reupload_leaves_an_ended_episode_alone(session: Any, fleet: dict[str, Any]) -> None:
    pipeline.store_batch(session, fleet["ids"], three_minutes())
    session.commit()
    history = [fix(51 + i, 160, reupload=True) for i in range(5)]
    result = pipeline.store_batch(session, fleet["ids"], history)
    session.commit()
    assert result.inserted == 5 and result.alarms == []
    [alarm] = overspeed(session)
    assert alarm.details["max_speed_kmh"] == 131


def test_reupload_inside_the_running_episode_counts_for_its_top_speed(
        session: Any, fleet: dict[str, Any]) -> None:
    fixes = three_minutes()
    pipeline.store_batch(session, fleet["ids"], fixes[:10])           # 0 … 90 s
    pipeline.store_batch(session, fleet["ids"], [fix(45, 150, reupload=True),
                                                 fix(95, 170, reupload=True)])
    pipeline.store_batch(session, fleet["ids"], [fix(100, 60)])
    session.commit()
    [alarm] = overspeed(session)
    # 45 s lies inside the episode; 95 s is after its latest live fix (90 s)
    assert alarm.details["max_speed_kmh"] == 150 and alarm.details["ended_at"] == at(100)


def test_a_failing_update_keeps_the_positions_and_the_alarm(
        session: Any, fleet: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> int:
        session.execute(select(GpsAlarm.id).where(GpsAlarm.no_such_column == 1))  # type: ignore[attr-defined]
        return 0

    monkeypatch.setattr(alarms, "end_episodes", refuse)
    result = pipeline.store_batch(session, fleet["ids"], three_minutes())
    session.commit()
    assert result.inserted == 20 and len(result.alarms) == 1
    assert session.scalar(select(func.count()).select_from(GpsPosition)) == 20
    [alarm] = overspeed(session)
    assert alarm.details["duration_s"] == 10 and "ended_at" not in alarm.details


def test_end_episodes_matches_started_at_only(session: Any, fleet: dict[str, Any]) -> None:
    from carebiz_plugins.gps.rules import EpisodeEnd

    pipeline.store_batch(session, fleet["ids"], three_minutes()[:5])
    session.commit()
    start = T0
    other = EpisodeEnd(IMEI, start + timedelta(seconds=1), start + timedelta(seconds=60),
                       59, 99, "speed")
    assert alarms.end_episodes(session, [other]) == 0                   # another episode
    unknown = EpisodeEnd("999999999999999", start, start + timedelta(seconds=60), 60, 99,
                         "speed")
    mine = EpisodeEnd(IMEI, start, start + timedelta(seconds=60), 60, 99, "speed")
    assert alarms.end_episodes(session, [unknown, mine]) == 1           # devices looked up
    session.commit()
    assert overspeed(session)[0].details["duration_s"] == 60
    # a stale end (another server's state, which saw less of it) does not shorten it
    stale = EpisodeEnd(IMEI, start, start + timedelta(seconds=30), 30, 95, "gap")
    assert alarms.end_episodes(session, [stale]) == 0
    longer = EpisodeEnd(IMEI, start, start + timedelta(seconds=90), 90, 120, "speed")
    assert alarms.end_episodes(session, [longer]) == 1
    session.commit()
    assert overspeed(session)[0].details["duration_s"] == 90


# --- what people read: the query source, the report, the API, the pages ---------------------

@pytest.fixture
def driven(app: Flask, session: Any, fleet: dict[str, Any]) -> dict[str, Any]:
    """An hour ago: van 1 speeds 3 min 10 s (up to 131) and again 20 s later on (up to 105,
    ended by a gap); van 2 is still speeding."""
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def shifted(fixes: list[Fix]) -> list[Fix]:
        return [Fix(f.device, base + (f.fix_time - T0), f.latitude, f.longitude,
                    speed_kmh=f.speed_kmh, ignition=True) for f in fixes]

    pipeline.store_batch(session, fleet["ids"], shifted(
        [*three_minutes(), fix(600, 100), fix(610, 105), fix(620, 99), fix(1000, 50),
         *three_minutes(0, IMEI2)[:5]]))
    session.commit()
    return {**fleet, "base": base, "alarms": [a.id for a in overspeed(session)]}


def test_query_source_fields_and_the_overspeed_report(api_client: Any,
                                                      driven: dict[str, Any]) -> None:
    api = api_client("admin")
    where = {"field": "type", "op": "eq", "value": "overspeed"}
    body = api.post("/api/v1/query/gps_alarms", json={
        "where": where, "sort": ["id"]}).get_json()
    assert "items" in body, body
    assert [(i["duration_s"], i["duration_min"], i["max_speed_kmh"], i["limit_kmh"])
            for i in body["items"]] == [(190, 190 / 60, 131, 80), (20, 20 / 60, 105, 80),
                                        (10, 10 / 60, 91, 80)]
    ended = [i["ended_at"] for i in body["items"]]
    assert ended[:2] == [(driven["base"] + timedelta(seconds=s)).isoformat() for s in (190, 620)]
    assert ended[2] is None
    running = api.post("/api/v1/query/gps_alarms", json={"where": {"and": [
        where, {"field": "ended_at", "op": "empty"}]}}).get_json()
    assert [i["id"] for i in running["items"]] == [driven["alarms"][2]]
    report = api.get("/api/v1/reports/gps.overspeed_episodes").get_json()
    assert report["measures"] == ["count_id", "sum_duration_min", "max_duration_min",
                                  "max_max_speed_kmh"]
    rows = {r["plate"]: r for r in report["rows"]}
    van1, van2 = rows["沪B00001"], rows["沪B00002"]
    assert (van1["count_id"], round(van1["sum_duration_min"], 3),
            round(van1["max_duration_min"], 3), van1["max_max_speed_kmh"]) == (
        2, round(210 / 60, 3), round(190 / 60, 3), 131)
    assert (van2["count_id"], van2["max_max_speed_kmh"]) == (1, 91)     # so far


def test_api_alarm_items_carry_the_final_figures(api_client: Any,
                                                 driven: dict[str, Any]) -> None:
    api = api_client("admin")
    first = driven["alarms"][0]
    item = api.get(f"/api/v1/gps/alarms/{first}").get_json()
    assert (item["details"]["duration_s"], item["details"]["max_speed_kmh"],
            item["details"]["ended_by"]) == (190, 131, "speed")
    listed = api.get(f"/api/v1/gps/alarms?device={IMEI}&type=overspeed").get_json()
    assert {i["details"]["duration_s"] for i in listed["items"]} == {190, 20}
    # the figures did not move the version: a dispatcher acknowledges what the page showed
    ack = api.post(f"/api/v1/gps/alarms/{first}/acknowledge", json={"note": "ok", "version": 1})
    assert ack.status_code == 200, ack.get_json()
    assert ack.get_json()["details"]["ended_at"]


def test_alarm_page_says_how_long_and_how_fast(client_for: Any, driven: dict[str, Any]) -> None:
    client = client_for("admin")
    html = client.get("/gps/alarms").text
    assert "lasted 3 min 10 s, up to 131 km/h" in html
    assert "lasted 20 s, up to 105 km/h" in html
    assert "10 s so far, up to 91 km/h" in html
    zh = client.get("/gps/alarms", headers={"Accept-Language": "zh-CN"}).text
    assert "持续 3 分 10 秒，最高 131 公里/小时" in zh
    device = client.get(f"/gps/devices/{driven['d1']}").text
    assert "lasted 3 min 10 s, up to 131 km/h" in device


def test_durations_and_summaries_read_well(app: Flask) -> None:
    from flask_babel import force_locale

    from carebiz_plugins.gps.labels import duration, overspeed_summary

    with app.test_request_context("/"):
        assert [duration(s) for s in (40, 190, 3900)] == ["40 s", "3 min 10 s", "1 h 5 min"]
        assert overspeed_summary({}) == "" and overspeed_summary(None) == ""
        assert overspeed_summary({"speed": 90}) == ""
        with force_locale("zh_Hans_CN"):
            assert duration(3900) == "1 小时 5 分"
            assert overspeed_summary({"duration_s": 10, "max_speed_kmh": 91.4}) == (
                "已持续 10 秒，最高 91 公里/小时")
