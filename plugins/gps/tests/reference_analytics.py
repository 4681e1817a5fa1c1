"""The analytics' first, plain per-fix implementation, kept as the oracle the optimised
kernel in ``carebiz_plugins.gps.analytics`` is tested against (``test_analytics_kernel.py``).

One object per concern, one method call per fix, ``haversine`` with ``asin`` every time: slow
(3–5 haversine loops per month of fixes) but obviously the documented rules. The one
deliberate change from the code as first shipped: a fix not later than the last one *seen*
(not only the last accepted) is a duplicate for the noise filter too, as it always was for the
daily accumulator, so every consumer of one filter agrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from math import asin, cos, sin, sqrt
from zoneinfo import ZoneInfo

from carebiz_plugins.gps.analytics import (
    DailyMileage,
    FilterConfig,
    Refuel,
    Segment,
    Stop,
    Trip,
    TripConfig,
)
from carebiz_plugins.gps.fixes import Fix
from carebiz_plugins.gps.geo import EARTH_RADIUS_M

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

class NoiseFilter:
    """Incremental filter for one device: :meth:`accept` tells whether a fix is real and how
    far it is from the previous accepted one. gstore calls it per fix to fill
    ``gps_position.distance_m``; the analytics use the same rules."""

    __slots__ = ("config", "last", "seen", "rejects", "reanchors")

    def __init__(self, config: FilterConfig | None = None) -> None:
        self.config = config or FilterConfig()
        self.last: tuple[float, float, float] | None = None   #: (t, lat, lon) last accepted
        self.seen = float("-inf")
        self.rejects = 0
        #: how often the filter gave up and trusted a new place: the trip detector restarts
        #: there, so a wrong first fix is not joined to the truth by a phantom trip
        self.reanchors = 0

    def accept_raw(self, t: float, lat: float, lon: float, valid: bool) -> float | None:
        """Distance in metres from the last accepted fix, or ``None`` for noise."""
        cfg = self.config
        if t <= self.seen:
            return None
        self.seen = t
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


# --- trips and stops ------------------------------------------------------------------------

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


