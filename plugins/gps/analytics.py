"""Trips, stops, mileage, overspeed episodes, engine hours and fuel over lists of :class:`Fix`.

Pure Python over the plugin's value types, no database: the ingest path (gstore) feeds the
incremental :class:`TripDetector` / :class:`NoiseFilter` / :class:`DailyAccumulator` as fixes
arrive and persists what they close, and reports or a recompute run the batch functions over
stored fixes. Batch and incremental share one state machine, so they agree exactly (tested).

Defaults are the reference tracker server's (``PROTOCOL.md``): moving once 200 m from the
last stop point; stopped once every fix of the last 180 s lies within 200 m; a gap of more
than 3,600 s without data ends a trip. Distances are haversine (:func:`geo.haversine_m`)
between consecutive *accepted* fixes: invalid fixes, 0/0 fixes and jumps implying an
impossible speed are noise and count nothing (:class:`FilterConfig`).

The hot loops work on floats (epoch seconds, degrees) in locals, because one vehicle's month
is ~260,000 fixes: trips + stops + daily mileage over it cost about 3–5 bare haversine loops
over the same fixes (``benchmarks/gps_analytics.py``, ~1.6 s on the shared dev box), so month
reports read ``gps_trip`` / ``gps_mileage_daily`` and recompute from positions only on demand.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from math import asin, cos, sin, sqrt
from typing import Literal
from zoneinfo import ZoneInfo

from .fixes import Fix
from .geo import EARTH_RADIUS_M

_D2R = 0.017453292519943295
_2R = 2 * EARTH_RADIUS_M


def _hav(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """:func:`geo.haversine_m` inlined for the hot loops (same formula, same radius)."""
    s1 = sin((lat2 - lat1) * _D2R * 0.5)
    s2 = sin((lon2 - lon1) * _D2R * 0.5)
    h = s1 * s1 + cos(lat1 * _D2R) * cos(lat2 * _D2R) * s2 * s2
    return _2R * asin(sqrt(h) if h < 1.0 else 1.0)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


# --- noise filter ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FilterConfig:
    """What counts as noise. A rejected fix is still stored (gstore keeps everything with
    ``distance_m = 0``) but moves no odometer, trip or stop."""

    drop_invalid: bool = True        #: no satellite fix: last known place or a cell guess
    drop_zero: bool = True           #: 0/0 is what cheap units send before their first fix
    max_speed_kmh: float = 300.0     #: a jump implying a faster move than this is rejected
    min_distance_m: float = 0.0      #: closer than this to the last accepted fix: kept, distance 0
    max_rejects: int = 5             #: after this many consecutive jumps, trust the new place
    #: (a wrong *first* fix must not reject the truth forever)


class NoiseFilter:
    """Incremental filter for one device: :meth:`accept` tells whether a fix is real and how
    far it is from the previous accepted one. gstore calls it per fix to fill
    ``gps_position.distance_m``; the analytics use the same rules."""

    __slots__ = ("config", "last", "rejects", "reanchors")

    def __init__(self, config: FilterConfig | None = None) -> None:
        self.config = config or FilterConfig()
        self.last: tuple[float, float, float] | None = None   #: (t, lat, lon) last accepted
        self.rejects = 0
        #: how often the filter gave up and trusted a new place: the trip detector restarts
        #: there, so a wrong first fix is not joined to the truth by a phantom trip
        self.reanchors = 0

    def accept_raw(self, t: float, lat: float, lon: float, valid: bool) -> float | None:
        """Distance in metres from the last accepted fix, or ``None`` for noise."""
        cfg = self.config
        if (cfg.drop_invalid and not valid) or (cfg.drop_zero and lat == 0.0 and lon == 0.0):
            return None
        last = self.last
        if last is None:
            self.last = (t, lat, lon)
            return 0.0
        lt, llat, llon = last
        dt = t - lt
        if dt <= 0:                  # duplicate or out of order: no distance, no state
            return None
        d = _hav(llat, llon, lat, lon)
        if d > cfg.max_speed_kmh / 3.6 * dt:
            self.rejects += 1
            if self.rejects < cfg.max_rejects:
                return None
            self.rejects = 0
            self.reanchors += 1
            self.last = (t, lat, lon)
            return 0.0               # re-anchored: the jump itself is not mileage
        self.rejects = 0
        if d < cfg.min_distance_m:
            self.last = (t, llat, llon)   # time moves on, the reference point does not
            return 0.0
        self.last = (t, lat, lon)
        return d

    def accept(self, fix: Fix) -> float | None:
        """:meth:`accept_raw` for a :class:`Fix`."""
        return self.accept_raw(fix.fix_time.timestamp(), fix.latitude, fix.longitude, fix.valid)


def filter_noise(fixes: Iterable[Fix],
                 config: FilterConfig | None = None) -> list[tuple[Fix, float]]:
    """The accepted fixes with their distance from the previous accepted one."""
    flt = NoiseFilter(config)
    acc = flt.accept_raw
    out: list[tuple[Fix, float]] = []
    for f in fixes:
        d = acc(f.fix_time.timestamp(), f.latitude, f.longitude, f.valid)
        if d is not None:
            out.append((f, d))
    return out


# --- trips and stops ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TripConfig:
    """When a vehicle is moving or stopped (the reference server's defaults)."""

    moving_distance_m: float = 200.0   #: moving once this far from the stop point
    stop_radius_m: float = 200.0       #: stopped once every fix of ``stop_duration_s`` lies within
    stop_duration_s: float = 180.0     #: … this long (a red light is shorter: not a stop)
    gap_s: float = 3600.0              #: no data for longer than this ends a trip
    min_trip_distance_m: float = 0.0   #: shorter trips are dropped (0: keep all)


@dataclass(frozen=True, slots=True)
class Trip:
    """A closed drive from one stop to the next."""

    device: str
    start: datetime
    end: datetime
    start_lat: float
    start_lon: float
    end_lat: float
    end_lon: float
    distance_m: float
    max_speed_kmh: float

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def avg_speed_kmh(self) -> float:
        """Distance over duration (not the mean of reported speeds)."""
        s = self.duration_s
        return self.distance_m / s * 3.6 if s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Stop:
    """A closed stay at one place (at least ``stop_duration_s`` long)."""

    device: str
    start: datetime
    end: datetime
    latitude: float
    longitude: float

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


Segment = Trip | Stop


class TripDetector:
    """Incremental trip/stop detection for ONE device. :meth:`feed` a fix, get the segments
    it closed (usually none; a trip and/or a stop at a change). gstore persists them as they
    close; :meth:`open_segment` says what is going on now (for the live page and reports up to
    "now"). Noise is filtered inside with the same :class:`NoiseFilter` rules.

    How: while *stopped* the stop point is fixed; the first fix ``moving_distance_m`` away
    starts a trip at the last fix of the stop. While *moving* an anchor fix is kept with every
    fix since within ``stop_radius_m`` of it (a fix beyond re-anchors there); once the fixes
    stayed for ``stop_duration_s`` the trip ends at the anchor and the stop begins there. A gap
    over ``gap_s`` closes the trip at the last fix before it; the time of a gap is never trip.
    Re-upload fixes are history like any other here: callers feed fixes in time order.
    """

    __slots__ = ("device", "cfg", "flt", "moving", "sp", "stop_start", "stop_last",
                 "trip_start", "trip_dist", "trip_max", "anchor", "anchor_dist", "anchor_max",
                 "last", "_acc", "_reanchors")

    def __init__(self, device: str, config: TripConfig | None = None,
                 filter_config: FilterConfig | None = None) -> None:
        self.device = device
        self.cfg = config or TripConfig()
        self.flt = NoiseFilter(filter_config)
        self._acc = self.flt.accept_raw
        self.moving = False
        self.sp: tuple[float, float, float] | None = None       # stop point (t, lat, lon)
        self.stop_start = 0.0
        self.stop_last: tuple[float, float, float] | None = None  # last fix of the stop
        self.trip_start: tuple[float, float, float] | None = None
        self.trip_dist = 0.0
        self.trip_max = 0.0
        self.anchor: tuple[float, float, float] | None = None
        self.anchor_dist = 0.0      # trip distance up to the anchor
        self.anchor_max = 0.0       # trip max speed up to the anchor
        self.last: tuple[float, float, float] | None = None
        self._reanchors = 0

    # segment makers
    def _trip(self, end: tuple[float, float, float], dist: float, vmax: float) -> Trip | None:
        st = self.trip_start
        assert st is not None
        if end[0] <= st[0] or dist < self.cfg.min_trip_distance_m:
            return None
        return Trip(self.device, _utc(st[0]), _utc(end[0]), st[1], st[2], end[1], end[2],
                    dist, vmax)

    def _stop(self, end_t: float) -> Stop | None:
        sp = self.sp
        assert sp is not None
        if end_t - self.stop_start < self.cfg.stop_duration_s:
            return None
        return Stop(self.device, _utc(self.stop_start), _utc(end_t), sp[1], sp[2])

    def feed(self, fix: Fix) -> list[Segment]:
        """Consume one fix (in time order); the trips/stops it closed."""
        return self.feed_raw(fix.fix_time.timestamp(), fix.latitude, fix.longitude,
                             fix.speed_kmh, fix.valid)

    def feed_raw(self, t: float, lat: float, lon: float, speed: float,
                 valid: bool = True) -> list[Segment]:
        """:meth:`feed` on plain values (the batch path and the benchmark use it)."""
        d = self._acc(t, lat, lon, valid)
        if d is None:
            return _NONE
        cfg = self.cfg
        cur = (t, lat, lon)
        if self.flt.reanchors != self._reanchors:        # the filter trusted a new place
            return self._restart(cur)
        last = self.last
        self.last = cur
        if last is None:                                  # first fix: a stop begins here
            self.sp = cur
            self.stop_start = t
            self.stop_last = cur
            return _NONE
        gap = t - last[0] > cfg.gap_s
        out: list[Segment] = []
        if self.moving:
            if gap:
                trip = self._trip(last, self.trip_dist, self.trip_max)
                if trip is not None:
                    out.append(trip)
                self.moving = False
                self.sp = last
                self.stop_start = last[0]
                self.stop_last = last
                # fall through to the stopped branch with this fix
            else:
                self.trip_dist += d
                if speed > self.trip_max:
                    self.trip_max = speed
                anchor = self.anchor
                assert anchor is not None
                if _hav(anchor[1], anchor[2], lat, lon) > cfg.stop_radius_m:
                    self.anchor = cur
                    self.anchor_dist = self.trip_dist
                    self.anchor_max = self.trip_max
                elif t - anchor[0] >= cfg.stop_duration_s:
                    trip = self._trip(anchor, self.anchor_dist, self.anchor_max)
                    if trip is not None:
                        out.append(trip)
                    self.moving = False
                    self.sp = anchor
                    self.stop_start = anchor[0]
                    self.stop_last = cur
                return out
        sp = self.sp
        assert sp is not None
        if _hav(sp[1], sp[2], lat, lon) >= cfg.moving_distance_m:
            sl = self.stop_last
            assert sl is not None
            stop = self._stop(sl[0])
            if stop is not None:
                out.append(stop)
            self.moving = True
            if t - sl[0] > cfg.gap_s:      # left during a gap: the trip starts here
                self.trip_start = cur
                self.trip_dist = 0.0
            else:
                self.trip_start = sl
                self.trip_dist = d
            self.trip_max = speed
            self.anchor = cur
            self.anchor_dist = self.trip_dist
            self.anchor_max = speed
        else:
            self.stop_last = cur
        return out

    def _restart(self, cur: tuple[float, float, float]) -> list[Segment]:
        """After the noise filter re-anchored: close what was open before the jump (a trip
        at its last fix, a stop if long enough) and begin afresh with a stop at ``cur`` —
        the jump itself is neither trip nor distance (a wrong first fix, a unit moved on a
        truck while off)."""
        self._reanchors = self.flt.reanchors
        out: list[Segment] = []
        seg = self.open_segment()
        if isinstance(seg, Trip) or (isinstance(seg, Stop)
                                     and seg.duration_s >= self.cfg.stop_duration_s):
            out.append(seg)
        self.moving = False
        self.last = self.sp = self.stop_last = cur
        self.stop_start = cur[0]
        return out

    def open_segment(self) -> Segment | None:
        """The trip or stop in progress (not closed), ``None`` before the first fix."""
        last = self.last
        if last is None:
            return None
        if self.moving:
            return self._trip(last, self.trip_dist, self.trip_max)
        sp = self.sp
        assert sp is not None
        sl = self.stop_last or sp
        return Stop(self.device, _utc(self.stop_start), _utc(sl[0]), sp[1], sp[2])


_NONE: list[Segment] = []    # shared empty answer (never mutated: callers only read)


def trips_and_stops(fixes: Sequence[Fix], config: TripConfig | None = None,
                    filter_config: FilterConfig | None = None, *,
                    include_open: bool = False) -> tuple[list[Trip], list[Stop]]:
    """Batch: the trips and stops of one device's fixes (time order). ``include_open`` adds
    the segment still in progress at the end (a report "up to now")."""
    if not fixes:
        return [], []
    det = TripDetector(fixes[0].device, config, filter_config)
    feed = det.feed_raw
    trips: list[Trip] = []
    stops: list[Stop] = []
    for f in fixes:
        segs = feed(f.fix_time.timestamp(), f.latitude, f.longitude, f.speed_kmh, f.valid)
        if segs:
            for s in segs:
                (trips if type(s) is Trip else stops).append(s)  # type: ignore[arg-type]
    if include_open:
        s = det.open_segment()
        if isinstance(s, Trip):
            trips.append(s)
        elif isinstance(s, Stop) and s.duration_s >= det.cfg.stop_duration_s:
            stops.append(s)
    return trips, stops


# --- mileage, engine hours, fuel per day ----------------------------------------------------

@dataclass(slots=True)
class DailyMileage:
    """One device's day (in the report's zone): what ``gps_mileage_daily`` holds."""

    device: str
    day: date
    distance_m: float = 0.0
    engine_seconds: float = 0.0
    fuel_l: float = 0.0              #: fuel used (drops; refuels excluded)
    max_speed_kmh: float = 0.0
    refuel_l: float = 0.0            #: fuel added by refuels (reported apart)


@dataclass(frozen=True, slots=True)
class Refuel:
    device: str
    fix_time: datetime
    latitude: float
    longitude: float
    added_l: float


class DailyAccumulator:
    """Incremental per-day mileage, engine time and fuel for ONE device.

    gstore feeds every stored fix (in order) and, after each batch, :meth:`drain` gives the
    *increments* per day to add to ``gps_mileage_daily`` (``distance_m += …``, ``max_speed =
    greatest(…)``), so the table is kept by upserts without rereading positions.

    Engine time is the time between consecutive fixes while the earlier one had ignition on
    (gaps over ``gap_s`` excluded). Fuel: consumption is the sum of drops minus small rises
    (sensor noise), a rise over ``refuel_min_l`` is a refuel, reported apart. A rise is the
    whole run of consecutive rising readings (a pump fills a few litres per fix), booked when
    the level stops rising; :meth:`settle` books a run still rising at the end of the data
    (batch reports call it; the ingest path need not, the next reading books it).
    """

    __slots__ = ("device", "tz", "flt", "gap_s", "refuel_min_l", "rows", "prev_t", "prev_ign",
                 "prev_fuel", "refuels", "_day_cache", "rise", "rise_top")

    def __init__(self, device: str, tz: str | ZoneInfo = "UTC",
                 filter_config: FilterConfig | None = None, *, gap_s: float = 3600.0,
                 refuel_min_l: float = 5.0) -> None:
        self.device = device
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self.flt = NoiseFilter(filter_config)
        self.gap_s = gap_s
        self.refuel_min_l = refuel_min_l
        self.rows: dict[date, DailyMileage] = {}
        self.prev_t: float | None = None
        self.prev_ign: bool | None = None
        self.prev_fuel: float | None = None
        self.refuels: list[Refuel] = []
        self.rise = 0.0                                       # litres of the rising run
        self.rise_top: tuple[float, float, float] = (0.0, 0.0, 0.0)   # (t, lat, lon) its top
        self._day_cache: tuple[float, float, date] = (1.0, 0.0, date.min)  # [lo, hi) → day

    def _day(self, t: float) -> date:
        lo, hi, day = self._day_cache
        if lo <= t < hi:
            return day
        local = datetime.fromtimestamp(t, self.tz)
        day = local.date()
        start = datetime(day.year, day.month, day.day, tzinfo=self.tz)
        nxt = start + timedelta(days=1)
        lo = start.timestamp()
        hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=self.tz).timestamp()
        self._day_cache = (lo, hi, day)
        return day

    def feed(self, fix: Fix) -> None:
        self.feed_raw(fix.fix_time.timestamp(), fix.latitude, fix.longitude, fix.speed_kmh,
                      fix.valid, fix.ignition, fix.fuel_l)

    def feed_raw(self, t: float, lat: float, lon: float, speed: float, valid: bool = True,
                 ignition: bool | None = None, fuel: float | None = None) -> None:
        prev_t = self.prev_t
        if prev_t is not None and t <= prev_t:
            return                                    # duplicate / out of order
        day = self._day(t)
        row = self.rows.get(day)
        if row is None:
            row = self.rows[day] = DailyMileage(self.device, day)
        d = self.flt.accept_raw(t, lat, lon, valid)
        if d is not None:
            row.distance_m += d
            if speed > row.max_speed_kmh:
                row.max_speed_kmh = speed
        if prev_t is not None and self.prev_ign and t - prev_t <= self.gap_s:
            row.engine_seconds += t - prev_t
        if fuel is not None:
            pf = self.prev_fuel
            if pf is not None:
                delta = fuel - pf
                if delta > 0.0:
                    self.rise += delta
                    self.rise_top = (t, lat, lon)
                else:
                    if self.rise:
                        self.settle()
                    row.fuel_l -= delta               # a drop is consumption
            self.prev_fuel = fuel
        self.prev_t = t
        self.prev_ign = ignition

    def settle(self) -> None:
        """Book the pending rising run: a refuel if at least ``refuel_min_l``, else noise
        (subtracted from consumption)."""
        rise = self.rise
        if not rise:
            return
        self.rise = 0.0
        t, lat, lon = self.rise_top
        day = self._day(t)
        row = self.rows.get(day)
        if row is None:
            row = self.rows[day] = DailyMileage(self.device, day)
        if rise >= self.refuel_min_l:
            row.refuel_l += rise
            self.refuels.append(Refuel(self.device, _utc(t), lat, lon, rise))
        else:
            row.fuel_l -= rise

    def drain(self) -> list[DailyMileage]:
        """The per-day increments since the last drain (then forgotten)."""
        rows = sorted(self.rows.values(), key=lambda r: r.day)
        self.rows = {}
        return rows


