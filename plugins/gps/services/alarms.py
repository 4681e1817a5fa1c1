"""Alarms raised at ingest: the rule configuration of a batch's devices, and storing what
the rules found.

WHY a cache: every batch (every 200 ms) needs the limits and fences of its devices, and
those change a few times a day. :class:`RulesCache` keeps each device's
:class:`~carebiz_plugins.gps.rules.DeviceRules` for ``gps.rules_cache_seconds`` (30 s) and
compiles each fence once per version (2,000 devices sharing ten fences hold ten compiled
geometries). In the process that made a change the ``gps.*`` / vehicle / setting signals
empty it at once (:func:`invalidate`, through the plugin's ``event_receivers``); an ingest
server running as a process of its own sees the change when its entries expire.

:func:`raise_alarms` writes the rules' candidates as ``gps_alarm`` rows in the caller's
transaction (the ingest batch's), counts them on ``gps_device_state.alarm_open`` and records
``gps.alarm.raised`` per alarm (sent after the commit). It answers the dicts the live bus
publishes, which the caller hands to :func:`~carebiz_plugins.gps.services.live.publish_alarm`
after its commit too: an alarm nobody can find in the database is never shown.

:func:`end_episodes` writes the final figures of the overspeed episodes the rules saw end
into their stored alarms (found by device, type and ``started_at``, never by an id kept in
memory), and :func:`open_episodes` / :func:`episode_fixes` give the rule engine what it
needs to take up a running episode after a restart. Neither tells anybody: the alarm was
raised and notified once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from carebiz.events import emit

from .. import signals
from ..fixes import AlarmEvent, Fix
from ..models import (
    GpsAlarm,
    GpsDevice,
    GpsDeviceState,
    GpsGeofence,
    GpsGeofenceGroup,
    GpsGeofenceVehicle,
    GpsGroup,
    GpsGroupVehicle,
    GpsPosition,
)
from ..rules import (
    DeviceRules,
    EpisodeEnd,
    Fence,
    Limits,
    OfflineWatch,
    Schedule,
    compile_fence,
)
from ..rules.engine import FATIGUE_BREAK_MINUTES, OVERSPEED_MIN_SECONDS, EngineConfig

log = logging.getLogger(__name__)

#: seconds a device's rules are kept before they are read again (``gps.rules_cache_seconds``)
CACHE_SECONDS = 30.0
#: signal names (prefixes) after which the cached rules are dropped
INVALIDATING = ("gps.device.", "gps.geofence.", "gps.group.", "vehicle.updated",
                "vehicle.owner_changed", "setting.changed", "plugin.switched")
#: the largest IN (...) list one query gets (SQLite allows 32,766 parameters)
CHUNK = 900
#: how far back an overspeed alarm without an end is taken up after a restart (an episode
#: is minutes long; an older one is left with the figures it was raised with)
RESUME_WINDOW = timedelta(hours=6)


def _business_tz() -> ZoneInfo:
    try:
        from carebiz.toolkit import business_tz
        return business_tz()
    except Exception:  # outside an app: UTC
        return ZoneInfo("UTC")


def _setting(session: Session, key: str, default: Any) -> Any:
    """A plugin setting, or ``default`` outside an app (scripts, the pure tests)."""
    try:
        from carebiz.services import settings
        from carebiz.toolkit import host
        return settings.get(session, host(), key)
    except Exception:
        return default


def engine_config(session: Session) -> EngineConfig:
    """The rules' tunables from the plugin's settings."""
    return EngineConfig(
        moving_kmh=float(_setting(session, "gps.moving_kmh", 3)),
        hysteresis_kmh=float(_setting(session, "gps.overspeed_hysteresis_kmh", 2)))


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def _schedule(data: Any, tz: ZoneInfo, what: str) -> Schedule | None:
    try:
        return Schedule.from_json(data, tz)
    except (ValueError, TypeError, AttributeError) as exc:
        log.warning("gps %s: schedule %r ignored (%s)", what, data, exc)
        return None


def group_limits(group: GpsGroup, tz: ZoneInfo) -> Limits:
    """A group's limits as the rules read them."""
    allowed = _schedule(group.allowed_hours, tz, f"group {group.id}")
    return Limits(
        overspeed_kmh=group.overspeed_kmh or None,
        overspeed_min_seconds=(group.overspeed_min_seconds
                               if group.overspeed_min_seconds is not None
                               else OVERSPEED_MIN_SECONDS),
        idle_minutes=group.idle_minutes or None,
        fatigue_hours=group.fatigue_hours or None,
        fatigue_break_minutes=group.fatigue_break_minutes or FATIGUE_BREAK_MINUTES,
        allowed_hours=(allowed,) if allowed is not None else (),
        offline_minutes=group.offline_minutes or None,
    )


