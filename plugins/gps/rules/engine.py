"""The per-device rule state machines and the engine that feeds them.

Each device has one :class:`DeviceRuleState`, fed its fixes in time order (a fix not newer
than the last one fed is a resend or out of order and changes nothing), its heartbeats
(ignition) and its own alarms. Every rule counts **episodes**, so a long overspeed or a
car idling for an hour raises one alarm, not one per fix:

``geofence_enter`` / ``geofence_exit``
    a change of inside/outside between two valid fixes. The first fix of a device (after a
    restart of the process, or the first fix ever) only remembers where it is. Outside the
    fence's schedule the state is still followed but no event is raised, so a vehicle parked
    inside a fence raises nothing when the schedule begins.
``overspeed``
    the limit is the lowest ``speed_limit_kmh`` of the (active) fences the fix is inside,
    else the vehicle's own, else the strictest of its groups'. An episode starts at the
    first valid fix above the limit; the alarm is raised once, at the first fix above the
    limit ``overspeed_min_seconds`` after the start; the episode ends when the speed falls
    below ``limit - hysteresis_kmh`` (so a speed wavering around the limit is one episode),
    when the vehicle has no limit any more (it left the fence that set it and has none of its
    own) or after a gap in the data of more than ``overspeed_gap_s``. Details: ``speed_kmh``,
    ``max_speed_kmh``, ``limit_kmh``, ``duration_s`` (above the limit so far), ``started_at``.
    When an episode that raised its alarm ends, an :class:`EpisodeEnd` carries its final
    figures (``duration_s``, ``max_speed_kmh``, ``ended_at``) for the stored alarm: not an
    alarm, nobody is told again. ``ended_at`` is the fix that ended it (the first one slow
    enough, or the first one without a limit); after a gap, the episode's last fix, since
    nothing is known of the silence. ``duration_s`` is ``ended_at - started_at``.
``idle``
    ignition on and not moving (below ``moving_kmh``) for ``idle_minutes``; the episode ends
    when the vehicle moves or the ignition goes off. Heartbeats count (a parked unit may send
    no fixes): their ignition and time feed it too.
``fatigue``
    driving time (the time between two consecutive moving fixes) adds up until a break: not moving
    for ``fatigue_break_minutes``, or no data for as long. Once the sum since the last break
    reaches ``fatigue_hours`` the alarm is raised, once per driving spell.
``ignition_outside_hours``
    the ignition is on at a time outside the allowed hours (of every group that sets them):
    once per ignition-on episode, whether the car was started outside the hours or kept
    running into them.
``offline``
    not by fixes: :func:`offline_candidates`, run by a periodic sweep.
device alarms
    (sos, power_cut, vibration, low_battery, or the device's own geofence/overspeed) pass
    through :meth:`DeviceRuleState.device_alarm`; a frame resent after a lost ack is not
    raised twice.

Re-uploaded history (``Fix.reupload``) is stored by the ingest but fed here it changes no
state and raises nothing: its events are long past and would only alarm people for nothing.
One exception: a re-uploaded fix inside the overspeed episode running on its device (between
its first and latest fix) raises that episode's top speed, which is a figure of the episode
the alarm already stands for; once an episode has ended its figures are final.
Invalid fixes (no satellite fix) keep the last place and movement: they feed the ignition
rules only.

The state lives in the ingest process (one writer thread per process; the engine also takes
a lock for the HTTP ingest's threads). After a restart it is learnt again from the next
fixes: no event is invented for what happened while it was down. The one exception is an
overspeed episode whose alarm was raised and not ended: the ingest replays the device's
stored fixes since the episode began (:meth:`RuleEngine.resume`) so the episode goes on and
ends with its true figures instead of being raised a second time.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..fixes import AlarmEvent, DeviceAlarm, DeviceStatus, Fix
from .fences import Fence
from .schedule import Schedule

#: the defaults of ``gps_group`` (a vehicle in no group with a limit gets these)
OVERSPEED_MIN_SECONDS = 10
FATIGUE_BREAK_MINUTES = 20


@dataclass(frozen=True, slots=True)
class Limits:
    """A vehicle's limits, combined from its own speed limit and its groups'. ``None``: the
    rule is off."""

    overspeed_kmh: float | None = None
    overspeed_min_seconds: int = OVERSPEED_MIN_SECONDS
    idle_minutes: int | None = None
    fatigue_hours: float | None = None
    fatigue_break_minutes: int = FATIGUE_BREAK_MINUTES
    #: ignition must be inside every one of these (one per group that sets allowed hours)
    allowed_hours: tuple[Schedule, ...] = ()
    offline_minutes: int | None = None

    @classmethod
    def combine(cls, groups: Iterable[Limits], vehicle_speed_kmh: float | None = None
                ) -> Limits:
        """A vehicle in several groups gets the strictest of each: the lowest speed, the
        shortest minutes and hours; allowed hours must hold for every group. The vehicle's
        own speed limit, when set, beats its groups'."""
        groups = list(groups)

        def least(values: Iterable[Any]) -> Any:
            present = [v for v in values if v is not None]
            return min(present) if present else None

        speed = vehicle_speed_kmh if vehicle_speed_kmh else least(
            g.overspeed_kmh for g in groups)
        min_s = least(g.overspeed_min_seconds for g in groups if g.overspeed_kmh is not None)
        fatigue = [g for g in groups if g.fatigue_hours is not None]
        return cls(
            overspeed_kmh=speed,
            overspeed_min_seconds=min_s if min_s is not None else OVERSPEED_MIN_SECONDS,
            idle_minutes=least(g.idle_minutes for g in groups),
            fatigue_hours=least(g.fatigue_hours for g in fatigue),
            fatigue_break_minutes=(max(g.fatigue_break_minutes for g in fatigue) if fatigue
                                   else FATIGUE_BREAK_MINUTES),
            allowed_hours=tuple(s for g in groups for s in g.allowed_hours),
            offline_minutes=least(g.offline_minutes for g in groups),
        )


