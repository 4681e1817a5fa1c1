"""The database :class:`~carebiz_plugins.gps.fixes.IngestSink`: what the protocol servers
hand over is written through the app's session factory.

WHY one writer thread: SQLAlchemy sessions block, and the event loop serving thousands of
connections must not; a single thread also serialises the writes, so two batches never race
on the same device's state row. WHY batching: positions from every connection are queued
and committed as ONE transaction every ~200 ms or 1,000 fixes — one commit per fix would cap
the server at the database's fsync rate. ``positions`` returns once its fixes are committed,
so the server acknowledges only what is stored (a device resends what was not acked, and the
idempotent insert stores it once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from carebiz.db import utcnow

from ..fixes import CommandToSend, DeviceAlarm, DeviceSession, DeviceStatus, Fix
from ..models import GpsCommand, GpsDeviceState
from ..services import positions as pos
from . import pipeline

log = logging.getLogger(__name__)
T = TypeVar("T")

FLUSH_SECONDS = 0.2
FLUSH_FIXES = 1000
#: how old the set of devices with queued commands may be (gscale)
COMMANDS_SECONDS = 1.0


def publish_positions(fixes: list[Fix]) -> None:
    """Hand stored live fixes to the live bus as the position messages
    :func:`..services.live.publish_positions` expects (kept for callers that store with
    ``positions.store_fixes`` directly; :meth:`.pipeline.BatchResult.publish` does this for
    :func:`.pipeline.store_batch`)."""
    live = [f for f in fixes if not f.reupload]
    if live:
        pipeline.BatchResult(positions=[pipeline.position_message(f) for f in live]).publish()


class DbSink:
    """IngestSink over ``app.extensions["carebiz"].session_factory``."""

    def __init__(self, app: Flask, *, flush_seconds: float = FLUSH_SECONDS,
                 flush_fixes: int = FLUSH_FIXES) -> None:
        self.app = app
        self.factory = app.extensions["carebiz"].session_factory
        self.flush_seconds = flush_seconds
        self.flush_fixes = flush_fixes
        self.malformed_count = 0
        self.batches = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gps-writer")
        self._queue: list[tuple[DeviceSession, list[Fix], asyncio.Future[None]]] = []
        self._queued_fixes = 0
        self._wake: asyncio.Event | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False
        self._logins: list[tuple[str, str, int | None,
                                 asyncio.Future[DeviceSession | None]]] = []
        self._queued_ids: set[int] | None = None
        self._queued_at = 0.0
        _fast_sqlite_commits(app.extensions["carebiz"].engine)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the batch flusher on the running loop."""
        self._wake = asyncio.Event()
        self._flusher = asyncio.ensure_future(self._flush_loop())

    async def close(self) -> None:
        """Flush what is queued, stop the flusher and the writer thread."""
        # not cancelled: a flush in progress must resolve its callers' futures
        self._closing = True
        if self._flusher is not None and self._wake is not None:
            self._wake.set()
            await self._flusher
            self._flusher = None
        if self._logins:
            await self._flush_logins()
        if self._queue:
            await self._flush()
        self._executor.shutdown(wait=True)

    # --- the writer thread --------------------------------------------------------------------

    async def _db(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in the writer thread, in one committed transaction."""
        def run() -> T:
            with self.app.app_context(), self.factory() as session:
                try:
                    result = work(session)
                    session.commit()
                    return result
                except BaseException:
                    session.rollback()
                    raise
        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    # --- positions ----------------------------------------------------------------------------

    async def positions(self, session: DeviceSession, fixes: list[Fix]) -> None:
        if not fixes:
            return
        if self._flusher is None:
            await self.start()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((session, fixes, fut))
        self._queued_fixes += len(fixes)
        if self._queued_fixes >= self.flush_fixes and self._wake is not None:
            self._wake.set()
        await fut

    async def _flush_loop(self) -> None:
        assert self._wake is not None
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
            self._wake.clear()
            if self._logins:
                await self._flush_logins()
            if self._queue:
                await self._flush()

    async def _flush(self) -> None:
        batch, self._queue, self._queued_fixes = self._queue, [], 0
        ids = {s.device: s.device_id for s, _, _ in batch}
        fixes = [f for _, fs, _ in batch for f in fs]
        try:
            # positions, rules and alarms in one transaction (grules: ingest/pipeline.py)
            result = await self._db(lambda db: pipeline.store_batch(db, ids, fixes))
        except Exception as exc:
            log.exception("gps batch of %d fixes not stored", len(fixes))
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.batches += 1
        for _, _, fut in batch:
            if not fut.done():
                fut.set_result(None)
        result.publish()

    # --- the other calls ----------------------------------------------------------------------

    async def login(self, imei: str, peer: str, tz_offset_min: int | None) -> DeviceSession | None:
        """Queued and answered with the other logins of the same moment in one transaction
        (gscale: after a restart thousands of devices log in within seconds; one
        transaction each took 5 ms, 2,000 logins 10 s). The flusher is woken at once, so a
        lone login waits for no timer."""
        if self._flusher is None:
            await self.start()
        fut: asyncio.Future[DeviceSession | None] = asyncio.get_running_loop().create_future()
        self._logins.append((imei, peer, tz_offset_min, fut))
        if self._wake is not None:
            self._wake.set()
        return await fut

    async def _flush_logins(self) -> None:
        batch, self._logins = self._logins, []

        def work(db: Session) -> list[DeviceSession | None]:
            known = pos.known_devices(db, [imei for imei, _p, _tz, _f in batch])
            answers: list[DeviceSession | None] = []
            seen: list[tuple[int, str, int | None]] = []
            for imei, peer, tz_offset_min, _fut in batch:
                device = known.get(imei)
                if device is None:
                    pos.record_pending(db, imei, peer)
                    answers.append(None)
                    continue
                seen.append((device[0], peer, tz_offset_min))
                tz = tz_offset_min if tz_offset_min is not None else device[1]
                answers.append(DeviceSession(imei, device[0], tz))
            pos.mark_seen_many(db, seen)
            return answers
        try:
            answers = await self._db(work)
        except Exception as exc:
            log.exception("gps: %d login(s) not recorded", len(batch))
            for *_rest, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (*_rest, fut), answer in zip(batch, answers, strict=True):
            if not fut.done():
                fut.set_result(answer)

    async def status(self, session: DeviceSession, status: DeviceStatus) -> None:
        def work(db: Session) -> pipeline.BatchResult:
            values: dict[str, Any] = {"online": True, "last_seen": status.received_at}
            for name in ("voltage_level", "gsm_signal", "cut_off", "charging", "ignition"):
                value = getattr(status, name)
                if value is not None:
                    values[name] = value
            _upsert_state(db, session.device_id, values)
            return pipeline.apply_status(db, session.device_id, status)
        (await self._db(work)).publish()

    async def alarm(self, session: DeviceSession, alarm: DeviceAlarm) -> None:
        """Through the rule engine (a resent alarm frame is stored once, one from re-uploaded
        history not at all), stored with the device's branch and vehicle."""
        (await self._db(lambda db: pipeline.device_alarm(db, session.device_id, alarm))).publish()

    async def sweep_offline(self) -> int:
        """The offline sweep (:func:`.pipeline.sweep_offline`) in the writer thread; its
        alarms are published after the commit. Returns how many were raised."""
        result = await self._db(pipeline.sweep_offline)
        result.publish()
        return len(result.alarms)

    async def pending_commands(self, session: DeviceSession) -> list[CommandToSend]:
        # gscale: asked after every read of every connection; one query a second tells which
        # devices have queued commands at all, so the others cost no database round trip
        if session.device_id not in await self._queued_devices():
            return []

        def work(db: Session) -> list[CommandToSend]:
            rows = db.execute(select(GpsCommand.id, GpsCommand.text).where(
                GpsCommand.device_id == session.device_id, GpsCommand.status == "queued")
                .order_by(GpsCommand.id)).all()
            return [CommandToSend(int(i), session.device, t) for i, t in rows]
        return await self._db(work)

    async def _queued_devices(self) -> set[int]:
        """Ids of devices with a queued command, refreshed at most every
        :data:`COMMANDS_SECONDS` (a command queued by the API goes out within that)."""
        now = time.monotonic()
        if self._queued_ids is None or now - self._queued_at >= COMMANDS_SECONDS:
            self._queued_at = now
            self._queued_ids = set(await self._db(lambda db: set(db.scalars(
                select(GpsCommand.device_id).where(GpsCommand.status == "queued")
                .distinct()))))
        return self._queued_ids

    async def command_sent(self, session: DeviceSession, command_id: int) -> None:
        def work(db: Session) -> None:
            db.execute(update(GpsCommand).where(
                GpsCommand.id == command_id, GpsCommand.device_id == session.device_id,
                GpsCommand.status == "queued").values(
                status="sent", sent_at=utcnow(), version=GpsCommand.version + 1))
        await self._db(work)

    async def command_reply(self, session: DeviceSession, text: str) -> None:
        """The reply goes to the oldest command sent and not yet answered (GT06 replies
        carry no command id)."""
        def work(db: Session) -> None:
            cmd_id = db.scalar(select(GpsCommand.id).where(
                GpsCommand.device_id == session.device_id, GpsCommand.status == "sent")
                .order_by(GpsCommand.sent_at, GpsCommand.id).limit(1))
            if cmd_id is None:
                log.info("gps reply from %s with no command sent: %s", session.device, text)
                return
            db.execute(update(GpsCommand).where(GpsCommand.id == cmd_id).values(
                status="replied", reply=text, replied_at=utcnow(),
                version=GpsCommand.version + 1))
        await self._db(work)

    async def disconnected(self, session: DeviceSession) -> None:
        await self._db(lambda db: _upsert_state(db, session.device_id, {"online": False}))

    async def malformed(self, peer: str, frame: bytes, reason: str) -> None:
        self.malformed_count += 1
        log.warning("gps malformed frame from %s (%s): %s", peer, reason, frame[:64].hex())


def _upsert_state(db: Session, device_id: int, values: dict[str, Any],
                  update_with: dict[str, Any] | None = None) -> None:
    """Set some live-state columns, creating the row when the device has none yet
    (``update_with``: what an existing row gets instead, e.g. a counter + 1)."""
    stmt = pos._insert(db, GpsDeviceState.__table__).values(device_id=device_id, **values)
    db.execute(stmt.on_conflict_do_update(index_elements=["device_id"],
                                          set_=update_with or values))


def _fast_sqlite_commits(engine: Any) -> None:
    """gscale: in WAL mode ``synchronous=NORMAL`` syncs at checkpoints, not at every commit
    (a power cut may lose the last batches, never corrupt the file; the devices resend what
    was not acknowledged, and most of the ingest's commits are batches). For the
    connections this process opens from now on; the web app's own settings are untouched
    in other processes."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_gps_normal_sync", False):
        return
    engine._gps_normal_sync = True

    @event.listens_for(engine, "connect")
    def _normal_sync(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
