"""Distance on the earth, the one formula every GPS figure is built on.

Haversine on a sphere of the WGS-84 equatorial radius, as the reference tracker server uses,
so our mileage agrees with what fleet owners compare it to. Metres in, metres out.
"""

from __future__ import annotations

from math import asin, cos, radians, sin, sqrt
from typing import Final

EARTH_RADIUS_M: Final = 6_378_137.0


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in degrees."""
    p1, p2 = radians(lat1), radians(lat2)
    dlat = p2 - p1
    dlon = radians(lon2 - lon1)
    h = sin(dlat / 2) ** 2 + cos(p1) * cos(p2) * sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * asin(min(1.0, sqrt(h)))
