"""Geofences and vehicle groups: drawn or typed, checked, saved with their assignments.

A fence is a circle (a GeoJSON ``Point`` centre + ``radius_m``), a polygon (a GeoJSON
``Polygon``: closed, valid — no self-crossing — as shapely judges it) or a route corridor (a
``LineString`` + ``half_width_m``), stored as GeoJSON text in WGS-84 (longitude first).

WHY the checks are this strict: the rules evaluate every fix of every assigned vehicle
against every fence at ingest. A bow-tie polygon has no well-defined inside (a car would
"enter" and "leave" it at random), and a fence with a latitude of 121° is a longitude typed
in the wrong box; both are refused here with a message naming the field, rather than
raising nonsense alarms later.

A schedule (fences) or allowed ignition hours (groups) reads
``{"days": [1, …, 7], "from": "HH:MM", "to": "HH:MM"}``: ISO weekdays (Monday is 1) in the
business's time zone; no hours means all day; ``from`` after ``to`` runs over midnight.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from shapely.geometry import shape  # type: ignore[import-untyped]
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version, lock
from carebiz.crm.models import Vehicle
from carebiz.errors import ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.security import visible
from carebiz.services.branches import default_branch_for, usable_branches
from carebiz.toolkit import record_id

from .. import signals
from ..models import (
    GEOFENCE_KINDS,
    GpsGeofence,
    GpsGeofenceGroup,
    GpsGeofenceVehicle,
    GpsGroup,
    GpsGroupVehicle,
)

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
FENCE_FIELDS = ("name", "kind", "geometry", "radius_m", "half_width_m", "schedule",
                "speed_limit_kmh", "active", "notes", "vehicle_ids", "group_ids", "branch_id")
GROUP_FIELDS = ("name", "overspeed_kmh", "overspeed_min_seconds", "idle_minutes",
                "fatigue_hours", "fatigue_break_minutes", "allowed_hours", "offline_minutes",
                "active", "notes", "vehicle_ids", "branch_id")
#: the numbers of a group and their plausible ranges (None: that rule is off)
GROUP_LIMITS: dict[str, tuple[float, float]] = {
    "overspeed_kmh": (5, 300), "overspeed_min_seconds": (0, 600), "idle_minutes": (1, 1440),
    "fatigue_hours": (0.5, 24), "fatigue_break_minutes": (1, 240),
    "offline_minutes": (1, 10080)}
MAX_POINTS = 2000


# --- checks ----------------------------------------------------------------------------------


def clean_schedule(value: Any, field: str, errors: dict[str, str]) -> dict[str, Any] | None:
    """A schedule as stored, or None (always); a wrong one is an error on ``field``."""
    if value in (None, {}, ""):
        return None
    if not isinstance(value, dict):
        errors[field] = _("An object with days (1 = Monday … 7 = Sunday) and optional "
                          "hours from and to (HH:MM).")
        return None
    unknown = set(value) - {"days", "from", "to"}
    if unknown:
        errors[field] = _("Unknown keys: %(keys)s. Use days, from and to.",
                          keys=", ".join(sorted(unknown)))
        return None
    days = value.get("days", [1, 2, 3, 4, 5, 6, 7])
    if (not isinstance(days, list) or not days
            or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7
                       for d in days)):
        errors[field] = _("days: at least one weekday, 1 = Monday … 7 = Sunday.")
        return None
    start, end = value.get("from"), value.get("to")
    if (start is None) != (end is None):
        errors[field] = _("Give both hours (from and to), or neither for all day.")
        return None
    if start is not None and not (isinstance(start, str) and isinstance(end, str)
                                  and HHMM.match(start) and HHMM.match(end)):
        errors[field] = _("Hours as HH:MM, e.g. 08:00 and 18:30.")
        return None
    if start is not None and start == end:
        errors[field] = _("The hours from and to must differ.")
        return None
    out: dict[str, Any] = {"days": sorted(set(days))}
    if start is not None:
        out.update({"from": start, "to": end})
    return out


def _coords_ok(coords: Iterable[Any]) -> bool:
    for point in coords:
        if (not isinstance(point, list | tuple) or len(point) < 2
                or not all(isinstance(c, int | float) and not isinstance(c, bool)
                           for c in point[:2])):
            return False
        lon, lat = point[0], point[1]
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return False
    return True


def clean_geometry(kind: str, value: Any, errors: dict[str, str]) -> dict[str, Any] | None:
    """The GeoJSON geometry ``kind`` needs (a string or an object), else an error on
    ``geometry`` saying what is wrong."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            errors["geometry"] = _("Not GeoJSON.")
            return None
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    wanted = {"circle": "Point", "polygon": "Polygon", "corridor": "LineString"}[kind]
    if not isinstance(value, dict) or value.get("type") != wanted:
        errors["geometry"] = _("A %(kind)s needs a GeoJSON %(type)s.", kind=kind, type=wanted)
        return None
    coords = value.get("coordinates")
    if kind == "circle":
        if not _coords_ok([coords]):
            errors["geometry"] = _("The centre as [longitude, latitude], within -180…180 and "
                                   "-90…90.")
            return None
        assert isinstance(coords, list | tuple)  # _coords_ok checked it
        return {"type": "Point", "coordinates": [float(coords[0]), float(coords[1])]}
    rings = coords if kind == "polygon" else [coords]
    if (not isinstance(rings, list) or not rings
            or not all(isinstance(r, list) for r in rings)
            or not all(_coords_ok(r) for r in rings)):
        errors["geometry"] = _("Points as [longitude, latitude], within -180…180 and "
                               "-90…90.")
        return None
    if sum(len(r) for r in rings) > MAX_POINTS:
        errors["geometry"] = _("At most %(count)s points.", count=MAX_POINTS)
        return None
    clean = [[[float(p[0]), float(p[1])] for p in ring] for ring in rings]
    if kind == "corridor":
        if len(clean[0]) < 2 or len({tuple(p) for p in clean[0]}) < 2:
            errors["geometry"] = _("A route needs at least two different points.")
            return None
        return {"type": "LineString", "coordinates": clean[0]}
    for ring in clean:
        if len(ring) < 4 or ring[0] != ring[-1]:
            errors["geometry"] = _("A polygon's ring is closed (the last point repeats the "
                                   "first) and has at least three corners.")
            return None
    polygon = {"type": "Polygon", "coordinates": clean}
    if not shape(polygon).is_valid:
        errors["geometry"] = _("The polygon crosses itself: draw its corners in order "
                               "around the area.")
        return None
    return polygon


