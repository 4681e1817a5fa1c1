"""Geofences compiled for fast point-in-fence tests at ingest.

A fence is stored as GeoJSON in WGS-84 degrees (``gps_geofence.geometry``): a ``Point`` with
``radius_m`` (circle), a ``Polygon`` / ``MultiPolygon`` (polygon) or a ``LineString`` with
``half_width_m`` (route corridor, 25 m when unset). :func:`compile_fence` turns it into a
:class:`Fence` whose :meth:`Fence.contains` answers in about a microsecond:

1. a bounding box in degrees rejects every fix that is nowhere near (most fixes of a fleet
   are far from most fences): four float comparisons;
2. the fix is projected into the fence's **local metre plane**, an equirectangular
   projection around the fence's centre (``x = R·cos φ0·Δλ``, ``y = R·Δφ``, R the WGS-84
   equatorial radius that :mod:`..geo` uses for distances);
3. a circle compares ``x² + y²`` with ``r²`` (exact in that plane, no polygon
   approximation); a polygon or corridor (the line buffered by ``half_width_m`` with round
   ends) asks its shapely geometry, *prepared* once so each test is a cheap index lookup.

Error bound of the projection: east–west distances use ``cos φ0`` instead of the cosine of
the fix's own latitude, so a point ``D`` metres from the centre is misplaced by about
``D² · tan|φ0| / R``: at 45° that is 0.16 m for D = 1 km, 3.9 m for 5 km and 16 m for
10 km (at 60°: 0.27 m, 6.8 m, 27 m). GPS fixes are ±5–10 m anyway, so fences up to a few
kilometres across are exact for our purpose; a corridor along a long route is measured
around its own centre, so keep corridors to tens of kilometres (split longer routes).
Fences must not cross the ±180° meridian.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from math import cos, radians
from typing import Any

import shapely  # type: ignore[import-untyped]
from shapely.geometry import shape  # type: ignore[import-untyped]
from shapely.geometry.base import BaseGeometry  # type: ignore[import-untyped]

from ..geo import EARTH_RADIUS_M
from .schedule import Schedule

#: a corridor's half-width when the fence does not say (the reference server's default)
DEFAULT_HALF_WIDTH_M = 25.0
_KY = radians(1.0) * EARTH_RADIUS_M      #: metres per degree of latitude


@dataclass(frozen=True, slots=True, eq=False)
class Fence:
    """A compiled fence. ``contains(lat, lon)`` is all the rules ask of it."""

    id: int
    name: str
    kind: str                                #: circle | polygon | corridor
    lat0: float                              #: the projection's centre
    lon0: float
    kx: float                                #: metres per degree of longitude at ``lat0``
    bbox: tuple[float, float, float, float]  #: min lat, min lon, max lat, max lon (degrees)
    radius_m: float | None = None            #: circles
    geometry: BaseGeometry | None = None     #: polygons and corridors, in local metres, prepared
    schedule: Schedule | None = None         #: active only inside this window (None: always)
    speed_limit_kmh: float | None = None     #: the overspeed limit inside the fence
    version: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def project(self, lat: float, lon: float) -> tuple[float, float]:
        """The fix in this fence's local metre plane."""
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * _KY

    def contains(self, lat: float, lon: float) -> bool:
        """Whether the point (degrees) lies inside the fence."""
        b = self.bbox
        if lat < b[0] or lat > b[2] or lon < b[1] or lon > b[3]:
            return False
        x = (lon - self.lon0) * self.kx
        y = (lat - self.lat0) * _KY
        if self.radius_m is not None:
            return x * x + y * y <= self.radius_m * self.radius_m
        assert self.geometry is not None
        return bool(shapely.intersects_xy(self.geometry, x, y))

    def active(self, when: Any) -> bool:
        """Whether the fence's schedule (if any) allows events at ``when``."""
        return self.schedule is None or self.schedule.contains(when)


def _geojson(geometry: str | Mapping[str, Any]) -> Mapping[str, Any]:
    data = json.loads(geometry) if isinstance(geometry, str) else geometry
    if not isinstance(data, Mapping):
        raise ValueError("the geometry is not a GeoJSON object")
    if data.get("type") == "Feature":
        data = data.get("geometry") or {}
    return data


def compile_fence(*, id: int, kind: str, geometry: str | Mapping[str, Any], name: str = "",
                  radius_m: float | None = None, half_width_m: float | None = None,
                  schedule: Schedule | None = None, speed_limit_kmh: float | None = None,
                  version: int = 0) -> Fence:
    """A :class:`Fence` from the stored GeoJSON. Raises ``ValueError`` for a geometry that
    does not fit its kind (a polygon that is not closed, a circle without a radius …)."""
    try:
        geom = shape(_geojson(geometry))
    except (ValueError, TypeError, KeyError, AttributeError, shapely.errors.GEOSException) as exc:
        raise ValueError(f"fence {id}: not a GeoJSON geometry ({exc})") from exc
    if geom.is_empty:
        raise ValueError(f"fence {id}: empty geometry")
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    lat0, lon0 = (min_lat + max_lat) / 2, (min_lon + max_lon) / 2
    if not (-85.0 <= lat0 <= 85.0):
        raise ValueError(f"fence {id}: too close to a pole")
    kx = _KY * cos(radians(lat0))
    common = {"id": id, "name": name, "kind": kind, "lat0": lat0, "lon0": lon0, "kx": kx,
              "schedule": schedule, "speed_limit_kmh": speed_limit_kmh, "version": version}

    def box(margin_m: float) -> tuple[float, float, float, float]:
        dlat, dlon = margin_m / _KY, margin_m / kx
        return (min_lat - dlat, min_lon - dlon, max_lat + dlat, max_lon + dlon)

    if kind == "circle":
        if geom.geom_type != "Point":
            raise ValueError(f"fence {id}: a circle's geometry is its centre Point")
        if not radius_m or radius_m <= 0:
            raise ValueError(f"fence {id}: a circle needs a radius above 0 m")
        return Fence(**common, bbox=box(radius_m), radius_m=float(radius_m))

    def to_local(coords: Any) -> Any:
        out = coords.copy()
        out[:, 0] = (coords[:, 0] - lon0) * kx
        out[:, 1] = (coords[:, 1] - lat0) * _KY
        return out

    local = shapely.transform(geom, to_local)
    if kind == "polygon":
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"fence {id}: a polygon fence needs a Polygon geometry")
        if not local.is_valid:
            local = shapely.make_valid(local)
        if local.area <= 0:
            raise ValueError(f"fence {id}: the polygon has no area")
        margin = 1.0
    elif kind == "corridor":
        if geom.geom_type not in ("LineString", "MultiLineString"):
            raise ValueError(f"fence {id}: a corridor's geometry is a LineString")
        width = float(half_width_m) if half_width_m else DEFAULT_HALF_WIDTH_M
        if width <= 0:
            raise ValueError(f"fence {id}: a corridor needs a half-width above 0 m")
        local = local.buffer(width, quad_segs=8)
        margin = width + 1.0
    else:
        raise ValueError(f"fence {id}: unknown kind {kind!r}")
    shapely.prepare(local)
    return Fence(**common, bbox=box(margin), geometry=local)