@dataclass(frozen=True, slots=True)
class DeviceRules:
    """What one device is watched by: its limits and its fences (direct and through its
    vehicle's groups, each fence once)."""

    device: str                      #: IMEI
    device_id: int
    vehicle_id: int | None = None
    branch_id: int | None = None
    limits: Limits = Limits()
    fences: tuple[Fence, ...] = ()


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Tunables shared by every device (settings of the plugin)."""

    moving_kmh: float = 3.0          #: at or above: moving (``gps.moving_kmh``)
    hysteresis_kmh: float = 2.0      #: an overspeed episode ends below limit − this
    overspeed_gap_s: float = 300.0   #: no data for longer ends an overspeed episode
    idle_gap_s: float = 3600.0       #: no data for longer ends an idle episode


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


@dataclass(frozen=True, slots=True)
class EpisodeEnd:
    """An episode that raised an alarm has ended: the figures its stored alarm gets.

    WHY not an :class:`AlarmEvent`: nothing new happened that anybody must hear of; the
    ingest finds the alarm by device, ``type`` and ``started_at`` (no id kept in memory, so
    it works across restarts) and updates its details."""

    device: str
    started_at: datetime
    ended_at: datetime
    duration_s: int
    max_speed_kmh: float
    reason: str                      #: ``speed`` (slowed down), ``limit`` (none any more), ``gap``
    type: str = "overspeed"

    def details(self) -> dict[str, Any]:
        """What is merged into the alarm's details."""
        return {"duration_s": self.duration_s, "max_speed_kmh": self.max_speed_kmh,
                "ended_at": self.ended_at.isoformat(), "ended_by": self.reason}


@dataclass(slots=True)
class Evaluation:
    """What a batch raised (``alarms``) and which raised episodes it ended (``ended``)."""

    alarms: list[AlarmEvent] = field(default_factory=list)
    ended: list[EpisodeEnd] = field(default_factory=list)