def daily_mileage_rows(fixes: Sequence[Fix], tz: str | ZoneInfo = "UTC",
                       filter_config: FilterConfig | None = None, *, gap_s: float = 3600.0,
                       refuel_min_l: float = 5.0) -> list[DailyMileage]:
    """Batch: one row per (device, local day) over one device's fixes, the rows
    ``gps_mileage_daily`` holds (gstore upserts them at ingest through
    :class:`DailyAccumulator`, or recomputes a period with this). Fixes of several devices
    are split by device first."""
    by_device: dict[str, list[Fix]] = {}
    for f in fixes:
        by_device.setdefault(f.device, []).append(f)
    out: list[DailyMileage] = []
    for device, fx in by_device.items():
        acc = DailyAccumulator(device, tz, filter_config, gap_s=gap_s, refuel_min_l=refuel_min_l)
        feed = acc.feed_raw
        for f in fx:
            feed(f.fix_time.timestamp(), f.latitude, f.longitude, f.speed_kmh, f.valid,
                 f.ignition, f.fuel_l)
        acc.settle()
        out.extend(acc.drain())
    return out


def refuels(fixes: Sequence[Fix], *, refuel_min_l: float = 5.0) -> list[Refuel]:
    """The refuels (fuel level rising by at least ``refuel_min_l``) in one device's fixes."""
    if not fixes:
        return []
    acc = DailyAccumulator(fixes[0].device, refuel_min_l=refuel_min_l)
    for f in fixes:
        acc.feed(f)
    acc.settle()
    return acc.refuels


