"""The writes of a stored batch: ONE driver-level ``executemany`` (or COPY) per table, with
SQL written once per dialect.

WHY: a batch of 1,000 fixes from 1,000 trackers moves 1,000 live-state rows and as many
daily-mileage rows. Built per device, each ``INSERT … ON CONFLICT DO UPDATE`` cost SQLAlchemy
2–5 ms to construct and compile (measured: ingest stored a few hundred fixes a second). Built
once and executed through SQLAlchemy, the per-row bind processing (type decorators, default
columns, ``construct_params``) was still a quarter of the writer thread (cProfile of
``store_batch``, 1,000 warm devices), more than the databases' own work. So the statements
are plain SQL text run on the session's driver connection — in its transaction — with the
values converted here exactly as the ORM's column types would (:func:`_sqlite_time`,
:func:`_naive_utc`; a test compares them).

Rows handed to one call must not repeat a key (one state row per device, one mileage row
per device and day): PostgreSQL refuses to update a row twice in one statement.

The positions themselves (:func:`insert_positions`) go to PostgreSQL by binary ``COPY``, not
as a multi-row ``VALUES`` list. WHY: measured with py-spy under the 2,000-tracker benchmark,
60 % of the writer thread went into psycopg *parsing* the 17,000-placeholder query that
SQLAlchemy's insertmanyvalues builds for a batch of 1,000 fixes (a new text each time a batch
has another size, so never cached). One ``INSERT … SELECT FROM unnest(…)`` with an array per
column took 48 ms per 1,000 rows (psycopg's list dumper is Python); COPY takes 30 ms, about
the raw ``executemany`` rate of the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

from ..models import GpsDeviceState, GpsMileageDaily, GpsPosition

#: the live-state columns a newer fix moves
MOVED = ("fix_time", "latitude", "longitude", "speed_kmh", "course", "valid", "ignition",
         "moving")


def _dialect(session: Session) -> str:
    return "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"


#: ``gps_device_state``'s columns a stored batch writes, in the order of ``positions._state_row``
STATE_COLUMNS = ("device_id", *MOVED, "online", "last_seen", "odometer_m", "alarm_open")
#: ``gps_mileage_daily``'s columns, in the order :func:`add_mileage` writes them
MILEAGE_COLUMNS = ("device_id", "day", "vehicle_id", "distance_m", "engine_seconds", "fuel_l",
                   "max_speed_kmh", "positions")


#: PostgreSQL types of :data:`STATE_COLUMNS` and :data:`MILEAGE_COLUMNS` (binary COPY)
STATE_TYPES = ("int4", "timestamp", "float8", "float8", "float8", "int2", "bool", "bool",
               "bool", "bool", "timestamp", "float8", "int4")
MILEAGE_TYPES = ("int4", "date", "int4", "float8", "int4", "float8", "float8", "int4")


@cache
def state_conflict() -> str:
    """The upsert of ``gps_device_state``: the position columns move only when the row's
    fix is older (a re-sent or buffered fix never moves the map backwards);
    ``online``/``last_seen`` always; ``odometer_m`` adds the batch's distance."""
    t = GpsDeviceState.__tablename__
    newer = f"({t}.fix_time IS NULL OR {t}.fix_time < excluded.fix_time)"
    moved = ", ".join(f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE {t}.{c} END"
                      for c in MOVED)
    return (f"ON CONFLICT (device_id) DO UPDATE SET {moved}, online = excluded.online, "
            f"last_seen = excluded.last_seen, odometer_m = {t}.odometer_m + excluded.odometer_m")


@cache
def mileage_conflict() -> str:
    """The upsert of ``gps_mileage_daily``: the batch's increments added to the day's row."""
    t = GpsMileageDaily.__tablename__
    return (f"ON CONFLICT (device_id, day) DO UPDATE SET "
            f"distance_m = {t}.distance_m + excluded.distance_m, "
            f"engine_seconds = {t}.engine_seconds + excluded.engine_seconds, "
            f"fuel_l = COALESCE({t}.fuel_l, 0.0) + COALESCE(excluded.fuel_l, 0.0), "
            f"max_speed_kmh = CASE WHEN excluded.max_speed_kmh > {t}.max_speed_kmh "
            f"THEN excluded.max_speed_kmh ELSE {t}.max_speed_kmh END, "
            f"positions = {t}.positions + excluded.positions")


