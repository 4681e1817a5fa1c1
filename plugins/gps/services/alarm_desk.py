"""The alarm desk: a person acknowledges an alarm with a note.

Raising alarms at ingest is :mod:`.alarms` (the rules' side); this module is the people's
side, kept apart so the two can change without touching each other. Acknowledging is a
transition (``open`` → ``acknowledged``) re-checked under a row lock: two dispatchers
clicking at once cannot both acknowledge, and the second learns who did (409 with the
alarm's status).
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, update
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version, lock
from carebiz.db import utcnow
from carebiz.errors import ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.toolkit.transitions import machine

from .. import signals
from ..models import GpsAlarm, GpsDeviceState

ALARM_FLOW = machine("alarm", {"acknowledge": ({"open"}, "acknowledged")}, labels={
    "open": _l("Open"), "acknowledged": _l("Acknowledged"), "acknowledge": _l("Acknowledge")})
NOTE_LIMIT = 2000


def snapshot(alarm: GpsAlarm) -> dict[str, Any]:
    """What the audit log and a version conflict show of an alarm."""
    return {"status": alarm.status, "note": alarm.note, "acknowledged_by": alarm.acknowledged_by,
            "acknowledged_at": alarm.acknowledged_at.isoformat() if alarm.acknowledged_at
            else None}


def acknowledge(session: Session, user: Any, alarm: GpsAlarm, note: str = "", *,
                expected_version: Any = None) -> GpsAlarm:
    """Acknowledge ``alarm`` with ``note`` as ``user``, now. An alarm already acknowledged is
    a 409 whose ``status`` says so (``acknowledged``); a stale ``expected_version`` a 409
    naming what changed. The device's live count of open alarms goes down with it."""
    text = (note or "").strip()
    if len(text) > NOTE_LIMIT:
        raise ValidationFailed(_("The alarm was not acknowledged: note."),
                               {"note": _("At most %(count)s characters.", count=NOTE_LIMIT)})
    alarm = lock(session, GpsAlarm, [alarm.id])[alarm.id]
    ALARM_FLOW.target(alarm.status, "acknowledge")
    check_version(session, alarm, expected_version, entity_type="gps_alarm",
                  current=snapshot(alarm))
    before = snapshot(alarm)
    alarm.status = "acknowledged"
    alarm.note = text
    alarm.acknowledged_by = getattr(user, "id", None)
    alarm.acknowledged_at = utcnow()
    state = GpsDeviceState.__table__.c
    session.execute(update(GpsDeviceState).where(GpsDeviceState.device_id == alarm.device_id)
                    .values(alarm_open=case((state.alarm_open > 0, state.alarm_open - 1),
                                            else_=0)))
    session.flush()
    emit(session, signals.alarm_acknowledged, alarm_id=alarm.id, device_id=alarm.device_id,
         user_id=getattr(user, "id", None), note=text,
         audit=Audit("gps_alarm", alarm.id, N_("Alarm %(id)s acknowledged"), before,
                     snapshot(alarm), args={"id": alarm.id}, branch_id=alarm.branch_id,
                     version=alarm.version))
    return alarm