class DeviceRuleState:
    """One device's episodes (see the module docstring)."""

    __slots__ = (
        "device", "last_t", "lat", "lon", "ignition", "moving", "inside", "_fence_ids",
        "_fences_seen",
        "speed_start", "speed_max", "speed_raised", "speed_last", "idle_start", "idle_raised",
        "drive_s", "drive_since", "stopped_since", "fatigue_raised", "ign_on", "ign_raised",
        "recent_device_alarms",
    )

    def __init__(self, device: str) -> None:
        self.device = device
        self.last_t: float | None = None     #: epoch seconds of the last fix fed
        self.lat: float | None = None        #: the last valid place
        self.lon: float | None = None
        self.ignition: bool | None = None
        self.moving = False
        self.inside: dict[int, bool] = {}    #: fence id → inside at the last valid fix
        self._fence_ids: frozenset[int] = frozenset()
        self._fences_seen: tuple[Fence, ...] | None = None
        self.speed_start: float | None = None
        self.speed_max = 0.0
        self.speed_raised = False
        self.speed_last = 0.0                #: the latest fix of the running episode
        self.idle_start: float | None = None
        self.idle_raised = False
        self.drive_s = 0.0
        self.drive_since: float | None = None
        self.stopped_since: float | None = None
        self.fatigue_raised = False
        self.ign_on = False
        self.ign_raised = False
        self.recent_device_alarms: list[tuple[str, datetime]] = []

    # --- helpers ------------------------------------------------------------------------------

    def _event(self, type_: str, when: datetime, details: dict[str, Any]) -> AlarmEvent:
        return AlarmEvent(self.device, type_, when, self.lat, self.lon, details)

    def _forget_fences(self, rules: DeviceRules) -> None:
        """Drop the state of fences no longer assigned, so a fence assigned again later
        starts from "unknown" rather than from where the device was long ago."""
        if rules.fences is self._fences_seen:   # the same cached rules: nothing to check
            return
        self._fences_seen = rules.fences
        ids = frozenset(f.id for f in rules.fences)
        if ids != self._fence_ids:
            self.inside = {k: v for k, v in self.inside.items() if k in ids}
            self._fence_ids = ids

    # --- fixes --------------------------------------------------------------------------------

    def feed(self, fix: Fix, rules: DeviceRules, cfg: EngineConfig,
             ended: list[EpisodeEnd] | None = None) -> list[AlarmEvent]:
        """Advance every rule by one fix; the alarms it raises. The raised episodes it ends
        are appended to ``ended`` (left out when it is ``None``)."""
        if fix.reupload:
            return []
        when = fix.fix_time
        t = when.timestamp()
        last = self.last_t
        if last is not None and t <= last:
            return []                         # a resend or out of order: nothing moves
        gap = t - last if last is not None else None
        self.last_t = t
        out: list[AlarmEvent] = []
        limits = rules.limits
        if fix.ignition is not None:
            self.ignition = fix.ignition
        was_moving = self.moving
        placed = fix.valid and not (fix.latitude == 0.0 and fix.longitude == 0.0)
        fence_limit: tuple[float, Fence] | None = None
        if placed:
            self.lat, self.lon = fix.latitude, fix.longitude
            self.moving = fix.speed_kmh >= cfg.moving_kmh
            if rules.fences:
                fence_limit = self._fences(fix, rules, out)
        if placed:
            self._overspeed(fix, t, gap, limits, fence_limit, cfg, out, ended)
        self._idle(when, t, gap, limits, cfg, out)
        self._fatigue(when, t, gap, was_moving, limits, out)
        self._ignition_hours(when, limits, out)
        return out

    def _fences(self, fix: Fix, rules: DeviceRules,
                out: list[AlarmEvent]) -> tuple[float, Fence] | None:
        self._forget_fences(rules)
        lat, lon = fix.latitude, fix.longitude
        inside_state = self.inside
        limit: tuple[float, Fence] | None = None
        for fence in rules.fences:
            inside = fence.contains(lat, lon)
            before = inside_state.get(fence.id)
            inside_state[fence.id] = inside
            changed = before is not None and before != inside
            if not (changed or (inside and fence.speed_limit_kmh)):
                continue
            if not fence.active(fix.fix_time):   # outside its schedule: followed, silent
                continue
            cap = fence.speed_limit_kmh
            if inside and cap and (limit is None or cap < limit[0]):
                limit = (cap, fence)
            if changed:
                out.append(self._event(
                    "geofence_enter" if inside else "geofence_exit", fix.fix_time,
                    {"fence_id": fence.id, "fence_name": fence.name, "fence_kind": fence.kind}))
        return limit

    def _overspeed(self, fix: Fix, t: float, gap: float | None, limits: Limits,
                   fence_limit: tuple[float, Fence] | None, cfg: EngineConfig,
                   out: list[AlarmEvent], ended: list[EpisodeEnd] | None) -> None:
        limit = fence_limit[0] if fence_limit is not None else limits.overspeed_kmh
        if self.speed_start is not None:
            if gap is not None and gap > cfg.overspeed_gap_s:
                self._speed_end(self.speed_last, "gap", ended)
            elif limit is None:
                self._speed_end(t, "limit", ended)
        if limit is None:
            return
        speed = fix.speed_kmh
        if self.speed_start is None:
            if speed <= limit:
                return
            self.speed_start, self.speed_max, self.speed_raised = t, speed, False
        elif speed < limit - cfg.hysteresis_kmh:
            self._speed_end(t, "speed", ended)
            return
        elif speed > self.speed_max:
            self.speed_max = speed
        self.speed_last = t
        duration = t - self.speed_start
        if (not self.speed_raised and speed > limit
                and duration >= limits.overspeed_min_seconds):
            self.speed_raised = True
            details: dict[str, Any] = {
                "speed_kmh": speed, "max_speed_kmh": self.speed_max, "limit_kmh": limit,
                "duration_s": round(duration), "started_at": _iso(self.speed_start)}
            if fence_limit is not None:
                details["fence_id"] = fence_limit[1].id
                details["fence_name"] = fence_limit[1].name
            out.append(self._event("overspeed", fix.fix_time, details))

    def _speed_end(self, end: float, reason: str, ended: list[EpisodeEnd] | None) -> None:
        """Close the running overspeed episode at ``end``; one that raised its alarm reports
        its final figures (one too short to raise ends silently)."""
        start = self.speed_start
        self.speed_start = None
        if start is None or not self.speed_raised or ended is None:
            return
        ended.append(EpisodeEnd(
            self.device, datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC),
            round(end - start), self.speed_max, reason))

    def late(self, fix: Fix) -> None:
        """A re-uploaded fix: it raises nothing and moves no state, but one inside the
        running overspeed episode (between its first and latest fix) counts for its top
        speed."""
        start = self.speed_start
        if start is None or fix.speed_kmh <= self.speed_max or not fix.valid:
            return
        if start <= fix.fix_time.timestamp() <= self.speed_last:
            self.speed_max = fix.speed_kmh

    def _idle(self, when: datetime, t: float, gap: float | None, limits: Limits,
              cfg: EngineConfig, out: list[AlarmEvent]) -> None:
        if gap is not None and gap > cfg.idle_gap_s:
            self.idle_start = None
        if self.ignition is not True or self.moving:
            self.idle_start, self.idle_raised = None, False
            return
        if self.idle_start is None:
            self.idle_start, self.idle_raised = t, False
            return
        minutes = limits.idle_minutes
        if minutes and not self.idle_raised and t - self.idle_start >= minutes * 60:
            self.idle_raised = True
            out.append(self._event("idle", when, {
                "minutes": minutes, "idle_s": round(t - self.idle_start),
                "started_at": _iso(self.idle_start)}))

    def _fatigue(self, when: datetime, t: float, gap: float | None, was_moving: bool,
                 limits: Limits, out: list[AlarmEvent]) -> None:
        brk = limits.fatigue_break_minutes * 60
        if gap is not None and gap >= brk:          # silence as long as a break is a break
            self.drive_s, self.drive_since, self.stopped_since = 0.0, None, None
            self.fatigue_raised = False
        elif gap is not None and was_moving and self.moving:
            self.drive_s += gap                     # between two moving fixes: driving
        if self.moving:
            self.stopped_since = None
            if self.drive_since is None:
                self.drive_since = t
        elif self.drive_since is not None:
            if self.stopped_since is None:
                self.stopped_since = t
            if t - self.stopped_since >= brk:       # the break is complete
                self.drive_s, self.drive_since, self.stopped_since = 0.0, None, None
                self.fatigue_raised = False
                return
        hours = limits.fatigue_hours
        if hours and not self.fatigue_raised and self.drive_s >= hours * 3600:
            self.fatigue_raised = True
            out.append(self._event("fatigue", when, {
                "hours": hours, "driven_minutes": round(self.drive_s / 60),
                "break_minutes": limits.fatigue_break_minutes,
                "started_at": _iso(self.drive_since or t)}))

    def _ignition_hours(self, when: datetime, limits: Limits, out: list[AlarmEvent]) -> None:
        if self.ignition is not True:
            if self.ignition is False:
                self.ign_on, self.ign_raised = False, False
            return
        if not self.ign_on:
            self.ign_on, self.ign_raised = True, False
        allowed = limits.allowed_hours
        if allowed and not self.ign_raised and not all(s.contains(when) for s in allowed):
            self.ign_raised = True
            out.append(self._event("ignition_outside_hours", when, {
                "local_time": when.astimezone(allowed[0].tz).strftime("%Y-%m-%d %H:%M")}))

    # --- heartbeats and device alarms ---------------------------------------------------------

    def status(self, status: DeviceStatus, rules: DeviceRules,
               cfg: EngineConfig) -> list[AlarmEvent]:
        """A heartbeat: its ignition moves the idle and ignition-hours rules (at the time it
        was received; fixes keep their own order)."""
        if status.ignition is None:
            return []
        self.ignition = status.ignition
        if status.ignition is False:
            self.moving = False
        out: list[AlarmEvent] = []
        when = status.received_at
        self._idle(when, when.timestamp(), None, rules.limits, cfg, out)
        self._ignition_hours(when, rules.limits, out)
        return out

    def device_alarm(self, alarm: DeviceAlarm) -> list[AlarmEvent]:
        """The device's own alarm, passed through once (a resent frame is not raised again;
        one carried by re-uploaded history is not raised at all)."""
        fix = alarm.fix
        if fix is not None and fix.reupload:
            return []
        key = (alarm.type, alarm.fix_time)
        if key in self.recent_device_alarms:
            return []
        self.recent_device_alarms = [*self.recent_device_alarms[-7:], key]
        lat = fix.latitude if fix is not None and fix.valid else self.lat
        lon = fix.longitude if fix is not None and fix.valid else self.lon
        return [AlarmEvent(self.device, alarm.type, alarm.fix_time, lat, lon,
                           {"source": "device"})]