def _number(data: dict[str, Any], key: str, low: float, high: float,
            errors: dict[str, str], *, required: bool = False) -> float | None:
    value = data.get(key)
    if value is None:
        if required:
            errors[key] = _("Required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        errors[key] = _("A number from %(low)s to %(high)s.", low=low, high=high)
        return None
    return float(value)


def _branch(session: Session, user: Any, value: Any, errors: dict[str, str],
            vehicle_ids: Any = None) -> int | None:
    """The explicit branch if the user works there; else the branch of the vehicles it
    watches (when they share one), the user's default branch, or the first branch the user
    may use — an admin drawing a fence on the map picks no branch."""
    if value in (None, ""):
        if isinstance(vehicle_ids, list) and vehicle_ids and all(
                isinstance(i, int) for i in vehicle_ids):
            found = set(session.scalars(visible(select(Vehicle.branch_id).where(
                Vehicle.id.in_(vehicle_ids)), Vehicle, user)))
            if len(found) == 1:
                return int(found.pop())
        branch = default_branch_for(session, user, create=False)
        if branch is None:
            usable = sorted(b.id for b in usable_branches(session, user))
            if not usable:
                errors["branch_id"] = _("Choose a branch.")
                return None
            return usable[0]
        return branch.id
    wanted = record_id(value)
    if wanted is None or wanted not in {b.id for b in usable_branches(session, user)}:
        errors["branch_id"] = _("Choose a branch you work in.")
        return None
    return wanted


def _visible_ids(session: Session, user: Any, model: Any, ids: Any, field: str,
                 errors: dict[str, str]) -> list[int]:
    """``ids`` of ``model`` rows the user may see; any other is an error on ``field``."""
    if ids is None:
        return []
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                            for i in ids):
        errors[field] = _("A list of ids.")
        return []
    wanted = sorted(set(ids))
    found = set(session.scalars(visible(select(model.id).where(model.id.in_(wanted)), model,
                                        user))) if wanted else set()
    missing = [i for i in wanted if i not in found]
    if missing:
        errors[field] = _("Not found: %(ids)s.", ids=", ".join(map(str, missing)))
    return [i for i in wanted if i in found]