@dataclass(frozen=True, slots=True)
class PeriodMileage:
    device: str
    period: date                     #: the first day of the week (Monday) or month
    distance_m: float
    engine_seconds: float
    fuel_l: float
    max_speed_kmh: float
    days: int


def aggregate_mileage(rows: Iterable[DailyMileage],
                      period: Literal["day", "week", "month"] = "week") -> list[PeriodMileage]:
    """Daily rows summed into ISO weeks (starting Monday) or calendar months per device."""
    acc: dict[tuple[str, date], list[float]] = {}
    for r in rows:
        if period == "month":
            key = r.day.replace(day=1)
        elif period == "week":
            key = r.day - timedelta(days=r.day.weekday())
        else:
            key = r.day
        a = acc.setdefault((r.device, key), [0.0, 0.0, 0.0, 0.0, 0])
        a[0] += r.distance_m
        a[1] += r.engine_seconds
        a[2] += r.fuel_l
        a[3] = max(a[3], r.max_speed_kmh)
        a[4] += 1
    return [PeriodMileage(dev, p, a[0], a[1], a[2], a[3], int(a[4]))
            for (dev, p), a in sorted(acc.items())]


def total_distance_m(fixes: Iterable[Fix], filter_config: FilterConfig | None = None) -> float:
    """Noise-filtered haversine distance over the fixes."""
    flt = NoiseFilter(filter_config)
    acc = flt.accept_raw
    total = 0.0
    for f in fixes:
        d = acc(f.fix_time.timestamp(), f.latitude, f.longitude, f.valid)
        if d:
            total += d
    return total