class RulesCache:
    """Each device's rules for ``ttl`` seconds, fences compiled once per version."""

    def __init__(self, ttl: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self.loads = 0                   #: how many times the tables were read (tests)
        self._lock = threading.Lock()
        self._devices: dict[int, tuple[float, DeviceRules]] = {}
        self._fences: dict[tuple[int, int, str], Fence | None] = {}
        self.config: EngineConfig | None = None

    def invalidate(self) -> None:
        """Forget everything: the next batch reads the tables again."""
        with self._lock:
            self._devices.clear()
            self._fences.clear()
            self.config = None

    def get(self, session: Session, device_ids: Iterable[int]) -> dict[int, DeviceRules]:
        """The rules of these devices (active ones; others are left out)."""
        now = self.clock()
        wanted = set(device_ids)
        with self._lock:
            found: dict[int, DeviceRules] = {}
            missing: list[int] = []
            for device_id in wanted:
                entry = self._devices.get(device_id)
                if entry is not None and now - entry[0] < self.ttl:
                    found[device_id] = entry[1]
                else:
                    missing.append(device_id)
            if missing or self.config is None:
                self.loads += 1
                if self.config is None:
                    self.config = engine_config(session)
                loaded = self._load(session, sorted(missing)) if missing else {}
                for device_id, rules in loaded.items():
                    self._devices[device_id] = (now, rules)
                for device_id in missing:
                    if device_id not in loaded:
                        self._devices.pop(device_id, None)
                found.update(loaded)
            return found

    def _fence(self, row: GpsGeofence, tz: ZoneInfo) -> Fence | None:
        key = (row.id, row.version, tz.key)
        if key not in self._fences:
            try:
                self._fences[key] = compile_fence(
                    id=row.id, kind=row.kind, name=row.name, geometry=row.geometry,
                    radius_m=row.radius_m, half_width_m=row.half_width_m,
                    schedule=_schedule(row.schedule, tz, f"fence {row.id}"),
                    speed_limit_kmh=row.speed_limit_kmh or None, version=row.version)
            except ValueError as exc:  # a fence that cannot be read must not stop ingest
                log.warning("gps fence %s (%s) ignored: %s", row.id, row.name, exc)
                self._fences[key] = None
        return self._fences[key]

    def _load(self, session: Session, device_ids: Sequence[int]) -> dict[int, DeviceRules]:
        tz = _business_tz()
        devices: list[Any] = []
        for part in _chunks(device_ids):
            devices += session.execute(select(
                GpsDevice.id, GpsDevice.imei, GpsDevice.vehicle_id, GpsDevice.branch_id,
                GpsDevice.speed_limit_kmh).where(
                GpsDevice.id.in_(part), GpsDevice.status == "active")).all()
        vehicle_ids = sorted({d.vehicle_id for d in devices if d.vehicle_id is not None})
        groups_of: dict[int, list[int]] = defaultdict(list)
        groups: dict[int, GpsGroup] = {}
        fences_of_vehicle: dict[int, list[int]] = defaultdict(list)
        fences_of_group: dict[int, list[int]] = defaultdict(list)
        for part in _chunks(vehicle_ids):
            for vehicle_id, group in session.execute(
                    select(GpsGroupVehicle.vehicle_id, GpsGroup)
                    .join(GpsGroup, GpsGroup.id == GpsGroupVehicle.group_id)
                    .where(GpsGroupVehicle.vehicle_id.in_(part), GpsGroup.active.is_(True))):
                groups_of[vehicle_id].append(group.id)
                groups[group.id] = group
            for fence_id, vehicle_id in session.execute(select(
                    GpsGeofenceVehicle.geofence_id, GpsGeofenceVehicle.vehicle_id).where(
                    GpsGeofenceVehicle.vehicle_id.in_(part))):
                fences_of_vehicle[vehicle_id].append(fence_id)
        for part in _chunks(sorted(groups)):
            for fence_id, group_id in session.execute(select(
                    GpsGeofenceGroup.geofence_id, GpsGeofenceGroup.group_id).where(
                    GpsGeofenceGroup.group_id.in_(part))):
                fences_of_group[group_id].append(fence_id)
        fence_ids = sorted({f for fs in (*fences_of_vehicle.values(),
                                         *fences_of_group.values()) for f in fs})
        fences: dict[int, Fence] = {}
        for part in _chunks(fence_ids):
            for row in session.scalars(select(GpsGeofence).where(
                    GpsGeofence.id.in_(part), GpsGeofence.active.is_(True))):
                compiled = self._fence(row, tz)
                if compiled is not None:
                    fences[row.id] = compiled
        limits_of_group = {gid: group_limits(g, tz) for gid, g in groups.items()}
        out: dict[int, DeviceRules] = {}
        for d in devices:
            vid = d.vehicle_id
            gids = sorted(groups_of.get(vid, ())) if vid is not None else []
            ids = set(fences_of_vehicle.get(vid, ())) if vid is not None else set()
            for gid in gids:
                ids.update(fences_of_group.get(gid, ()))
            out[int(d.id)] = DeviceRules(
                device=d.imei, device_id=int(d.id), vehicle_id=vid, branch_id=d.branch_id,
                limits=Limits.combine([limits_of_group[g] for g in gids], d.speed_limit_kmh),
                fences=tuple(fences[f] for f in sorted(ids) if f in fences))
        return out


#: the process's cache (the ingest writer thread and the HTTP ingest share it)
CACHE = RulesCache()


def rules_for(session: Session, device_ids: Iterable[int]) -> dict[int, DeviceRules]:
    """The cached rules of these devices (see :class:`RulesCache`)."""
    return CACHE.get(session, device_ids)


def invalidate(sender: Any = None, **_payload: Any) -> None:
    """Drop the cached rules (a receiver of the ``gps.*``, vehicle and setting signals)."""
    CACHE.invalidate()


def invalidating_signals() -> list[Any]:
    """The declared signals whose receivers must drop the cached rules: every ``gps.``
    device, geofence and group signal declared in this process (so signals the API adds
    later are covered without a change here), vehicle changes and settings."""
    from carebiz.signals import declared

    return [spec.signal for spec in declared()
            if any(spec.name.startswith(prefix) for prefix in INVALIDATING)]


# --- storing alarms ---------------------------------------------------------------------------

def _insert(session: Session, table: Any) -> Any:
    name = session.get_bind().dialect.name
    return (postgresql if name == "postgresql" else sqlite).insert(table)


def raise_alarms(session: Session, candidates: Sequence[AlarmEvent],
                 devices: Mapping[str, DeviceRules] | None = None) -> list[dict[str, Any]]:
    """Store ``candidates`` as open alarms of their devices (branch and vehicle of the
    device), add them to each device's ``alarm_open`` and record ``gps.alarm.raised`` per
    alarm. ``devices`` (by IMEI) saves the lookup when the caller has the rules at hand.
    The caller commits, then publishes the returned dicts on the live bus."""
    if not candidates:
        return []
    known: dict[str, tuple[int, int | None, int | None]] = {}
    if devices:
        known = {imei: (r.device_id, r.vehicle_id, r.branch_id) for imei, r in devices.items()}
    lookup = sorted({c.device for c in candidates} - set(known))
    if lookup:
        for found in session.execute(select(
                GpsDevice.imei, GpsDevice.id, GpsDevice.vehicle_id, GpsDevice.branch_id)
                .where(GpsDevice.imei.in_(lookup))):
            known[found.imei] = (int(found.id), found.vehicle_id, found.branch_id)
    rows: list[tuple[str, GpsAlarm]] = []
    for cand in candidates:
        ref = known.get(cand.device)
        if ref is None or ref[2] is None:   # an unknown or unassigned device: nobody to tell
            log.warning("gps alarm %s of device %s without a branch dropped", cand.type,
                        cand.device)
            continue
        row = GpsAlarm(device_id=ref[0], vehicle_id=ref[1], branch_id=ref[2],
                       type=cand.type[:32], fix_time=cand.fix_time, latitude=cand.latitude,
                       longitude=cand.longitude, details=dict(cand.details), status="open")
        rows.append((cand.device, row))
    if not rows:
        return []
    session.add_all([row for _imei, row in rows])
    session.flush()
    per_device: dict[int, int] = defaultdict(int)
    for _imei, row in rows:
        per_device[row.device_id] += 1
    state = GpsDeviceState.__table__
    for device_id, count in per_device.items():
        stmt = _insert(session, state).values(device_id=device_id, alarm_open=count)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["device_id"], set_={"alarm_open": state.c.alarm_open + count}))
    out: list[dict[str, Any]] = []
    for imei, row in rows:
        emit(session, signals.alarm_raised, alarm_id=row.id, device_id=row.device_id,
             vehicle_id=row.vehicle_id, branch_id=row.branch_id, type=row.type,
             fix_time=row.fix_time, latitude=row.latitude, longitude=row.longitude,
             details=dict(row.details))
        out.append({"id": row.id, "device": imei, "device_id": row.device_id,
                    "vehicle_id": row.vehicle_id, "branch_id": row.branch_id,
                    "type": row.type, "fix_time": row.fix_time.isoformat(),
                    "latitude": row.latitude, "longitude": row.longitude,
                    "details": dict(row.details)})
    return out