def _text(data: dict[str, Any], key: str, limit: int, errors: dict[str, str], *,
          required: bool = False) -> str | None:
    if key not in data:
        if required:
            errors[key] = _("Required.")
        return None
    text = str(data[key] or "").strip()
    if required and not text:
        errors[key] = _("Required.")
    if len(text) > limit:
        errors[key] = _("At most %(count)s characters.", count=limit)
    return text


def _refuse(what: str, errors: dict[str, str]) -> None:
    if errors:
        raise ValidationFailed(_("The %(what)s was not saved: %(fields)s.", what=what,
                                 fields=", ".join(sorted(errors))), errors)


# --- geofences -------------------------------------------------------------------------------


def fence_snapshot(fence: GpsGeofence) -> dict[str, Any]:
    """What the audit log and a version conflict show of a fence."""
    return {"name": fence.name, "kind": fence.kind, "radius_m": fence.radius_m,
            "half_width_m": fence.half_width_m, "schedule": fence.schedule,
            "speed_limit_kmh": fence.speed_limit_kmh, "active": fence.active,
            "branch_id": fence.branch_id}


def fence_assignments(session: Session, fence_ids: list[int]) -> dict[int, dict[str, list[int]]]:
    """``{fence id: {"vehicle_ids": [...], "group_ids": [...]}}`` in two queries."""
    out: dict[int, dict[str, list[int]]] = {i: {"vehicle_ids": [], "group_ids": []}
                                            for i in fence_ids}
    if not fence_ids:
        return out
    for fid, vid in session.execute(select(GpsGeofenceVehicle.geofence_id,
                                           GpsGeofenceVehicle.vehicle_id)
                                    .where(GpsGeofenceVehicle.geofence_id.in_(fence_ids))
                                    .order_by(GpsGeofenceVehicle.vehicle_id)):
        out[fid]["vehicle_ids"].append(vid)
    for fid, gid in session.execute(select(GpsGeofenceGroup.geofence_id,
                                           GpsGeofenceGroup.group_id)
                                    .where(GpsGeofenceGroup.geofence_id.in_(fence_ids))
                                    .order_by(GpsGeofenceGroup.group_id)):
        out[fid]["group_ids"].append(gid)
    return out