def engine_seconds(fixes: Sequence[Fix], *, gap_s: float = 3600.0) -> float:
    """Ignition-on time: between consecutive fixes while the earlier had ignition on."""
    total = 0.0
    prev: Fix | None = None
    for f in fixes:
        if prev is not None and prev.ignition:
            dt = (f.fix_time - prev.fix_time).total_seconds()
            if 0 < dt <= gap_s:
                total += dt
        if prev is None or f.fix_time > prev.fix_time:
            prev = f
    return total


# --- overspeed episodes ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OverspeedEpisode:
    device: str
    start: datetime                  #: first fix above the limit
    end: datetime                    #: first fix back at/below the limit (or the last above)
    max_speed_kmh: float
    limit_kmh: float
    latitude: float                  #: where the maximum was
    longitude: float

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


def overspeed_episodes(fixes: Sequence[Fix], limit_kmh: float, min_duration_s: float = 0.0,
                       *, gap_s: float = 3600.0) -> list[OverspeedEpisode]:
    """One episode per stretch above ``limit_kmh`` (reset at/below it, or by a data gap),
    kept when the speed stayed above for ``min_duration_s`` (from the first to the last fix
    above) — the same test the live rule raises its one event on. Invalid fixes are skipped."""
    out: list[OverspeedEpisode] = []
    start: Fix | None = None
    last_above: Fix | None = None
    peak: Fix | None = None

    def close(end: Fix) -> None:
        assert start is not None and last_above is not None and peak is not None
        if (last_above.fix_time - start.fix_time).total_seconds() >= min_duration_s:
            out.append(OverspeedEpisode(start.device, start.fix_time, end.fix_time,
                                        peak.speed_kmh, limit_kmh, peak.latitude, peak.longitude))

    prev_t: datetime | None = None
    for f in fixes:
        if not f.valid or (prev_t is not None and f.fix_time <= prev_t):
            continue
        if start is not None and prev_t is not None and \
                (f.fix_time - prev_t).total_seconds() > gap_s:
            close(last_above)  # type: ignore[arg-type]
            start = None
        prev_t = f.fix_time
        if f.speed_kmh > limit_kmh:
            if start is None:
                start = peak = f
            elif f.speed_kmh > peak.speed_kmh:  # type: ignore[union-attr]
                peak = f
            last_above = f
        elif start is not None:
            close(f)
            start = None
    if start is not None:
        close(last_above)  # type: ignore[arg-type]
    return out