# --- the end of an episode ---------------------------------------------------------------------

def _when(value: Any) -> datetime | None:
    """An ISO time of the details (``started_at``), or None when there is none to read."""
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _same(a: datetime, b: datetime) -> bool:
    return abs((a - b).total_seconds()) < 1e-3


def end_episodes(session: Session, ended: Sequence[EpisodeEnd],
                 devices: Mapping[str, DeviceRules] | None = None) -> int:
    """Merge each ended episode's final figures (``duration_s``, ``max_speed_kmh``,
    ``ended_at``, ``ended_by``) into its stored alarm: the alarm of its device and type
    whose ``started_at`` is the episode's, raised between its start and its end (the index
    on device and time finds it; one statement for the batch). An episode whose alarm is
    not stored (its write failed) updates nothing. An alarm that already ended later keeps
    its figures: a device that moved to another ingest server mid-episode and came back
    finds its first server's state stale, and the end that server reports then (at the
    last fix it saw) knows less than the one the other server wrote. Returns the alarms
    updated.

    WHY the version is not raised: it guards what people change (acknowledging, the
    note); these figures are the ingest's, written to ``details`` alone, and raising it
    would answer a dispatcher's acknowledgement of a finished episode with a 409."""
    if not ended:
        return 0
    ids = {imei: r.device_id for imei, r in (devices or {}).items()}
    lookup = sorted({e.device for e in ended} - set(ids))
    if lookup:
        ids.update({imei: int(i) for imei, i in session.execute(
            select(GpsDevice.imei, GpsDevice.id).where(GpsDevice.imei.in_(lookup)))})
    wanted = [(ids[e.device], e) for e in ended if e.device in ids]
    if not wanted:
        return 0
    rows = session.execute(select(GpsAlarm.id, GpsAlarm.device_id, GpsAlarm.type,
                                  GpsAlarm.details).where(
        GpsAlarm.device_id.in_(sorted({d for d, _e in wanted})),
        GpsAlarm.type.in_(sorted({e.type for _d, e in wanted})),
        GpsAlarm.fix_time >= min(e.started_at for _d, e in wanted),
        GpsAlarm.fix_time <= max(e.ended_at for _d, e in wanted))).all()
    changes: dict[int, dict[str, Any]] = {}
    for device_id, end in wanted:
        for row in rows:
            if row.device_id != device_id or row.type != end.type:
                continue
            details = changes.get(row.id, row.details) or {}
            started = _when(details.get("started_at"))
            if started is None or not _same(started, end.started_at):
                continue
            known = _when(details.get("ended_at"))
            if known is not None and known > end.ended_at:
                continue   # a process that saw less of the episode (see the docstring)
            changes[row.id] = {**details, **end.details()}
    if not changes:
        return 0
    table = GpsAlarm.__table__
    session.execute(update(table).where(table.c.id == bindparam("alarm_id"))
                    .values(details=bindparam("new_details")),
                    [{"alarm_id": i, "new_details": d} for i, d in changes.items()])
    for alarm_id, details in changes.items():   # an alarm of this batch the session holds
        held = session.identity_map.get(identity_key(GpsAlarm, alarm_id))
        if held is not None:
            set_committed_value(held, "details", details)
    return len(changes)