def save_geofence(session: Session, user: Any, data: dict[str, Any],
                  fence: GpsGeofence | None = None, *,
                  expected_version: Any = None) -> GpsGeofence:
    """Create (``fence`` None) or replace a fence with every field of ``data``: its shape
    checked for its kind, its schedule, and its vehicles and groups (ones the user may see,
    422 naming the others)."""
    if fence is not None:
        fence = lock(session, GpsGeofence, [fence.id])[fence.id]
        check_version(session, fence, expected_version, entity_type="gps_geofence",
                      current=fence_snapshot(fence))
    errors: dict[str, str] = {}
    unknown = set(data) - set(FENCE_FIELDS)
    errors.update({key: _("Unknown field.") for key in sorted(unknown)})
    name = _text(data, "name", 80, errors, required=True)
    kind = data.get("kind")
    geometry = None
    if kind not in GEOFENCE_KINDS:
        errors["kind"] = _("One of: %(choices)s.", choices=", ".join(GEOFENCE_KINDS))
    else:
        geometry = clean_geometry(kind, data.get("geometry"), errors)
    radius = _number(data, "radius_m", 10, 100_000, errors, required=kind == "circle") \
        if kind == "circle" else None
    half = _number(data, "half_width_m", 5, 10_000, errors, required=kind == "corridor") \
        if kind == "corridor" else None
    schedule = clean_schedule(data.get("schedule"), "schedule", errors)
    speed = _number(data, "speed_limit_kmh", 5, 300, errors)
    notes = _text(data, "notes", 2000, errors) or ""
    active = data.get("active", True)
    if not isinstance(active, bool):
        errors["active"] = _("true or false.")
    branch = (_branch(session, user, data.get("branch_id"), errors, data.get("vehicle_ids"))
              if fence is None or data.get("branch_id") not in (None, fence.branch_id)
              else fence.branch_id)
    vehicles = _visible_ids(session, user, Vehicle, data.get("vehicle_ids"), "vehicle_ids",
                            errors)
    groups = _visible_ids(session, user, GpsGroup, data.get("group_ids"), "group_ids", errors)
    _refuse(_("geofence"), errors)
    creating = fence is None
    before = None if fence is None else fence_snapshot(fence)
    if fence is None:
        fence = GpsGeofence()
        session.add(fence)
    fence.name, fence.kind, fence.geometry = name or "", str(kind), json.dumps(geometry)
    fence.radius_m, fence.half_width_m, fence.schedule = radius, half, schedule
    fence.speed_limit_kmh, fence.active, fence.notes = speed, bool(active), notes
    fence.branch_id = branch
    session.flush()
    session.execute(delete(GpsGeofenceVehicle).where(GpsGeofenceVehicle.geofence_id == fence.id))
    session.execute(delete(GpsGeofenceGroup).where(GpsGeofenceGroup.geofence_id == fence.id))
    session.add_all([GpsGeofenceVehicle(geofence_id=fence.id, vehicle_id=v) for v in vehicles])
    session.add_all([GpsGeofenceGroup(geofence_id=fence.id, group_id=g) for g in groups])
    session.flush()
    after = {**fence_snapshot(fence), "vehicle_ids": vehicles, "group_ids": groups}
    emit(session, signals.geofence_saved, geofence_id=fence.id, branch_id=fence.branch_id,
         created=creating,
         audit=Audit("gps_geofence", fence.id, N_("Geofence %(name)s created") if creating
                     else N_("Geofence %(name)s changed"), before, after,
                     args={"name": fence.name}, branch_id=fence.branch_id,
                     version=fence.version))
    return fence


def delete_geofence(session: Session, user: Any, fence: GpsGeofence, *,
                    expected_version: Any = None) -> None:
    """Remove a fence and its assignments (alarms it raised keep their details)."""
    fence = lock(session, GpsGeofence, [fence.id])[fence.id]
    check_version(session, fence, expected_version, entity_type="gps_geofence",
                  current=fence_snapshot(fence))
    emit(session, signals.geofence_deleted, geofence_id=fence.id, branch_id=fence.branch_id,
         audit=Audit("gps_geofence", fence.id, N_("Geofence %(name)s deleted"),
                     fence_snapshot(fence), None, args={"name": fence.name},
                     branch_id=fence.branch_id))
    session.delete(fence)
    session.flush()


# --- groups ----------------------------------------------------------------------------------


def group_snapshot(group: GpsGroup) -> dict[str, Any]:
    """What the audit log and a version conflict show of a group."""
    return {"name": group.name, **{k: getattr(group, k) for k in GROUP_LIMITS},
            "allowed_hours": group.allowed_hours, "active": group.active,
            "branch_id": group.branch_id}