@cache
def _values_sql(table: str, columns: tuple[str, ...], conflict: str) -> str:
    """SQLite: the INSERT for the driver's ``executemany``."""
    return (f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _c in columns)}) {conflict}")


def _driver_executemany(session: Session, sql: str, values: list[tuple[Any, ...]]) -> int:
    """``executemany`` on the session's own driver connection (its transaction); the
    affected row count."""
    dbapi = session.connection().connection.driver_connection
    assert dbapi is not None
    cur = dbapi.cursor()
    try:
        cur.executemany(sql, values)
        return max(int(cur.rowcount), 0)
    finally:
        cur.close()


def _time_of(dialect: str) -> Callable[[dt.datetime | None], Any]:
    """How a :class:`carebiz.db.UTCDateTime` value goes to this driver."""
    conv = _sqlite_time if dialect == "sqlite" else _naive_utc

    def time_of(value: dt.datetime | None) -> Any:
        return None if value is None else conv(value)
    return time_of


def upsert_states(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """``rows``: tuples in :data:`STATE_COLUMNS` order with aware datetimes, one per
    device (a statement may not update a row twice)."""
    if not rows:
        return
    dialect = _dialect(session)
    time_of = _time_of(dialect)
    fix_at, seen_at = STATE_COLUMNS.index("fix_time"), STATE_COLUMNS.index("last_seen")
    values = []
    seen: dict[dt.datetime, Any] = {}         # one ``last_seen`` per batch: converted once
    for r in rows:
        v = list(r)
        last = v[seen_at]
        if last is not None and last not in seen:
            seen[last] = time_of(last)
        v[fix_at], v[seen_at] = time_of(v[fix_at]), seen.get(last)
        values.append(tuple(v))
    _upsert(session, dialect, GpsDeviceState.__tablename__, STATE_COLUMNS, STATE_TYPES,
            values, state_conflict())


def add_mileage(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """``rows``: the :data:`MILEAGE_COLUMNS` of each device and day, one per device and day."""
    if not rows:
        return
    dialect = _dialect(session)
    day_of: Callable[[dt.date], Any] = (dt.date.isoformat if dialect == "sqlite"
                                         else (lambda d: d))
    values = [(r["device_id"], day_of(r["day"]), r["vehicle_id"], float(r["distance_m"]),
               int(r["engine_seconds"]), r["fuel_l"], float(r["max_speed_kmh"]),
               int(r["positions"])) for r in rows]
    _upsert(session, dialect, GpsMileageDaily.__tablename__, MILEAGE_COLUMNS, MILEAGE_TYPES,
            values, mileage_conflict())


def _upsert(session: Session, dialect: str, table: str, columns: tuple[str, ...],
            types: tuple[str, ...], values: list[tuple[Any, ...]], conflict: str) -> None:
    """The driver's ``executemany`` of an INSERT … ``conflict`` on SQLite, COPY into staging
    and one INSERT … SELECT on PostgreSQL."""
    if dialect == "sqlite":
        _driver_executemany(session, _values_sql(table, columns, conflict), values)
    else:
        _copy_then(session, table, tuple(zip(columns, types, strict=True)), values, conflict)


def _copy_then(session: Session, table: str, columns: tuple[tuple[str, str], ...],
               values: Sequence[tuple[Any, ...]], conflict: str) -> int:
    """PostgreSQL: binary ``COPY`` of ``values`` into the table's temporary staging table,
    then ONE ``INSERT … SELECT … <conflict>`` that also empties it (a CTE deletes the staged
    rows it inserts); returns the rows the INSERT wrote. WHY: psycopg's ``executemany``
    costs ~18 µs of Python a row (pipeline bookkeeping per row, measured with cProfile of
    1,000-device batches); its binary COPY formats a row in C.

    The staging table is created ``IF NOT EXISTS`` in every batch's own transaction (one
    cheap statement): a flag kept on the connection would lie after a rolled-back first
    batch, and a connection pooler in transaction mode hands out another session each
    time. ``ON COMMIT DELETE ROWS`` empties it even if a batch fails half-way."""
    staging = f"{table}_staging"
    cols = ", ".join(n for n, _t in columns)
    dbapi = session.connection().connection.driver_connection
    assert dbapi is not None
    with dbapi.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} ("
                    + ", ".join(f"{n} {t}" for n, t in columns) + ") ON COMMIT DELETE ROWS")
        with cur.copy(f"COPY {staging} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([t for _n, t in columns])
            for v in values:
                copy.write_row(v)
        cur.execute(f"WITH staged AS (DELETE FROM {staging} RETURNING *) "
                    f"INSERT INTO {table} ({cols}) SELECT {cols} FROM staged {conflict}")
        return max(int(cur.rowcount), 0)


#: ``gps_position``'s columns as the batch rows name them, with their PostgreSQL types
POSITION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("device_id", "int4"), ("fix_time", "timestamp"), ("received_at", "timestamp"),
    ("latitude", "float8"), ("longitude", "float8"), ("speed_kmh", "float8"),
    ("course", "int2"), ("valid", "bool"), ("satellites", "int2"),
    ("ignition", "bool"), ("reupload", "bool"), ("odometer_m", "int8"),
    ("fuel_l", "float8"), ("distance_m", "float8"), ("attributes", "json"),
    ("raw", "bytea"),
)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    """What :class:`carebiz.db.UTCDateTime` stores: naive UTC (COPY skips the type's bind
    step, so it is done here)."""
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def insert_positions(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert position rows once each (``ON CONFLICT (device_id, fix_time) DO NOTHING``);
    returns how many were new. ``rows`` carry the :data:`POSITION_COLUMNS`."""
    if not rows:
        return 0
    if _dialect(session) != "postgresql":
        return _sqlite_positions(session, rows)
    return _copy_positions(session, rows)


def _sqlite_time(value: dt.datetime) -> str:
    """The text SQLAlchemy's SQLite ``DATETIME`` stores for a :class:`carebiz.db.UTCDateTime`
    (naive UTC, microseconds always written): the unique (device_id, fix_time) index and
    every range read compare these strings, so the format must be exactly that
    (``tests``: test_positions checks it against SQLAlchemy's own bind processor)."""
    v = value.astimezone(dt.UTC)
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:"
            f"{v.second:02d}.{v.microsecond:06d}")


@cache
def _sqlite_positions_sql() -> str:
    names = [n for n, _t in POSITION_COLUMNS]
    return (f"INSERT INTO {GpsPosition.__tablename__} ({', '.join(names)}) VALUES "
            f"({', '.join('?' for _n in names)}) ON CONFLICT (device_id, fix_time) DO NOTHING")


def _sqlite_positions(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """SQLite: one ``executemany`` on the driver's cursor, values converted here. WHY not
    through SQLAlchemy: measured with py-spy, two thirds of the writer thread's time went
    into SQLAlchemy's per-row bind processing of 16 columns (type decorators, the JSON
    serializer called through three layers), more than SQLite's own insert. The cursor's
    ``rowcount`` after ``executemany`` is the number of rows inserted, so resent fixes that
    the conflict clause skips do not count."""
    dbapi = session.connection().connection.driver_connection
    assert dbapi is not None
    dumps = json.dumps
    received: dict[dt.datetime, str] = {}     # one receive time per batch: converted once

    def received_at(t: dt.datetime) -> str:
        text = received.get(t)
        if text is None:
            text = received[t] = _sqlite_time(t)
        return text
    values = [(
        r["device_id"], _sqlite_time(r["fix_time"]), received_at(r["received_at"]),
        r["latitude"], r["longitude"], r["speed_kmh"], r["course"], r["valid"],
        r["satellites"], r["ignition"], r["reupload"], r["odometer_m"], r["fuel_l"],
        r["distance_m"], None if r["attributes"] is None else dumps(r["attributes"]),
        r["raw"]) for r in rows]
    cur = dbapi.cursor()
    try:
        cur.executemany(_sqlite_positions_sql(), values)
        return max(int(cur.rowcount), 0)
    finally:
        cur.close()


def _copy_positions(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """PostgreSQL: :func:`_copy_then` with ``ON CONFLICT DO NOTHING``."""
    return _copy_then(session, GpsPosition.__tablename__, POSITION_COLUMNS, [(
        r["device_id"], _naive_utc(r["fix_time"]), _naive_utc(r["received_at"]),
        r["latitude"], r["longitude"], r["speed_kmh"], r["course"], r["valid"],
        r["satellites"], r["ignition"], r["reupload"], r["odometer_m"], r["fuel_l"],
        r["distance_m"],
        r["attributes"],   # the json type's dumper serialises the dict
        r["raw"]) for r in rows], "ON CONFLICT (device_id, fix_time) DO NOTHING")