def open_episodes(session: Session, first_fix: Mapping[int, datetime]) -> dict[int, datetime]:
    """The devices (by id; each with its first fix at hand) whose latest overspeed alarm
    raised in the :data:`RESUME_WINDOW` before that fix has no end: its ``started_at``.
    After a restart the engine takes these episodes up (:func:`episode_fixes`)."""
    if not first_fix:
        return {}
    latest: dict[int, tuple[datetime, int, dict[str, Any]]] = {}
    ids = sorted(first_fix)
    for part in _chunks(ids):
        since = min(first_fix[i] for i in part) - RESUME_WINDOW
        for device_id, fix_time, alarm_id, details in session.execute(
                select(GpsAlarm.device_id, GpsAlarm.fix_time, GpsAlarm.id, GpsAlarm.details)
                .where(GpsAlarm.device_id.in_(part), GpsAlarm.type == "overspeed",
                       GpsAlarm.fix_time >= since)):
            device_id = int(device_id)
            if fix_time >= first_fix[device_id]:
                continue
            seen = latest.get(device_id)
            if seen is None or (fix_time, alarm_id) > seen[:2]:
                latest[device_id] = (fix_time, alarm_id, details or {})
    out: dict[int, datetime] = {}
    for device_id, (fix_time, _id, details) in latest.items():
        started = _when(details.get("started_at"))
        if ("ended_at" not in details and started is not None
                and fix_time - RESUME_WINDOW < started <= fix_time):
            out[device_id] = started
    return out