def group_vehicles(session: Session, group_ids: list[int]) -> dict[int, list[int]]:
    """``{group id: [vehicle ids]}`` in one query."""
    out: dict[int, list[int]] = {i: [] for i in group_ids}
    if group_ids:
        for gid, vid in session.execute(select(GpsGroupVehicle.group_id,
                                               GpsGroupVehicle.vehicle_id)
                                        .where(GpsGroupVehicle.group_id.in_(group_ids))
                                        .order_by(GpsGroupVehicle.vehicle_id)):
            out[gid].append(vid)
    return out


def save_group(session: Session, user: Any, data: dict[str, Any], group: GpsGroup | None = None,
               *, expected_version: Any = None) -> GpsGroup:
    """Create (``group`` None) or replace a group: its name, limits (empty: the rule is
    off), allowed ignition hours and vehicles (ones the user may see)."""
    if group is not None:
        group = lock(session, GpsGroup, [group.id])[group.id]
        check_version(session, group, expected_version, entity_type="gps_group",
                      current=group_snapshot(group))
    errors: dict[str, str] = {}
    errors.update({key: _("Unknown field.") for key in sorted(set(data) - set(GROUP_FIELDS))})
    name = _text(data, "name", 80, errors, required=True)
    limits = {key: _number(data, key, low, high, errors)
              for key, (low, high) in GROUP_LIMITS.items()}
    hours = clean_schedule(data.get("allowed_hours"), "allowed_hours", errors)
    notes = _text(data, "notes", 2000, errors) or ""
    active = data.get("active", True)
    if not isinstance(active, bool):
        errors["active"] = _("true or false.")
    branch = (_branch(session, user, data.get("branch_id"), errors, data.get("vehicle_ids"))
              if group is None or data.get("branch_id") not in (None, group.branch_id)
              else group.branch_id)
    vehicles = _visible_ids(session, user, Vehicle, data.get("vehicle_ids"), "vehicle_ids",
                            errors)
    _refuse(_("group"), errors)
    creating = group is None
    before = None if group is None else group_snapshot(group)
    if group is None:
        group = GpsGroup()
        session.add(group)
    group.name, group.allowed_hours, group.notes, group.active = (
        name or "", hours, notes, bool(active))
    for key, value in limits.items():
        if key in ("overspeed_min_seconds", "fatigue_break_minutes"):
            setattr(group, key, int(value) if value is not None else
                    (10 if key == "overspeed_min_seconds" else 20))
        elif key in ("idle_minutes", "offline_minutes"):
            setattr(group, key, int(value) if value is not None else None)
        else:
            setattr(group, key, value)
    group.branch_id = branch
    session.flush()
    session.execute(delete(GpsGroupVehicle).where(GpsGroupVehicle.group_id == group.id))
    session.add_all([GpsGroupVehicle(group_id=group.id, vehicle_id=v) for v in vehicles])
    session.flush()
    emit(session, signals.group_saved, group_id=group.id, branch_id=group.branch_id,
         created=creating,
         audit=Audit("gps_group", group.id, N_("Group %(name)s created") if creating
                     else N_("Group %(name)s changed"), before,
                     {**group_snapshot(group), "vehicle_ids": vehicles},
                     args={"name": group.name}, branch_id=group.branch_id,
                     version=group.version))
    return group


def delete_group(session: Session, user: Any, group: GpsGroup, *,
                 expected_version: Any = None) -> None:
    """Remove a group (its vehicles and fences stay; the group's limits no longer apply)."""
    group = lock(session, GpsGroup, [group.id])[group.id]
    check_version(session, group, expected_version, entity_type="gps_group",
                  current=group_snapshot(group))
    emit(session, signals.group_deleted, group_id=group.id, branch_id=group.branch_id,
         audit=Audit("gps_group", group.id, N_("Group %(name)s deleted"),
                     group_snapshot(group), None, args={"name": group.name},
                     branch_id=group.branch_id))
    session.delete(group)
    session.flush()