class RuleEngine:
    """Every device's :class:`DeviceRuleState`, fed batch by batch. Thread-safe (one lock:
    evaluation costs microseconds per fix)."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.states: dict[str, DeviceRuleState] = {}
        self._claimed: set[str] = set()      #: devices :meth:`claim_unseen` answered
        self._lock = threading.Lock()

    def state(self, device: str) -> DeviceRuleState:
        """The device's state (created empty on first use)."""
        st = self.states.get(device)
        if st is None:
            st = self.states[device] = DeviceRuleState(device)
        return st

    def evaluate(self, fixes: Iterable[Fix],
                 rules: Mapping[str, DeviceRules]) -> list[AlarmEvent]:
        """Feed a batch (any devices, any order: each device's fixes are taken in time
        order); fixes of devices without rules are skipped. Returns the alarms raised (see
        :meth:`run` for the episodes ended too)."""
        return self.run(fixes, rules).alarms

    def run(self, fixes: Iterable[Fix], rules: Mapping[str, DeviceRules]) -> Evaluation:
        """:meth:`evaluate`, answering the raised episodes the batch ended beside the
        alarms. Re-uploaded fixes only go to :meth:`DeviceRuleState.late` (before the live
        ones of the batch)."""
        by_device: dict[str, list[Fix]] = defaultdict(list)
        late: list[Fix] = []
        for fix in fixes:
            if fix.device in rules:
                if fix.reupload:
                    late.append(fix)
                else:
                    by_device[fix.device].append(fix)
        result = Evaluation()
        out, ended = result.alarms, result.ended
        cfg = self.config
        with self._lock:
            self._late(late)
            for device, dev_fixes in by_device.items():
                dev_fixes.sort(key=lambda f: f.fix_time)
                st = self.state(device)
                dev_rules = rules[device]
                for fix in dev_fixes:
                    found = st.feed(fix, dev_rules, cfg, ended)
                    if found:
                        out.extend(found)
        return result

    def late(self, fixes: Iterable[Fix]) -> None:
        """Re-uploaded fixes (see :meth:`DeviceRuleState.late`); needs no rules: only a
        device with a running episode has a use for them."""
        with self._lock:
            self._late(fixes)

    def _late(self, fixes: Iterable[Fix]) -> None:
        states = self.states
        for fix in fixes:
            st = states.get(fix.device)
            if st is not None and st.speed_start is not None:
                st.late(fix)

    def claim_unseen(self, devices: Iterable[str]) -> list[str]:
        """The devices not claimed since the process started (or :meth:`reset`), claimed
        now: those whose open overspeed episode :meth:`resume` may take up, each looked up
        once. A heartbeat or device alarm may have created a device's state meanwhile; its
        fixes have not."""
        with self._lock:
            claimed = self._claimed
            fresh = [d for d in devices if d not in claimed]
            claimed.update(fresh)
            return fresh

    def resume(self, device: str, rules: DeviceRules, history: Sequence[Fix],
               started_at: datetime) -> list[EpisodeEnd]:
        """Take up, after a restart, the overspeed episode that began at ``started_at`` and
        whose alarm is stored without an end: ``history`` (the device's stored live fixes
        from ``started_at`` on, in time order, before the batch at hand) is replayed on a
        scratch state with today's rules. If the episode is still running at the end of it,
        the device's state continues it (start, top speed, latest fix; its alarm counts as
        raised); if the replay saw it end, the end is answered so the alarm gets its figures.
        Every other rule starts afresh as after any restart, and a device already fed fixes
        is left alone (another thread got there first)."""
        with self._lock:
            known = self.states.get(device)
            if known is not None and known.last_t is not None:
                return []
            scratch = DeviceRuleState(device)
            ended: list[EpisodeEnd] = []
            for fix in history:
                scratch.feed(fix, rules, self.config, ended)
            st = self.state(device)
            start = started_at.timestamp()
            if (scratch.speed_start is not None and scratch.speed_raised
                    and abs(scratch.speed_start - start) < 1e-3):
                st.last_t = scratch.last_t
                st.speed_start, st.speed_max = scratch.speed_start, scratch.speed_max
                st.speed_raised, st.speed_last = True, scratch.speed_last
            return [e for e in ended if abs(e.started_at.timestamp() - start) < 1e-3]

    def status(self, status: DeviceStatus, rules: DeviceRules) -> list[AlarmEvent]:
        """Feed a heartbeat."""
        with self._lock:
            return self.state(status.device).status(status, rules, self.config)

    def device_alarm(self, alarm: DeviceAlarm) -> list[AlarmEvent]:
        """Pass a device's own alarm through (see :meth:`DeviceRuleState.device_alarm`)."""
        with self._lock:
            return self.state(alarm.device).device_alarm(alarm)

    def reset(self) -> None:
        """Forget every device (tests; a process restart does the same)."""
        with self._lock:
            self.states.clear()
            self._claimed.clear()


# --- offline --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OfflineWatch:
    """What the offline sweep knows of one device: when it was last heard, its offline
    delay, and the ``fix_time`` of its latest offline alarm (``None``: never)."""

    device: str
    last_seen: datetime
    offline_minutes: int
    alarmed_for: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def offline_candidates(now: datetime, watches: Sequence[OfflineWatch]) -> list[AlarmEvent]:
    """The devices silent for their offline delay, once per silence: the alarm's
    ``fix_time`` is the moment the device was last heard, so a silence that already has its
    alarm (``alarmed_for >= last_seen``) raises nothing, and the next one (the device spoke
    again, then fell silent) does."""
    out: list[AlarmEvent] = []
    for w in watches:
        if not w.offline_minutes or w.offline_minutes <= 0:
            continue
        if now - w.last_seen < timedelta(minutes=w.offline_minutes):
            continue
        if w.alarmed_for is not None and w.alarmed_for >= w.last_seen:
            continue
        out.append(AlarmEvent(w.device, "offline", w.last_seen, w.latitude, w.longitude, {
            "minutes": w.offline_minutes, "last_seen": w.last_seen.isoformat(),
            "silent_minutes": int((now - w.last_seen).total_seconds() // 60)}))
    return out
