"""Upkeep of the positions table: monthly partitions ahead of time, and retention.

Positions are the one table that grows without end (a tracker reporting every 10 s writes
~260,000 rows a month). On PostgreSQL migration ``gps_0003`` partitions ``gps_position`` by
month of ``fix_time`` (``gps_position_YYYYMM``, UTC bounds, plus ``gps_position_default``);
:func:`upkeep` — ``carebiz gps partitions`` and the daily job ``gps.daily_partitions`` —
then:

* creates the partitions of this month and ``ahead`` months after it, so fixes never land in
  DEFAULT in normal running, and a partition for every month DEFAULT holds rows of (a
  device with a wrong clock, a far-future fix): PostgreSQL refuses ``CREATE … PARTITION OF``
  while DEFAULT holds rows of that range, so those rows are moved in the same transaction;
* with ``gps.retention_months`` > 0, drops every partition *wholly* older than the cut-off (a
  ``DROP TABLE`` is instant where deleting a month of rows would bloat the table for hours),
  never DEFAULT, and deletes DEFAULT's own rows older than the cut-off.

On SQLite (and on a PostgreSQL table that is not partitioned, such as the tests' tables built
from the models) retention deletes the old rows in batches of :data:`BATCH`, one
transaction each, so the ingest writer waits for one short batch at a time, never for the
whole purge.

The cut-off is a month boundary: with ``gps.retention_months = N`` the current month and the
N whole months before it are kept. Only positions go: trips, stops, daily mileage and alarms
are kept, because the reports and the odometer read those, not the raw fixes.

Unlike most services this one commits: partition DDL and batched deletes are the unit of
work themselves (a caller's transaction around them would hold the locks for the whole run).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, column, func, select, table, text
from sqlalchemy.orm import Session

from carebiz.db import UTCDateTime, utcnow

from ..models import GpsPosition

#: rows deleted per transaction by the row-by-row retention (SQLite, DEFAULT partition)
BATCH = 5_000
#: months created after the current one when nothing else is asked
DEFAULT_AHEAD = 3
SETTING = "gps.retention_months"

PARENT = "gps_position"
DEFAULT_PARTITION = "gps_position_default"
_MONTHLY = re.compile(r"^gps_position_(\d{4})(\d{2})$")


# --- months ----------------------------------------------------------------------------------


def month_of(moment: dt.datetime | dt.date) -> dt.date:
    """The first day of the (UTC) month of ``moment``."""
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(dt.UTC).date()
    return moment.replace(day=1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"gps_position_{month:%Y%m}"


def cutoff(now: dt.datetime, months: int) -> dt.datetime | None:
    """The first instant kept with ``months`` of retention (None: keep everything): the start
    of the month ``months`` before the current one, so whole months go at once and the
    partitions and the row-by-row delete agree on what is old."""
    if months <= 0:
        return None
    start = add_months(month_of(now), -months)
    return dt.datetime(start.year, start.month, 1, tzinfo=dt.UTC)


def _bound(month: dt.date) -> str:
    """A partition bound literal: the column is naive UTC (``UTCDateTime``)."""
    return f"'{month:%Y-%m-%d} 00:00:00'"


# --- what there is ---------------------------------------------------------------------------


def is_partitioned(session: Session) -> bool:
    """True on PostgreSQL once migration ``gps_0003`` has run."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    return bool(session.scalar(text(
        "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:t)"), {"t": PARENT}))


def monthly_partitions(session: Session) -> dict[dt.date, str]:
    """The partitions named ``gps_position_YYYYMM``, by month. A partition someone made by
    hand under another name is neither counted nor ever dropped."""
    names = session.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t)"), {"t": PARENT})
    found = {}
    for name in names:
        match = _MONTHLY.match(name)
        if match:
            found[dt.date(int(match[1]), int(match[2]), 1)] = name
    return found


def default_months(session: Session) -> dict[dt.date, int]:
    """How many rows DEFAULT holds of each month (normally none)."""
    rows = session.execute(text(
        f"SELECT date_trunc('month', fix_time)::date, count(*) FROM {DEFAULT_PARTITION} "
        "GROUP BY 1"))
    return {month: int(n) for month, n in rows}


def _rows(session: Session, name: str) -> int:
    return int(session.scalar(text(f"SELECT count(*) FROM {name}")) or 0)


# --- the upkeep ------------------------------------------------------------------------------


