"""Remote commands: cut-off, restore, custom text — queued, sent at connect, reply recorded.

WHY the dialect follows the device's ``password`` field: newer GT06 firmware takes
``Relay,1#`` / ``Relay,0#``; older units only obey ``DYD,<password>#`` / ``HFYD,<password>#``
and are exactly the ones an installer records a password for. So: a device with a password
set gets the password dialect, others the Relay dialect — one field, no model table to keep.

Ingest (``ingest/store.py``) calls :func:`queued_for`, :func:`mark_sent` and
:func:`record_reply`. People ask through :func:`request_command` (permission
``gps.commands``, the plate or IMEI typed again as confirmation, audited) and may take back
one still waiting with :func:`cancel_command`.

WHY the confirmation repeats the plate: cutting off a moving car's fuel is dangerous, and a
dispatcher with several device pages open must prove which car they mean — a second click
proves nothing, typing the plate does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version, lock
from carebiz.crm.models import Vehicle
from carebiz.errors import Conflict, Forbidden, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.security import can
from carebiz.toolkit.transitions import machine
from carebiz_plugins.gps import signals
from carebiz_plugins.gps.models import GpsCommand, GpsDevice

KINDS = ("cut_off", "restore", "custom")


def command_text(device: GpsDevice, kind: str, custom: str = "") -> str:
    """The text a device obeys for ``kind`` (``custom`` passes ``custom`` through)."""
    if kind == "custom":
        if not custom.strip():
            raise ValueError("A custom command needs its text.")
        return custom.strip()
    if kind not in KINDS:
        raise ValueError(f"Unknown command kind {kind!r}.")
    if device.password:
        return f"{'DYD' if kind == 'cut_off' else 'HFYD'},{device.password}#"
    return "Relay,1#" if kind == "cut_off" else "Relay,0#"


def queued_for(session: Session, device_id: int) -> list[GpsCommand]:
    """Commands waiting for the device, oldest first (sent when it connects)."""
    return list(session.scalars(
        select(GpsCommand).where(GpsCommand.device_id == device_id,
                                 GpsCommand.status == "queued").order_by(GpsCommand.id)))


def mark_sent(session: Session, command_id: int) -> None:
    """queued → sent (the server wrote it to the socket); other states are left alone."""
    cmd = session.get(GpsCommand, command_id)
    if cmd is not None and cmd.status == "queued":
        cmd.status = "sent"
        cmd.sent_at = dt.datetime.now(dt.UTC)


def record_reply(session: Session, device_id: int, text: str) -> GpsCommand | None:
    """The device answered: the oldest ``sent`` command of it becomes ``replied``."""
    cmd = session.scalars(
        select(GpsCommand).where(GpsCommand.device_id == device_id,
                                 GpsCommand.status == "sent").order_by(GpsCommand.id)
        .limit(1)).first()
    if cmd is not None:
        cmd.status = "replied"
        cmd.reply = text
        cmd.replied_at = dt.datetime.now(dt.UTC)
    return cmd


COMMAND_FLOW = machine("command", {"cancel": ({"queued"}, "cancelled")}, labels={
    "queued": _l("Queued"), "sent": _l("Sent"), "replied": _l("Replied"),
    "failed": _l("Failed"), "cancelled": _l("Cancelled"), "cancel": _l("Cancel")})
PERMISSION = "gps.commands"


def _norm(text: Any) -> str:
    return "".join(str(text or "").split()).upper()


def confirmation_matches(device: GpsDevice, plate: str | None, typed: Any) -> bool:
    """Whether ``typed`` repeats the vehicle's plate or the device's IMEI (spaces and case
    do not matter)."""
    wanted = {_norm(device.imei)} | ({_norm(plate)} if plate else set())
    return bool(_norm(typed)) and _norm(typed) in wanted


def request_command(session: Session, user: Any, device: GpsDevice, kind: str, *,
                    confirm: Any, text: str = "") -> GpsCommand:
    """Queue ``kind`` (``cut_off``, ``restore`` or ``custom`` with ``text``) for ``device``:
    only for holders of ``gps.commands`` (403), only when ``confirm`` repeats the plate or
    the IMEI (422), only for an active device (409). It is sent when the device is next
    online (at once if it is connected)."""
    if user is not None and not can(user, PERMISSION):
        raise Forbidden(_("Only people allowed to send remote commands may do this."))
    if kind not in KINDS:
        raise ValidationFailed(_("The command was not queued: kind."),
                               {"kind": _("One of: %(choices)s.", choices=", ".join(KINDS))})
    device = lock(session, GpsDevice, [device.id])[device.id]
    if device.status != "active":
        raise Conflict(_("This device is %(status)s: commands go to active devices only.",
                         status=device.status), {"device": _("Not active.")},
                       {"current_status": device.status})
    vehicle = session.get(Vehicle, device.vehicle_id) if device.vehicle_id else None
    plate = vehicle.plate if vehicle is not None else None
    if not confirmation_matches(device, plate, confirm):
        raise ValidationFailed(_("The command was not queued: type the plate %(plate)s (or "
                                 "the IMEI) to confirm.", plate=plate or device.imei),
                               {"confirm": _("Does not match the plate or the IMEI.")})
    try:
        wire = command_text(device, kind, text)
    except ValueError:
        raise ValidationFailed(_("The command was not queued: text."),
                               {"text": _("A custom command needs its text.")}) from None
    if len(wire) > 200:
        raise ValidationFailed(_("The command was not queued: text."),
                               {"text": _("At most %(count)s characters.", count=200)})
    command = GpsCommand(device_id=device.id, branch_id=device.branch_id, kind=kind,
                         text=wire, status="queued", requested_by=getattr(user, "id", None),
                         requested_at=dt.datetime.now(dt.UTC))
    session.add(command)
    session.flush()
    emit(session, signals.command_queued, command_id=command.id, device_id=device.id,
         kind=kind, requested_by=command.requested_by,
         audit=Audit("gps_command", command.id, N_("Command %(kind)s queued for %(imei)s"),
                     None, {"device_id": device.id, "kind": kind, "status": "queued"},
                     args={"kind": kind, "imei": device.imei}, branch_id=command.branch_id,
                     version=command.version))
    return command


def cancel_command(session: Session, user: Any, command: GpsCommand, *,
                   expected_version: Any = None) -> GpsCommand:
    """Take back a command still waiting for its device (409 once it went out)."""
    if user is not None and not can(user, PERMISSION):
        raise Forbidden(_("Only people allowed to send remote commands may do this."))
    command = lock(session, GpsCommand, [command.id])[command.id]
    command.status = COMMAND_FLOW.target(command.status, "cancel")
    check_version(session, command, expected_version, entity_type="gps_command")
    session.flush()
    return command