# --- playback -------------------------------------------------------------------------------

@dataclass(slots=True)
class SpeedSegment:
    """A run of consecutive fixes in one speed band, for colouring a playback track.
    Consecutive segments share their boundary point, so the drawn line has no holes."""

    band: int                        #: index: 0 below bands[0], len(bands) at/above the last
    points: list[tuple[float, float]] = field(default_factory=list)  #: (lat, lon)
    start: datetime | None = None
    end: datetime | None = None
    max_speed_kmh: float = 0.0


def speed_segments(fixes: Sequence[Fix], bands: Sequence[float] = (30.0, 60.0, 90.0, 120.0),
                   filter_config: FilterConfig | None = None) -> list[SpeedSegment]:
    """Split a track (noise filtered) into runs by speed band (``bands`` ascending upper
    bounds in km/h)."""
    out: list[SpeedSegment] = []
    cur: SpeedSegment | None = None
    flt = NoiseFilter(filter_config)
    for f in fixes:
        if flt.accept(f) is None:
            continue
        b = bisect_right(bands, f.speed_kmh)
        p = (f.latitude, f.longitude)
        if cur is None or cur.band != b:
            nxt = SpeedSegment(b, [p], f.fix_time, f.fix_time, f.speed_kmh)
            if cur is not None:
                cur.points.append(p)
                out.append(cur)
            cur = nxt
        else:
            cur.points.append(p)
            cur.end = f.fix_time
            if f.speed_kmh > cur.max_speed_kmh:
                cur.max_speed_kmh = f.speed_kmh
    if cur is not None:
        out.append(cur)
    return out


__all__ = [
    "DailyAccumulator", "DailyMileage", "FilterConfig", "NoiseFilter", "OverspeedEpisode",
    "PeriodMileage", "Refuel", "Segment", "SpeedSegment", "Stop", "Trip", "TripConfig",
    "TripDetector", "aggregate_mileage", "daily_mileage_rows", "engine_seconds",
    "filter_noise", "overspeed_episodes", "refuels", "speed_segments", "total_distance_m",
    "trips_and_stops",
]
