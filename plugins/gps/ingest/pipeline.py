"""The one synchronous entry point of every ingest path: store a batch of fixes, evaluate the
alarm rules on it and raise what they find, in the caller's transaction.

The GT06 server's :class:`~.store.DbSink` calls :func:`store_batch` from its writer thread
(a batch every 200 ms, so an alarm is stored and published well within a second of its
frame), the HTTP ingest calls it from its request; both commit, then call
:meth:`BatchResult.publish` so the live map hears of positions and alarms that are really
stored. Heartbeats (:func:`apply_status`) and the devices' own alarms (:func:`device_alarm`)
go through the same rule engine, and :func:`sweep_offline` is the periodic offline check
(:func:`run_offline_sweeps` runs it every 30 s beside ``carebiz gps serve``).

When an overspeed episode that raised its alarm ends, the batch writes its final figures
into the stored alarm (:func:`~..services.alarms.end_episodes`, after the batch's alarms so
an episode raised and ended in one batch finds its row); nobody is notified again and the
live bus does not carry it. After a restart, the first batch of each device takes up its
open episode (:func:`_resume`): the alarm is found by device and ``started_at``, never by an
id kept in memory.

Failure isolation: positions are what a device must never lose. A bug in a rule, or an alarm
row the database refuses, is logged and costs that batch its alarms (the alarm writes run in
a SAVEPOINT), never its positions or their acknowledgement; the same holds for the episode
ends and the look-up that takes episodes up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from carebiz.db import utcnow

from ..fixes import AlarmEvent, DeviceAlarm, DeviceStatus, Fix
from ..models import GpsDeviceState
from ..rules import DeviceRules, EpisodeEnd, Evaluation, RuleEngine, offline_candidates
from ..services import alarms as alarm_service
from ..services import positions

log = logging.getLogger(__name__)

#: the process's rule state (one per ingest process; see :mod:`..rules.engine`)
ENGINE = RuleEngine()
#: seconds between two offline sweeps of ``carebiz gps serve``
OFFLINE_SWEEP_SECONDS = 30.0
#: key of the PostgreSQL advisory lock that lets one of several servers sweep at a time
_SWEEP_LOCK = 0x67707331


@dataclass(slots=True)
class BatchResult:
    """What a batch stored and raised; publish it after the commit."""

    inserted: int = 0                                            #: new position rows
    alarms: list[dict[str, Any]] = field(default_factory=list)   #: for the live bus
    positions: list[dict[str, Any]] = field(default_factory=list)  #: latest live fix per device

    def publish(self) -> None:
        """Hand the batch to the live bus (never raises: a deaf map must not stop ingest)."""
        if not (self.alarms or self.positions):
            return
        try:
            from ..services import live

            if self.positions:
                live.publish_positions(self.positions)
            for alarm in self.alarms:
                live.publish_alarm(alarm)
        except Exception:
            log.exception("gps live publish failed")


def reset() -> None:
    """Forget the rule state and the cached rules (tests; a restart does the same)."""
    ENGINE.reset()
    alarm_service.CACHE.invalidate()


def _rules(session: Session, device_ids: set[int]) -> dict[str, DeviceRules]:
    by_id = alarm_service.rules_for(session, device_ids)
    config = alarm_service.CACHE.config
    if config is not None and ENGINE.config != config:
        ENGINE.config = config
    return {r.device: r for r in by_id.values()}


def _raise(session: Session, candidates: list[AlarmEvent],
           rules: dict[str, DeviceRules] | None) -> list[dict[str, Any]]:
    """:func:`alarm_service.raise_alarms` in a SAVEPOINT: a refused alarm row costs the
    alarms, not the batch."""
    if not candidates:
        return []
    try:
        with session.begin_nested():
            return alarm_service.raise_alarms(session, candidates, rules)
    except Exception:
        log.exception("gps: %d alarm(s) not stored", len(candidates))
        return []


def _end(session: Session, ended: list[EpisodeEnd],
         rules: dict[str, DeviceRules] | None) -> int:
    """:func:`alarm_service.end_episodes` in a SAVEPOINT: a refused update costs the
    figures, not the batch."""
    if not ended:
        return 0
    try:
        with session.begin_nested():
            return alarm_service.end_episodes(session, ended, rules)
    except Exception:
        log.exception("gps: %d overspeed episode end(s) not stored", len(ended))
        return 0


def _resume(session: Session, live: list[Fix], rules: dict[str, DeviceRules]
            ) -> list[EpisodeEnd]:
    """Devices the engine meets for the first time since the process started: take up
    the overspeed episode each left open (its alarm stored without an end) by replaying
    its stored fixes since the episode began; answers the ends the replays saw. Once per
    device per process, so a batch of known devices costs one set look-up each."""
    fresh = ENGINE.claim_unseen(rules)
    if not fresh:
        return []
    first: dict[str, datetime] = {}
    for fix in live:
        seen = first.get(fix.device)
        if seen is None or fix.fix_time < seen:
            first[fix.device] = fix.fix_time
    by_id = {rules[d].device_id: d for d in fresh if d in first}
    ended: list[EpisodeEnd] = []
    try:
        with session.begin_nested():
            for device_id, started in alarm_service.open_episodes(
                    session, {i: first[d] for i, d in by_id.items()}).items():
                imei = by_id[device_id]
                history = alarm_service.episode_fixes(session, device_id, imei, started,
                                                      first[imei])
                ended += ENGINE.resume(imei, rules[imei], history, started)
    except Exception:  # no episode taken up: the next fixes start afresh, as before
        log.exception("gps: open overspeed episodes of %d device(s) not taken up", len(by_id))
    return ended


def position_message(fix: Fix, rules: DeviceRules | None = None,
                     moving_kmh: float | None = None) -> dict[str, Any]:
    """The live bus's position message for a stored fix."""
    if moving_kmh is None:
        moving_kmh = ENGINE.config.moving_kmh
    return {"device": fix.device, "device_id": rules.device_id if rules else None,
            "vehicle_id": rules.vehicle_id if rules else None,
            "latitude": fix.latitude, "longitude": fix.longitude,
            "speed_kmh": fix.speed_kmh, "course": fix.course, "valid": fix.valid,
            "ignition": fix.ignition, "fix_time": fix.fix_time.isoformat(),
            "status": "moving" if fix.speed_kmh >= moving_kmh else "stopped"}