@dataclass
class Upkeep:
    """What :func:`upkeep` did (or, with ``dry_run``, would do)."""

    dialect: str
    partitioned: bool
    dry_run: bool
    retention_months: int
    cutoff: dt.datetime | None
    #: partitions created, with the rows moved into each from DEFAULT
    created: dict[str, int] = field(default_factory=dict)
    #: partitions dropped by retention, with the rows each held
    dropped: dict[str, int] = field(default_factory=dict)
    #: rows deleted one batch at a time (SQLite, a plain table, old rows in DEFAULT)
    deleted: int = 0
    #: months that have a partition after the run (PostgreSQL)
    months: list[dt.date] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The run in plain words, for the command's output and the job's log."""
        would = self.dry_run
        out = []
        if self.partitioned:
            span = (f"{self.months[0]:%Y-%m} to {self.months[-1]:%Y-%m}" if self.months
                    else "none")
            out.append(f"gps_position is partitioned by month ({len(self.months)} monthly "
                       f"partitions: {span}, plus {DEFAULT_PARTITION}).")
            if self.created:
                out.append(f"{'Would create' if would else 'Created'} {len(self.created)} "
                           f"partition(s): {', '.join(self.created)}.")
            for name, n in self.created.items():
                if n:
                    out.append(f"{'Would move' if would else 'Moved'} {n:,} position(s) from "
                               f"{DEFAULT_PARTITION} into {name}.")
        else:
            out.append(f"gps_position is one table on {self.dialect} (not partitioned).")
        if self.cutoff is None:
            out.append(f"Retention is off ({SETTING} = 0): every position is kept.")
        else:
            out.append(f"Retention {self.retention_months} month(s): positions before "
                       f"{self.cutoff:%Y-%m-%d} (UTC) are removed.")
            for name, n in self.dropped.items():
                out.append(f"{'Would drop' if would else 'Dropped'} {name} ({n:,} "
                           "position(s)).")
            where = f" from {DEFAULT_PARTITION}" if self.partitioned else ""
            out.append(f"{'Would delete' if would else 'Deleted'} {self.deleted:,} older "
                       f"position(s){where} row by row.")
            out.append("Trips, stops, daily mileage and alarms are kept.")
        if self.partitioned and not self.created and not self.dropped and not self.deleted:
            out.append("Nothing to change.")
        return out


def retention_setting(session: Session) -> int:
    """``gps.retention_months`` (0, or below: keep everything)."""
    from carebiz.services import settings
    from carebiz.toolkit import host

    return max(0, int(settings.get(session, host(), SETTING) or 0))


def upkeep(session: Session, *, ahead: int = DEFAULT_AHEAD, retention_months: int | None = None,
           now: dt.datetime | None = None, dry_run: bool = False,
           batch: int = BATCH) -> Upkeep:
    """Create the coming months' partitions and apply retention; see the module docstring.
    ``retention_months`` None reads the setting. Commits (see above) unless ``dry_run``,
    which changes nothing and reports what a run would do."""
    if ahead < 0:
        raise ValueError("ahead must be 0 or more months")
    if batch < 1:
        raise ValueError("batch must be 1 or more rows")
    now = now or utcnow()
    months = retention_setting(session) if retention_months is None else max(0,
                                                                              retention_months)
    cut = cutoff(now, months)
    partitioned = is_partitioned(session)
    result = Upkeep(dialect=session.get_bind().dialect.name, partitioned=partitioned,
                    dry_run=dry_run, retention_months=months, cutoff=cut)
    if partitioned:
        _create_partitions(session, result, month_of(now), ahead, cut)
        if cut is not None:
            _drop_partitions(session, result, cut)
        target = DEFAULT_PARTITION
    else:
        target = PARENT
    if cut is not None:
        result.deleted = _delete_older(session, target, cut, batch, dry_run)
    if partitioned:
        result.months = sorted(monthly_partitions(session))
    if dry_run:
        session.rollback()
    return result


def _wanted(session: Session, current: dt.date, ahead: int,
            cut: dt.datetime | None) -> dict[dt.date, int]:
    """Months to create → rows of theirs waiting in DEFAULT. A month wholly before the cut-off
    is not created: its rows in DEFAULT are deleted instead."""
    existing = monthly_partitions(session)
    waiting = default_months(session)
    months = {add_months(current, i) for i in range(ahead + 1)} | set(waiting)
    oldest = month_of(cut) if cut is not None else None
    return {m: waiting.get(m, 0) for m in sorted(months)
            if m not in existing and (oldest is None or m >= oldest)}


def _create_partitions(session: Session, result: Upkeep, current: dt.date, ahead: int,
                       cut: dt.datetime | None) -> None:
    """One transaction for every month created. The parent is locked first (the ``CREATE``
    needs that lock anyway; taking it before reading DEFAULT means no fix can slip into DEFAULT
    for a month between counting it and creating its partition, and locking parent-first, as
    an insert does, cannot deadlock with the ingest). Inserts wait for this transaction,
    which is short: DEFAULT is normally empty."""
    wanted = _wanted(session, current, ahead, cut)
    if result.dry_run or not wanted:
        result.created = {partition_name(m): n for m, n in wanted.items()}
        return
    session.commit()  # the lock must be the first thing of the transaction
    session.execute(text(f"LOCK TABLE {PARENT} IN ACCESS EXCLUSIVE MODE"))
    wanted = _wanted(session, current, ahead, cut)
    columns = ", ".join(c.name for c in GpsPosition.__table__.columns)
    for month, waiting in wanted.items():
        name = partition_name(month)
        bounds = f"FROM ({_bound(month)}) TO ({_bound(add_months(month, 1))})"
        in_range = (f"fix_time >= {_bound(month)} AND fix_time < "
                    f"{_bound(add_months(month, 1))}")
        if waiting:
            session.execute(text(f"CREATE TEMPORARY TABLE gps_position_moving ON COMMIT DROP "
                                 f"AS SELECT {columns} FROM {DEFAULT_PARTITION} "
                                 f"WHERE {in_range}"))
            session.execute(text(f"DELETE FROM {DEFAULT_PARTITION} WHERE {in_range}"))
        session.execute(text(f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES {bounds}"))
        if waiting:
            session.execute(text(f"INSERT INTO {PARENT} ({columns}) "
                                 f"SELECT {columns} FROM gps_position_moving"))
            session.execute(text("DROP TABLE gps_position_moving"))
        result.created[name] = waiting
    session.commit()


def _drop_partitions(session: Session, result: Upkeep, cut: dt.datetime) -> None:
    """Drop the monthly partitions that end on or before the cut-off, in one transaction.
    The rows are counted before the lock is taken (a count scans the partition; nothing
    writes there any more), so the lock is held only for the ``DROP``s."""
    old = {name: _rows(session, name) for month, name in sorted(monthly_partitions(session).items())
           if add_months(month, 1) <= month_of(cut)}
    result.dropped = old
    if result.dry_run or not old:
        return
    session.commit()
    session.execute(text(f"LOCK TABLE {PARENT} IN ACCESS EXCLUSIVE MODE"))
    for name in old:
        session.execute(text(f"DROP TABLE {name}"))
    session.commit()


def _delete_older(session: Session, name: str, cut: dt.datetime, batch: int,
                  dry_run: bool) -> int:
    """Delete rows before ``cut`` from ``name``, ``batch`` rows a transaction, walking the
    ids upwards (the primary key's order) so each batch starts where the last one stopped
    instead of scanning the deleted range again."""
    rows = table(name, column("id", BigInteger()), column("fix_time", UTCDateTime()))
    old = rows.c.fix_time < cut
    if dry_run:
        return int(session.scalar(select(func.count()).select_from(rows).where(old)) or 0)
    session.commit()  # each batch is a transaction of its own
    deleted, last = 0, None
    while True:
        query = select(rows.c.id).where(old).order_by(rows.c.id).limit(batch)
        if last is not None:
            query = query.where(rows.c.id > last)
        ids = list(session.scalars(query))
        if not ids:
            break
        session.execute(rows.delete().where(old, rows.c.id >= ids[0], rows.c.id <= ids[-1]))
        session.commit()
        deleted += len(ids)
        last = ids[-1]
        if len(ids) < batch:
            break
    return deleted


def run_task(ctx: Any, ahead: int = DEFAULT_AHEAD, **_params: Any) -> dict[str, Any]:
    """The daily job ``gps.daily_partitions``: the same upkeep as ``carebiz gps partitions``,
    so nobody needs a cron entry for it."""
    from carebiz import db

    result = upkeep(db.session(), ahead=int(ahead))
    return {"created": result.created, "dropped": result.dropped, "deleted": result.deleted,
            "report": result.lines()}