def episode_fixes(session: Session, device_id: int, imei: str, start: datetime,
                  before: datetime) -> list[Fix]:
    """The device's stored live fixes from ``start`` to ``before`` (excluded), in time
    order, as the rule engine reads them (re-uploaded history left out, as it was live)."""
    p = GpsPosition
    return [Fix(imei, r.fix_time, r.latitude, r.longitude, speed_kmh=r.speed_kmh or 0.0,
                course=r.course or 0, valid=bool(r.valid), ignition=r.ignition)
            for r in session.execute(
                select(p.fix_time, p.latitude, p.longitude, p.speed_kmh, p.course, p.valid,
                       p.ignition)
                .where(p.device_id == device_id, p.fix_time >= start, p.fix_time < before,
                       p.reupload.is_(False)).order_by(p.fix_time))]


# --- offline ----------------------------------------------------------------------------------

def offline_watches(session: Session) -> list[OfflineWatch]:
    """Every active device whose groups set an offline delay, with when it was last heard
    (its live state, else its login) and the ``fix_time`` of its latest offline alarm."""
    rows = session.execute(
        select(GpsDevice.id, GpsDevice.imei, func.min(GpsGroup.offline_minutes),
               GpsDeviceState.last_seen, GpsDevice.last_seen, GpsDeviceState.latitude,
               GpsDeviceState.longitude)
        .join(GpsGroupVehicle, GpsGroupVehicle.vehicle_id == GpsDevice.vehicle_id)
        .join(GpsGroup, GpsGroup.id == GpsGroupVehicle.group_id)
        .outerjoin(GpsDeviceState, GpsDeviceState.device_id == GpsDevice.id)
        .where(GpsDevice.status == "active", GpsGroup.active.is_(True),
               GpsGroup.offline_minutes > 0)
        .group_by(GpsDevice.id, GpsDevice.imei, GpsDeviceState.last_seen, GpsDevice.last_seen,
                  GpsDeviceState.latitude, GpsDeviceState.longitude)).all()
    if not rows:
        return []
    alarmed: dict[int, datetime] = {}
    ids = [int(r[0]) for r in rows]
    for part in _chunks(ids):
        alarmed.update({int(d): t for d, t in session.execute(
            select(GpsAlarm.device_id, func.max(GpsAlarm.fix_time)).where(
                GpsAlarm.device_id.in_(part), GpsAlarm.type == "offline")
            .group_by(GpsAlarm.device_id))})
    watches: list[OfflineWatch] = []
    for device_id, imei, minutes, state_seen, device_seen, lat, lon in rows:
        seen = state_seen or device_seen
        if seen is None or not minutes:  # never heard at all: nothing to be offline from
            continue
        watches.append(OfflineWatch(imei, seen, int(minutes), alarmed.get(int(device_id)),
                                    lat, lon))
    return watches
