"""Trips, stops, mileage, overspeed episodes, engine hours and fuel over lists of :class:`Fix`.

Pure Python over the plugin's value types, no database: the ingest path
(``services/positions.store_fixes``) feeds the incremental :class:`NoiseFilter` /
:class:`TripDetector` / :class:`DailyAccumulator` of each device with every batch and persists
what they close, and reports or a recompute run the batch functions over stored fixes.

Defaults are the reference tracker server's (``PROTOCOL.md``): moving once 200 m from the
last stop point; stopped once every fix of the last 180 s lies within 200 m; a gap of more
than 3,600 s without data ends a trip. Distances are haversine (:func:`geo.haversine_m`)
between consecutive *accepted* fixes: invalid fixes, 0/0 fixes and jumps implying an
impossible speed are noise and count nothing (:class:`FilterConfig`).

WHY one kernel (:func:`run_kernel`): one vehicle's month is ~260,000 fixes, and a report
must answer in well under a second in pure Python. So the filter, the trip/stop state machine and
the day accumulator are ONE loop over plain floats with every piece of state in a local
variable (no method call, attribute write or datetime per fix); the objects only hold the
state between calls. Batch (a whole list) and incremental (one fix, or one ingest batch) run
that same loop, so they agree exactly by construction, and :func:`trips_stops_mileage`
computes trips, stops and daily mileage in a single pass sharing one filter. Further
savings: the cosine of the previous accepted fix and of the stop/anchor points is kept (one
``cos`` per fix instead of four); the "within the radius?" tests compare the haversine term
``h`` with ``sin²(r / 2R)`` instead of taking ``asin(sqrt(h))`` (the same test, as the
distance grows monotonically with ``h``); and near the stop point (most fixes of a parked
car) ``sin(x) <= x`` bounds ``h`` from above without any ``sin``.
``benchmarks/gps_analytics.py`` prints the figures beside a bare haversine loop over the same
fixes: trips + stops + daily mileage of a month cost ≈ 1.3–1.7 such loops (~0.25 s of CPU on
the 2-core dev box, ~0.5 s wall with the box loaded, where it took 1.6–2.8 s before).
``tests/reference_analytics.py`` keeps the plain per-fix implementation the kernel is tested
against.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from math import asin, cos, sin, sqrt
from typing import Literal
from zoneinfo import ZoneInfo

from .fixes import Fix
from .geo import EARTH_RADIUS_M

_D2R = 0.017453292519943295
_HD2R = _D2R * 0.5               # half the angle, in radians, from a difference in degrees
_2R = 2 * EARTH_RADIUS_M
_HALF_EARTH_M = _2R * asin(1.0)  # what haversine gives for antipodes (h clipped at 1)

Point = tuple[float, float, float]   #: (epoch seconds, lat, lon)
#: one fix as the kernel reads it: (t, lat, lon, speed km/h, valid, ignition, fuel litres)
Row = tuple[float, float, float, float, bool, bool | None, float | None]


def _hav(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """:func:`geo.haversine_m` inlined (same formula, same radius)."""
    s1 = sin((lat2 - lat1) * _HD2R)
    s2 = sin((lon2 - lon1) * _HD2R)
    h = s1 * s1 + cos(lat1 * _D2R) * cos(lat2 * _D2R) * s2 * s2
    return _2R * asin(sqrt(h)) if h < 1.0 else _HALF_EARTH_M


def _h_of(metres: float) -> float:
    """The haversine term ``h`` of a distance: ``d > metres`` ⇔ ``h > _h_of(metres)``."""
    s = sin(min(metres, _HALF_EARTH_M) / _2R)
    return s * s


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def fix_rows(fixes: Sequence[Fix], *, days: bool = True) -> Iterable[Row]:
    """The kernel's rows from Fix objects, built column by column (a list comprehension per
    attribute is cheaper than a tuple per fix); ignition and fuel only when ``days`` needs
    them."""
    ts = [f.fix_time.timestamp() for f in fixes]
    lats = [f.latitude for f in fixes]
    lons = [f.longitude for f in fixes]
    speeds = [f.speed_kmh for f in fixes]
    valids = [f.valid for f in fixes]
    if not days:
        return zip(ts, lats, lons, speeds, valids, repeat(None), repeat(None), strict=False)
    return zip(ts, lats, lons, speeds, valids, [f.ignition for f in fixes],
               [f.fuel_l for f in fixes], strict=True)


# --- noise filter ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FilterConfig:
    """What counts as noise. A rejected fix is still stored (``store_fixes`` keeps everything
    with ``distance_m = 0``) but moves no odometer, trip or stop."""

    drop_invalid: bool = True        #: no satellite fix: last known place or a cell guess
    drop_zero: bool = True           #: 0/0 is what cheap units send before their first fix
    max_speed_kmh: float = 300.0     #: a jump implying a faster move than this is rejected
    min_distance_m: float = 0.0      #: closer than this to the last accepted fix: kept, distance 0
    max_rejects: int = 5             #: after this many consecutive jumps, trust the new place
    #: (a wrong *first* fix must not reject the truth forever)


class NoiseFilter:
    """Incremental filter for one device: :meth:`accept` tells whether a fix is real and how
    far it is from the previous accepted one. ``store_fixes`` runs it over each batch to fill
    ``gps_position.distance_m``; the analytics use the same rules (the same kernel).

    A fix not later than the last one *seen* (accepted or not) is a duplicate or out of order:
    noise, and no state moves."""

    __slots__ = ("config", "last", "last_cos", "seen", "rejects", "reanchors")

    def __init__(self, config: FilterConfig | None = None) -> None:
        self.config = config or FilterConfig()
        self.last: Point | None = None   #: (t, lat, lon) last accepted
        self.last_cos = 1.0              #: cos(latitude) of ``last``
        self.seen = float("-inf")        #: time of the last fix seen
        self.rejects = 0
        #: how often the filter gave up and trusted a new place: the trip detector restarts
        #: there, so a wrong first fix is not joined to the truth by a phantom trip
        self.reanchors = 0

    def accept_raw(self, t: float, lat: float, lon: float, valid: bool) -> float | None:
        """Distance in metres from the last accepted fix, or ``None`` for noise."""
        out: list[float | None] = []
        run_kernel(self, None, None, ((t, lat, lon, 0.0, valid, None, None),), out, None)
        return out[0]

    def accept(self, fix: Fix) -> float | None:
        """:meth:`accept_raw` for a :class:`Fix`."""
        return self.accept_raw(fix.fix_time.timestamp(), fix.latitude, fix.longitude, fix.valid)

    def distances(self, fixes: Sequence[Fix]) -> list[float | None]:
        """:meth:`accept` over a batch in one pass: one distance (or ``None``) per fix."""
        out: list[float | None] = []
        run_kernel(self, None, None, fix_rows(fixes, days=False), out, None)
        return out


def filter_noise(fixes: Sequence[Fix],
                 config: FilterConfig | None = None) -> list[tuple[Fix, float]]:
    """The accepted fixes with their distance from the previous accepted one."""
    dists = NoiseFilter(config).distances(fixes)
    return [(f, d) for f, d in zip(fixes, dists, strict=True) if d is not None]


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


def _trip(device: str, cfg: TripConfig, start: Point, end: Point, dist: float,
          vmax: float) -> Trip | None:
    """A trip from ``start`` to ``end``, unless empty or shorter than the minimum."""
    if end[0] <= start[0] or dist < cfg.min_trip_distance_m:
        return None
    return Trip(device, _utc(start[0]), _utc(end[0]), start[1], start[2], end[1], end[2],
                dist, vmax)


class TripDetector:
    """Incremental trip/stop detection for ONE device. :meth:`feed` a fix (or
    :meth:`feed_many` a batch), get the segments it closed (usually none; a trip and/or a
    stop at a change). ``store_fixes`` persists them as they close; :meth:`open_segment`
    says what is going on now (for the live page and reports up to "now"). Noise is
    filtered inside with the same :class:`NoiseFilter` rules.

    How: while *stopped* the stop point is fixed; the first fix ``moving_distance_m`` away
    starts a trip at the last fix of the stop. While *moving* an anchor fix is kept with every
    fix since within ``stop_radius_m`` of it (a fix beyond re-anchors there); once the fixes
    stayed for ``stop_duration_s`` the trip ends at the anchor and the stop begins there. A gap
    over ``gap_s`` closes the trip at the last fix before it; the time of a gap is never trip.
    When the noise filter gives up on a jump and trusts the new place, what was open is
    closed and a stop begins at the new place (no phantom trip across the jump).
    Callers feed fixes in time order; an older fix than the last seen is ignored.
    """

    __slots__ = ("device", "cfg", "flt", "moving", "sp", "sp_cos", "stop_start", "stop_last",
                 "trip_start", "trip_dist", "trip_max", "anchor", "anchor_cos", "anchor_dist",
                 "anchor_max", "last", "last_cos")

    def __init__(self, device: str, config: TripConfig | None = None,
                 filter_config: FilterConfig | None = None,
                 noise_filter: NoiseFilter | None = None) -> None:
        self.device = device
        self.cfg = config or TripConfig()
        #: ``noise_filter``: share one filter with a :class:`DailyAccumulator` (ingest)
        self.flt = noise_filter or NoiseFilter(filter_config)
        self.moving = False
        self.sp: Point | None = None             # stop point
        self.sp_cos = 1.0
        self.stop_start = 0.0
        self.stop_last: Point | None = None      # last fix of the stop
        self.trip_start: Point | None = None
        self.trip_dist = 0.0
        self.trip_max = 0.0
        self.anchor: Point | None = None
        self.anchor_cos = 1.0
        self.anchor_dist = 0.0      # trip distance up to the anchor
        self.anchor_max = 0.0       # trip max speed up to the anchor
        self.last: Point | None = None           # last accepted fix
        self.last_cos = 1.0

    def feed(self, fix: Fix) -> list[Segment]:
        """Consume one fix (in time order); the trips/stops it closed."""
        return self.feed_raw(fix.fix_time.timestamp(), fix.latitude, fix.longitude,
                             fix.speed_kmh, fix.valid)

    def feed_raw(self, t: float, lat: float, lon: float, speed: float,
                 valid: bool = True) -> list[Segment]:
        """:meth:`feed` on plain values."""
        out: list[Segment] = []
        run_kernel(self.flt, self, None, ((t, lat, lon, speed, valid, None, None),), None, out)
        return out

    def feed_many(self, fixes: Sequence[Fix]) -> list[Segment]:
        """:meth:`feed` over a batch (time order) in one pass; the segments it closed."""
        out: list[Segment] = []
        run_kernel(self.flt, self, None, fix_rows(fixes, days=False), None, out)
        return out

    def resume(self, t: float, lat: float, lon: float, *, moving: bool = False) -> None:
        """Go on from where the last stored segment ended (after a restart) instead of from
        nothing: after a trip a stop began there (``moving=False``), after a stop a trip
        began there (``moving=True``). The filter's reference point moves there too, so the
        next distance is measured from it."""
        cur = (t, lat, lon)
        c = cos(lat * _D2R)
        self.moving = moving
        self.last = self.sp = self.stop_last = cur
        self.last_cos = self.sp_cos = c
        self.stop_start = t
        if moving:
            self.trip_start = cur
            # the anchor a quarter of the globe away: the next fix becomes the anchor, as the
            # fix that started the trip did when it ran live
            self.anchor = (t, lat + 90.0, lon)
            self.anchor_cos = c
            self.trip_dist = self.trip_max = self.anchor_dist = self.anchor_max = 0.0
        flt = self.flt
        if flt.last is None or flt.last[0] < t:
            flt.last, flt.last_cos = cur, c
        flt.seen = max(flt.seen, t)

    def open_segment(self) -> Segment | None:
        """The trip or stop in progress (not closed), ``None`` before the first fix."""
        if self.last is None:
            return None
        return _open_segment(self.device, self.cfg, self.moving, self.trip_start, self.last,
                             self.trip_dist, self.trip_max, self.sp, self.stop_start,
                             self.stop_last)


def _open_segment(device: str, cfg: TripConfig, moving: bool, trip_start: Point | None,
                  last: Point, trip_dist: float, trip_max: float, sp: Point | None,
                  stop_start: float, stop_last: Point | None) -> Segment | None:
    if moving:
        assert trip_start is not None
        return _trip(device, cfg, trip_start, last, trip_dist, trip_max)
    assert sp is not None
    sl = stop_last or sp
    return Stop(device, _utc(stop_start), _utc(sl[0]), sp[1], sp[2])


def run_kernel(flt: NoiseFilter, det: TripDetector | None, acc: DailyAccumulator | None,
         rows: Iterable[Row], dists: list[float | None] | None,
         segs: list[Segment] | None) -> None:
    """THE loop: filter every row with ``flt``; feed what it accepts to ``det`` (closed
    segments appended to ``segs``) and every row that is not a duplicate to ``acc``; append
    each row's distance (``None``: noise or duplicate) to ``dists`` when given.

    State lives in locals for the loop and is written back to the objects at the end, so
    the objects can be fed again (incremental) with the same result as one long call."""
    fcfg = flt.config
    drop_invalid = fcfg.drop_invalid
    drop_zero = fcfg.drop_zero
    vmax_ms = fcfg.max_speed_kmh / 3.6
    min_d = fcfg.min_distance_m
    max_rej = fcfg.max_rejects
    last = flt.last
    has_last = last is not None
    lt, llat, llon = last if last is not None else (0.0, 0.0, 0.0)
    lc = flt.last_cos
    seen = flt.seen
    rejects = flt.rejects
    reanchors = flt.reanchors
    dappend = dists.append if dists is not None else None
    c = 1.0

    trips = det is not None and segs is not None
    if det is not None:
        tcfg = det.cfg
        device = det.device
        h_move = _h_of(tcfg.moving_distance_m)
        h_radius = _h_of(tcfg.stop_radius_m)
        stop_dur = tcfg.stop_duration_s
        gap_s = tcfg.gap_s
        moving = det.moving
        sp, sp_c, stop_start, stop_last = det.sp, det.sp_cos, det.stop_start, det.stop_last
        trip_start, trip_dist, trip_max = det.trip_start, det.trip_dist, det.trip_max
        anchor, anchor_c = det.anchor, det.anchor_cos
        anchor_dist, anchor_max = det.anchor_dist, det.anchor_max
        tlast, tlast_c = det.last, det.last_cos
        sappend = segs.append if segs is not None else None

    days = acc is not None
    touched = False
    if acc is not None:
        dlo, dhi, day = acc._day_cache
        acc_gap = acc.gap_s
        prev_t = acc.prev_t if acc.prev_t is not None else 0.0
        prev_ign = acc.prev_ign
        prev_fuel = acc.prev_fuel
        rise, rise_top = acc.rise, acc.rise_top
        ddist = deng = dfuel = dmax = 0.0

    for t, lat, lon, speed, valid, ign, fuel in rows:
        if t <= seen:                               # duplicate or out of order
            if dappend is not None:
                dappend(None)
            continue
        seen = t
        # --- noise filter
        d: float | None = None
        re = False
        if not ((drop_invalid and not valid) or (drop_zero and lat == 0.0 and lon == 0.0)):
            c = cos(lat * _D2R)
            if has_last:
                s1 = sin((lat - llat) * _HD2R)
                s2 = sin((lon - llon) * _HD2R)
                h = s1 * s1 + lc * c * s2 * s2
                d = _2R * asin(sqrt(h)) if h < 1.0 else _HALF_EARTH_M
                if d > vmax_ms * (t - lt):          # an impossible jump
                    rejects += 1
                    if rejects < max_rej:
                        d = None
                    else:                           # trust the new place
                        rejects = 0
                        reanchors += 1
                        re = True
                        lt, llat, llon, lc = t, lat, lon, c
                        d = 0.0                     # the jump itself is not mileage
                else:
                    rejects = 0
                    if d < min_d:                   # time moves on, the point does not
                        lt = t
                        d = 0.0
                    else:
                        lt, llat, llon, lc = t, lat, lon, c
            else:
                has_last = True
                lt, llat, llon, lc = t, lat, lon, c
                d = 0.0
        if dappend is not None:
            dappend(d)

        # --- the day's mileage, engine time and fuel
        if days:
            assert acc is not None
            if not dlo <= t < dhi:
                if touched:
                    acc._add(day, ddist, deng, dfuel, dmax)
                    ddist = deng = dfuel = dmax = 0.0
                day = acc._day(t)
                dlo, dhi, _ = acc._day_cache
            touched = True
            if d is not None:
                ddist += d
                if speed > dmax:
                    dmax = speed
            if prev_ign and t - prev_t <= acc_gap:
                deng += t - prev_t
            if fuel is not None:
                if prev_fuel is not None:
                    delta = fuel - prev_fuel
                    if delta > 0.0:
                        rise += delta
                        rise_top = (t, lat, lon)
                    else:
                        if rise:
                            acc.rise, acc.rise_top = rise, rise_top
                            acc.settle()
                            rise = 0.0
                        dfuel -= delta              # a drop is consumption
                prev_fuel = fuel
            prev_t = t
            prev_ign = ign

        # --- trips and stops
        if not trips or d is None:
            continue
        cur = (t, lat, lon)
        if re:
            # close what was open before the jump (a trip at its last fix, a stop if long
            # enough) and begin afresh with a stop here
            if tlast is not None:
                seg = _open_segment(device, tcfg, moving, trip_start, tlast, trip_dist,
                                    trip_max, sp, stop_start, stop_last)
                if type(seg) is Trip or (type(seg) is Stop and seg.duration_s >= stop_dur):
                    sappend(seg)  # type: ignore[misc]
            moving = False
            tlast = sp = stop_last = cur
            tlast_c = sp_c = c
            stop_start = t
            continue
        prev, prev_c = tlast, tlast_c
        tlast, tlast_c = cur, c
        if prev is None:                            # first fix: a stop begins here
            sp, sp_c, stop_start, stop_last = cur, c, t, cur
            continue
        if moving:
            if t - prev[0] > gap_s:                 # a gap ends the trip at its last fix
                trip = _trip(device, tcfg, trip_start, prev, trip_dist,  # type: ignore[arg-type]
                             trip_max)
                if trip is not None:
                    sappend(trip)  # type: ignore[misc]
                moving = False
                sp, sp_c, stop_start, stop_last = prev, prev_c, prev[0], prev
                # on to the stopped branch with this fix
            else:
                trip_dist += d
                if speed > trip_max:
                    trip_max = speed
                s1 = sin((lat - anchor[1]) * _HD2R)  # type: ignore[index]
                s2 = sin((lon - anchor[2]) * _HD2R)  # type: ignore[index]
                if s1 * s1 + anchor_c * c * s2 * s2 > h_radius:
                    anchor, anchor_c, anchor_dist, anchor_max = cur, c, trip_dist, trip_max
                elif t - anchor[0] >= stop_dur:      # type: ignore[index]
                    trip = _trip(device, tcfg, trip_start, anchor,  # type: ignore[arg-type]
                                 anchor_dist, anchor_max)
                    if trip is not None:
                        sappend(trip)  # type: ignore[misc]
                    moving = False
                    sp, sp_c, stop_start, stop_last = (
                        anchor, anchor_c, anchor[0], cur)  # type: ignore[index]
                continue
        # near the stop point (most fixes of a parked car): sin(x) <= x bounds h from above
        # without a sin, and the exact test runs only when that bound is not below h_move
        x1 = (lat - sp[1]) * _HD2R  # type: ignore[index]
        x2 = (lon - sp[2]) * _HD2R  # type: ignore[index]
        if x1 * x1 + sp_c * c * x2 * x2 < h_move:
            stop_last = cur
            continue
        s1 = sin(x1)
        s2 = sin(x2)
        if s1 * s1 + sp_c * c * s2 * s2 >= h_move:  # left the stop point: a trip begins
            sl: Point = stop_last  # type: ignore[assignment]
            if sl[0] - stop_start >= stop_dur:
                sappend(Stop(device, _utc(stop_start), _utc(sl[0]),  # type: ignore[misc]
                             sp[1], sp[2]))  # type: ignore[index]
            moving = True
            if t - sl[0] > gap_s:                   # left during a gap: the trip starts here
                trip_start, trip_dist = cur, 0.0
            else:
                trip_start, trip_dist = sl, d
            trip_max = speed
            anchor, anchor_c, anchor_dist, anchor_max = cur, c, trip_dist, speed
        else:
            stop_last = cur

    flt.last = (lt, llat, llon) if has_last else None
    flt.last_cos = lc
    flt.seen = seen
    flt.rejects = rejects
    flt.reanchors = reanchors
    if det is not None:
        det.moving = moving
        det.sp, det.sp_cos, det.stop_start, det.stop_last = sp, sp_c, stop_start, stop_last
        det.trip_start, det.trip_dist, det.trip_max = trip_start, trip_dist, trip_max
        det.anchor, det.anchor_cos = anchor, anchor_c
        det.anchor_dist, det.anchor_max = anchor_dist, anchor_max
        det.last, det.last_cos = tlast, tlast_c
    if acc is not None:
        if touched:
            acc._add(day, ddist, deng, dfuel, dmax)
        acc._day_cache = (dlo, dhi, day)
        if touched:
            acc.prev_t = prev_t
        acc.prev_ign = prev_ign
        acc.prev_fuel = prev_fuel
        acc.rise, acc.rise_top = rise, rise_top


def trips_and_stops(fixes: Sequence[Fix], config: TripConfig | None = None,
                    filter_config: FilterConfig | None = None, *,
                    include_open: bool = False) -> tuple[list[Trip], list[Stop]]:
    """Batch: the trips and stops of one device's fixes (time order). ``include_open`` adds
    the segment still in progress at the end (a report "up to now")."""
    if not fixes:
        return [], []
    det = TripDetector(fixes[0].device, config, filter_config)
    return _split(det, det.feed_many(fixes), include_open)


def _split(det: TripDetector, segs: list[Segment],
           include_open: bool) -> tuple[list[Trip], list[Stop]]:
    trips: list[Trip] = []
    stops: list[Stop] = []
    for s in segs:
        if type(s) is Trip:
            trips.append(s)
        else:
            stops.append(s)  # type: ignore[arg-type]
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

    ``store_fixes`` feeds every stored fix (in order) and, after each batch, :meth:`drain`
    gives the *increments* per day to add to ``gps_mileage_daily`` (``distance_m += …``,
    ``max_speed = greatest(…)``), so the table is kept by upserts without rereading positions.

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
                 refuel_min_l: float = 5.0, noise_filter: NoiseFilter | None = None) -> None:
        self.device = device
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        #: ``noise_filter``: share one filter with a :class:`TripDetector` (ingest)
        self.flt = noise_filter or NoiseFilter(filter_config)
        self.gap_s = gap_s
        self.refuel_min_l = refuel_min_l
        self.rows: dict[date, DailyMileage] = {}
        self.prev_t: float | None = None
        self.prev_ign: bool | None = None
        self.prev_fuel: float | None = None
        self.refuels: list[Refuel] = []
        self.rise = 0.0                                       # litres of the rising run
        self.rise_top: Point = (0.0, 0.0, 0.0)                # (t, lat, lon) its top
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

    def _row(self, day: date) -> DailyMileage:
        row = self.rows.get(day)
        if row is None:
            row = self.rows[day] = DailyMileage(self.device, day)
        return row

    def _add(self, day: date, dist: float, engine: float, fuel: float, vmax: float) -> None:
        """Book what the kernel summed for ``day`` (once per day and call, not per fix)."""
        row = self._row(day)
        row.distance_m += dist
        row.engine_seconds += engine
        row.fuel_l += fuel
        if vmax > row.max_speed_kmh:
            row.max_speed_kmh = vmax

    def feed(self, fix: Fix) -> None:
        self.feed_raw(fix.fix_time.timestamp(), fix.latitude, fix.longitude, fix.speed_kmh,
                      fix.valid, fix.ignition, fix.fuel_l)

    def feed_raw(self, t: float, lat: float, lon: float, speed: float, valid: bool = True,
                 ignition: bool | None = None, fuel: float | None = None) -> None:
        run_kernel(self.flt, None, self, ((t, lat, lon, speed, valid, ignition, fuel),), None, None)

    def feed_many(self, fixes: Sequence[Fix]) -> None:
        """:meth:`feed` over a batch (time order) in one pass."""
        run_kernel(self.flt, None, self, fix_rows(fixes), None, None)

    def settle(self) -> None:
        """Book the pending rising run: a refuel if at least ``refuel_min_l``, else noise
        (subtracted from consumption)."""
        rise = self.rise
        if not rise:
            return
        self.rise = 0.0
        t, lat, lon = self.rise_top
        row = self._row(self._day(t))
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
    ``gps_mileage_daily`` holds (``store_fixes`` upserts them at ingest through
    :class:`DailyAccumulator`, or recomputes a period with this). Fixes of several devices
    are split by device first."""
    out: list[DailyMileage] = []
    for device, fx in _by_device(fixes).items():
        acc = DailyAccumulator(device, tz, filter_config, gap_s=gap_s, refuel_min_l=refuel_min_l)
        acc.feed_many(fx)
        acc.settle()
        out.extend(acc.drain())
    return out