def store_batch(session: Session, device_id_by_imei: dict[str, int],
                fixes: list[Fix]) -> BatchResult:
    """Store ``fixes`` (``services.positions.store_fixes``: idempotent, state, mileage),
    evaluate the rules on the live ones and store the alarms they raise; the caller commits,
    then calls :meth:`BatchResult.publish`. Fixes of devices not in ``device_id_by_imei``
    are skipped, re-uploaded history is stored without rules."""
    # the rules cache knows each active device's vehicle: the store needs no lookup
    known = alarm_service.rules_for(session, {device_id_by_imei[f.device] for f in fixes
                                              if f.device in device_id_by_imei})
    inserted = positions.store_fixes(session, device_id_by_imei, fixes,
                                     {i: r.vehicle_id for i, r in known.items()})
    live = [f for f in fixes if not f.reupload and f.device in device_id_by_imei]
    if len(live) < len(fixes):   # history raises nothing; in a running overspeed episode
        late = [f for f in fixes if f.reupload and f.device in device_id_by_imei]
        try:                     # it may raise the top speed
            ENGINE.late(late)
        except Exception:
            log.exception("gps rules failed on %d re-uploaded fixes", len(late))
    if not live:
        return BatchResult(inserted)
    rules = _rules(session, {device_id_by_imei[f.device] for f in live})
    resumed = _resume(session, live, rules)
    try:
        found = ENGINE.run(live, rules)
    except Exception:  # a rule's bug must not lose the positions
        log.exception("gps rules failed on a batch of %d fixes", len(live))
        found = Evaluation()
    latest: dict[str, Fix] = {}
    for fix in live:
        seen = latest.get(fix.device)
        if seen is None or fix.fix_time > seen.fix_time:
            latest[fix.device] = fix
    moving = ENGINE.config.moving_kmh
    raised = _raise(session, found.alarms, rules)
    _end(session, resumed + found.ended, rules)
    return BatchResult(inserted, raised,
                       [position_message(f, rules.get(d), moving) for d, f in latest.items()])


def device_alarm(session: Session, device_id: int, alarm: DeviceAlarm) -> BatchResult:
    """A device's own alarm (SOS, power cut …): stored once, not for re-uploaded history."""
    rules = _rules(session, {device_id})
    return BatchResult(0, _raise(session, ENGINE.device_alarm(alarm), rules))


def apply_status(session: Session, device_id: int, status: DeviceStatus) -> BatchResult:
    """A heartbeat's ignition fed to the idle and ignition-hours rules."""
    if status.ignition is None:
        return BatchResult()
    rules = _rules(session, {device_id})
    dev_rules = rules.get(status.device)
    if dev_rules is None:
        return BatchResult()
    return BatchResult(0, _raise(session, ENGINE.status(status, dev_rules), rules))


def sweep_offline(session: Session, now: datetime | None = None) -> BatchResult:
    """Raise ``offline`` for every device silent longer than its groups' offline delay (once
    per silence) and mark it offline. On PostgreSQL an advisory lock lets only one of
    several ingest servers sweep at a time; the others skip this round."""
    if session.get_bind().dialect.name == "postgresql":
        got = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                              {"k": _SWEEP_LOCK}).scalar()
        if not got:
            return BatchResult()
    now = now or utcnow()
    candidates = offline_candidates(now, alarm_service.offline_watches(session))
    if not candidates:
        return BatchResult()
    result = BatchResult(0, _raise(session, candidates, None))
    ids = [a["device_id"] for a in result.alarms]
    if ids:
        session.execute(update(GpsDeviceState).where(GpsDeviceState.device_id.in_(ids))
                        .values(online=False))
    return result


async def run_offline_sweeps(run: Callable[[], Awaitable[Any]],
                             every: float = OFFLINE_SWEEP_SECONDS) -> None:
    """Call ``run`` (e.g. :meth:`~.store.DbSink.sweep_offline`) every ``every`` seconds
    until cancelled; a failed sweep is logged and the next one runs."""
    while True:
        await asyncio.sleep(every)
        try:
            await run()
        except Exception:
            log.exception("gps offline sweep failed")
