"""Remote commands: cut-off, restore, custom text — queued, sent at connect, reply recorded.

WHY the dialect follows the device's ``password`` field: newer GT06 firmware takes
``Relay,1#`` / ``Relay,0#``; older units only obey ``DYD,<password>#`` / ``HFYD,<password>#``
and are exactly the ones an installer records a password for. So: a device with a password
set gets the password dialect, others the Relay dialect — one field, no model table to keep.

Ingest (``ingest/store.py``) calls :func:`queued_for`, :func:`mark_sent` and
:func:`record_reply`. Requesting and cancelling (permission ``gps.commands``, audit) are the
API's job through :func:`request` / :func:`cancel` — NOT DONE yet (deadline).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

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
