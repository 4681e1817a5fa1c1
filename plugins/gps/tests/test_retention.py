"""Monthly partitions of ``gps_position`` (migration gps_0003, PostgreSQL) and retention
(``services/retention.py``, ``carebiz gps partitions``, the job ``gps.daily_partitions``).

The partition tests need PostgreSQL (run with CAREBIZ_TEST_DATABASE_URL) and build the
schema with the migrations, since the tables made from the models are never partitioned.
The row-by-row retention runs on either database (on PostgreSQL over the plain table the
models build)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alembic import command
from flask import Flask
from sqlalchemy import func, insert, select, text

from carebiz import migrate
from carebiz.jobs import submit
from carebiz.models import Job
from carebiz.testing import make_vehicle, seed
from carebiz_plugins.gps.fixes import Fix
from carebiz_plugins.gps.models import (
    GpsAlarm,
    GpsDevice,
    GpsMileageDaily,
    GpsPosition,
    GpsStop,
    GpsTrip,
)
from carebiz_plugins.gps.services import positions, retention
from carebiz_plugins.gps.services.retention import add_months, month_of, partition_name

IMEI = "123456789012345"
NOW = dt.datetime.now(dt.UTC)
THIS_MONTH = month_of(NOW)


def at(month: dt.date, day: int = 10) -> dt.datetime:
    return dt.datetime(month.year, month.month, day, 8, 0, tzinfo=dt.UTC)


def track(n: int, start: dt.datetime) -> list[Fix]:
    """n fixes 10 s apart moving ~100 m north each (a trip's worth of data)."""
    return [Fix(IMEI, start + dt.timedelta(seconds=10 * i), 30.0 + i * 0.0009, 120.0,
                speed_kmh=36.0, ignition=True) for i in range(n)]


def count(session: Any, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def make_device(app: Flask, session: Any) -> int:
    positions.reset_caches()
    branch = seed(app)["branches"]["A"]
    vehicle = make_vehicle(session, 1, branch)
    device = GpsDevice(imei=IMEI, vehicle_id=vehicle.id, branch_id=branch, status="active")
    session.add(device)
    session.commit()
    return int(device.id)


def where(session: Any, fix_time: dt.datetime) -> str:
    """The partition holding the position at ``fix_time``."""
    return str(session.scalar(text(
        "SELECT tableoid::regclass::text FROM gps_position WHERE fix_time = :t"),
        {"t": fix_time.replace(tzinfo=None)}))


def children(session: Any) -> set[str]:
    return set(session.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'gps_position'::regclass")))


# --- PostgreSQL: the partitioned table ------------------------------------------------------


@pytest.fixture
def migrated(make_app: Callable[..., Flask], database_url: str) -> Iterator[tuple[Flask, Any]]:
    """An app whose schema the migrations built (partitioned on PostgreSQL)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("partitions exist on PostgreSQL only (set CAREBIZ_TEST_DATABASE_URL)")
    app = make_app(schema=False, CAREBIZ_PLUGINS="gps")
    with app.app_context():
        migrate.upgrade(app)
        session = app.extensions["carebiz"].session_factory()
        yield app, session
        session.close()


def test_the_migrated_table_is_partitioned_by_month(migrated: tuple[Flask, Any]) -> None:
    app, session = migrated
    strategy = session.scalar(text("SELECT partstrat FROM pg_partitioned_table "
                                   "WHERE partrelid = 'gps_position'::regclass"))
    assert strategy == "r"  # range
    expected = {partition_name(add_months(THIS_MONTH, i)) for i in range(4)}
    assert children(session) == expected | {"gps_position_default"}
    pk = session.scalars(text(
        "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid "
        "AND a.attnum = ANY (c.conkey) WHERE c.conname = 'pk_gps_position' "
        "ORDER BY array_position(c.conkey, a.attnum)")).all()
    assert pk == ["id", "fix_time"]
    assert migrate.differences(app, "gps") == []


def test_ingest_stays_idempotent_on_the_partitioned_table(
        migrated: tuple[Flask, Any]) -> None:
    app, session = migrated
    device = make_device(app, session)
    fixes = track(5, at(THIS_MONTH))
    assert positions.store_fixes(session, {IMEI: device}, fixes) == 5
    session.commit()
    assert positions.store_fixes(session, {IMEI: device}, fixes) == 0
    session.commit()
    assert count(session, GpsPosition) == 5
    assert where(session, fixes[0].fix_time) == partition_name(THIS_MONTH)
    # deleting a device still takes its positions along (the foreign key survived)
    session.execute(GpsDevice.__table__.delete())
    session.commit()
    assert count(session, GpsPosition) == 0


def test_a_far_future_fix_lands_in_default_and_partitions_moves_it(
        migrated: tuple[Flask, Any]) -> None:
    app, session = migrated
    device = make_device(app, session)
    future = add_months(THIS_MONTH, 30)
    fix = track(1, at(future))
    assert positions.store_fixes(session, {IMEI: device}, fix) == 1
    session.commit()
    assert where(session, fix[0].fix_time) == "gps_position_default"

    dry = retention.upkeep(session, dry_run=True, retention_months=0)
    assert dry.created == {partition_name(future): 1}
    assert f"Would move 1 position(s) from gps_position_default into " \
           f"{partition_name(future)}." in dry.lines()
    assert where(session, fix[0].fix_time) == "gps_position_default"

    done = retention.upkeep(session, retention_months=0)
    assert done.created == {partition_name(future): 1}
    assert where(session, fix[0].fix_time) == partition_name(future)
    assert session.scalar(text("SELECT count(*) FROM gps_position_default")) == 0
    # the moved row is still the same row, and a resend of it is still refused
    assert positions.store_fixes(session, {IMEI: device}, fix) == 0
    session.commit()
    again = retention.upkeep(session, retention_months=0)
    assert again.created == {} and "Nothing to change." in again.lines()


def test_retention_drops_old_partitions_and_keeps_the_rest_and_the_derived_tables(
        migrated: tuple[Flask, Any]) -> None:
    app, session = migrated
    device = make_device(app, session)
    old, kept = add_months(THIS_MONTH, -8), add_months(THIS_MONTH, -1)
    for month in (old, kept):
        positions.store_fixes(session, {IMEI: device}, track(20, at(month)))
        session.commit()
    created = retention.upkeep(session, retention_months=0).created
    assert created == {partition_name(old): 20, partition_name(kept): 20}
    # a fix of a month with no partition, older than the cut-off: it waits in DEFAULT
    straggler = track(1, at(add_months(THIS_MONTH, -6), day=3))
    positions.store_fixes(session, {IMEI: device}, straggler)
    session.commit()
    session.execute(insert(GpsAlarm).values(
        device_id=device, type="overspeed", fix_time=at(old), received_at=at(old),
        details={}, status="open", note="", branch_id=seed_branch(session, device)))
    session.commit()
    derived = {m: count(session, m) for m in (GpsTrip, GpsStop, GpsMileageDaily, GpsAlarm)}
    assert derived[GpsMileageDaily] >= 2 and derived[GpsAlarm] == 1
    before = count(session, GpsPosition)

    done = retention.upkeep(session, retention_months=3, batch=1)
    assert done.cutoff == dt.datetime.combine(add_months(THIS_MONTH, -3), dt.time(),
                                              dt.UTC)
    assert done.dropped == {partition_name(old): 20}
    assert done.deleted == 1
    assert partition_name(old) not in children(session)
    assert {partition_name(kept), "gps_position_default"} <= children(session)
    assert count(session, GpsPosition) == before - 21
    assert where(session, at(kept)) == partition_name(kept)
    assert {m: count(session, m) for m in derived} == derived
    lines = done.lines()
    assert f"Dropped {partition_name(old)} (20 position(s))." in lines
    assert "Trips, stops, daily mileage and alarms are kept." in lines


def seed_branch(session: Any, device: int) -> int:
    return int(session.get(GpsDevice, device).branch_id)


def test_upgrade_downgrade_upgrade_keeps_rows_and_ids(migrated: tuple[Flask, Any]) -> None:
    app, session = migrated
    device = make_device(app, session)
    for month in (add_months(THIS_MONTH, -2), THIS_MONTH, add_months(THIS_MONTH, 9)):
        positions.store_fixes(session, {IMEI: device}, track(3, at(month)))
        session.commit()
    rows = sorted(session.execute(select(GpsPosition.id, GpsPosition.fix_time)).all())
    session.close()
    engine = app.extensions["carebiz"].engine

    def alembic(step: Callable[..., None], revision: str) -> None:
        with engine.begin() as connection:
            step(migrate.alembic_config(app, "gps", connection), revision)

    alembic(command.downgrade, "gps_0002")
    assert not retention.is_partitioned(session)
    assert sorted(session.execute(select(GpsPosition.id, GpsPosition.fix_time)).all()) == rows
    # gps_position is back as gps_0002 made it (later migrations of other tables are undone too)
    assert [d for d in migrate.differences(app, "gps") if "gps_position" in repr(d)] == []
    session.close()

    alembic(command.upgrade, "heads")
    assert migrate.differences(app, "gps") == []
    assert retention.is_partitioned(session)
    # every month the data covers got its partition; nothing waits in DEFAULT
    assert partition_name(add_months(THIS_MONTH, -2)) in children(session)
    assert partition_name(add_months(THIS_MONTH, 9)) in children(session)
    assert session.scalar(text("SELECT count(*) FROM gps_position_default")) == 0
    assert sorted(session.execute(select(GpsPosition.id, GpsPosition.fix_time)).all()) == rows
    positions.reset_caches()
    positions.store_fixes(session, {IMEI: device}, track(1, at(THIS_MONTH, day=20)))
    session.commit()
    assert session.scalar(select(func.max(GpsPosition.id))) > max(r.id for r in rows)


# --- either database ------------------------------------------------------------------------


def test_retention_deletes_old_rows_in_batches_on_a_plain_table(
        app: Flask, session: Any) -> None:
    device = make_device(app, session)
    old = [at(add_months(THIS_MONTH, -5)) + dt.timedelta(minutes=i) for i in range(12)]
    new = [at(THIS_MONTH, day=1) + dt.timedelta(minutes=i) for i in range(3)]
    session.execute(insert(GpsPosition), [
        {"device_id": device, "fix_time": t, "latitude": 30.0, "longitude": 120.0}
        for t in old + new])
    session.commit()
    assert not retention.is_partitioned(session)

    dry = retention.upkeep(session, retention_months=2, dry_run=True)
    assert dry.deleted == 12 and count(session, GpsPosition) == 15
    assert "Would delete 12 older position(s) row by row." in dry.lines()

    batches: list[int] = []
    real_commit = session.commit

    def counting_commit() -> None:
        batches.append(count(session, GpsPosition))
        real_commit()

    session.commit = counting_commit
    done = retention.upkeep(session, retention_months=2, batch=5)
    session.commit = real_commit
    assert done.deleted == 12
    # one commit before the first batch, then one per batch of at most 5 rows
    assert [b for b in batches if b < 15] == [10, 5, 3]
    kept = session.scalars(select(GpsPosition.fix_time).order_by(GpsPosition.fix_time)).all()
    assert kept == new


def test_retention_off_keeps_everything(app: Flask, session: Any) -> None:
    device = make_device(app, session)
    session.execute(insert(GpsPosition), [{"device_id": device, "fix_time": at(
        add_months(THIS_MONTH, -40)), "latitude": 30.0, "longitude": 120.0}])
    session.commit()
    done = retention.upkeep(session)  # the setting: 0
    assert done.cutoff is None and done.deleted == 0 and count(session, GpsPosition) == 1
    assert "Retention is off (gps.retention_months = 0): every position is kept." \
        in done.lines()


def test_cutoff_is_the_start_of_a_month() -> None:
    now = dt.datetime(2026, 3, 31, 23, 0, tzinfo=dt.UTC)
    assert retention.cutoff(now, 0) is None
    assert retention.cutoff(now, 1) == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    assert retention.cutoff(now, 14) == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert add_months(dt.date(2026, 12, 1), 1) == dt.date(2027, 1, 1)
    assert add_months(dt.date(2026, 1, 1), -1) == dt.date(2025, 12, 1)


def test_the_command_reads_the_setting_and_says_what_it_did(app: Flask, session: Any) -> None:
    from carebiz.services import settings
    from carebiz.toolkit import host

    device = make_device(app, session)
    session.execute(insert(GpsPosition), [{"device_id": device, "fix_time": at(
        add_months(THIS_MONTH, -13)), "latitude": 30.0, "longitude": 120.0}])
    settings.set_value(session, host(), "gps.retention_months", 12)
    session.commit()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["gps", "partitions", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would delete 1 older position(s) row by row." in dry.output
    assert count(session, GpsPosition) == 1
    done = runner.invoke(args=["gps", "partitions", "--ahead", "1"])
    assert done.exit_code == 0, done.output
    assert "Deleted 1 older position(s) row by row." in done.output
    assert "Trips, stops, daily mileage and alarms are kept." in done.output
    session.rollback()
    assert count(session, GpsPosition) == 0
    bad = runner.invoke(args=["gps", "partitions", "--ahead", "-1"])
    assert bad.exit_code == 2 and "--ahead" in bad.output


def test_the_daily_job_runs_the_upkeep(app: Flask, session: Any) -> None:
    host = app.extensions["carebiz"].host
    tasks = {t.name: t for t in host.collect("tasks")}
    assert tasks["gps.partitions"].permission == "admin.settings"
    jobs = {j.name: j for j in host.collect("scheduled_jobs")}
    assert jobs["gps.daily_partitions"].task == "gps.partitions"
    assert jobs["gps.daily_partitions"].every == dt.timedelta(days=1)
    seed(app)
    job = submit(session, "gps.partitions", {}, app=app)
    session.expire_all()
    finished = session.get(Job, job.id)
    assert finished.status == "finished", finished.error
    assert "Retention is off (gps.retention_months = 0): every position is kept." \
        in finished.result["report"]