def _by_device(fixes: Sequence[Fix]) -> dict[str, Sequence[Fix]]:
    first = fixes[0].device if fixes else ""
    if all(f.device == first for f in fixes):    # the usual case: no copy
        return {first: fixes} if fixes else {}
    by_device: dict[str, list[Fix]] = {}
    for f in fixes:
        by_device.setdefault(f.device, []).append(f)
    return dict(by_device)


def trips_stops_mileage(fixes: Sequence[Fix], tz: str | ZoneInfo = "UTC",
                        config: TripConfig | None = None,
                        filter_config: FilterConfig | None = None, *,
                        include_open: bool = False, gap_s: float = 3600.0,
                        refuel_min_l: float = 5.0,
                        ) -> tuple[list[Trip], list[Stop], list[DailyMileage]]:
    """:func:`trips_and_stops` and :func:`daily_mileage_rows` of ONE device's fixes in a
    single pass over them with one noise filter (what a month report or a recompute needs):
    the same answer as the two calls, in about half their time."""
    if not fixes:
        return [], [], []
    device = fixes[0].device
    flt = NoiseFilter(filter_config)
    det = TripDetector(device, config, noise_filter=flt)
    acc = DailyAccumulator(device, tz, gap_s=gap_s, refuel_min_l=refuel_min_l,
                           noise_filter=flt)
    segs: list[Segment] = []
    run_kernel(flt, det, acc, fix_rows(fixes), None, segs)
    acc.settle()
    trips, stops = _split(det, segs, include_open)
    return trips, stops, acc.drain()


def refuels(fixes: Sequence[Fix], *, refuel_min_l: float = 5.0) -> list[Refuel]:
    """The refuels (fuel level rising by at least ``refuel_min_l``) in one device's fixes."""
    if not fixes:
        return []
    acc = DailyAccumulator(fixes[0].device, refuel_min_l=refuel_min_l)
    acc.feed_many(fixes)
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


def total_distance_m(fixes: Sequence[Fix], filter_config: FilterConfig | None = None) -> float:
    """Noise-filtered haversine distance over the fixes."""
    return sum(d for d in NoiseFilter(filter_config).distances(fixes) if d)


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
    for f, d in zip(fixes, NoiseFilter(filter_config).distances(fixes), strict=True):
        if d is None:
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
    "filter_noise", "fix_rows", "overspeed_episodes", "refuels", "run_kernel",
    "speed_segments", "total_distance_m", "trips_and_stops", "trips_stops_mileage",
]
