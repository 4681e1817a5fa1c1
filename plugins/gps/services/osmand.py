"""The database side of the OsmAnd HTTP ingest: who is sending, and storing what it sent.

WHY its own module: the HTTP path (a phone app, a Traccar Client, any device speaking the
OsmAnd protocol) and the GT06 TCP path share how fixes are stored
(``ingest.pipeline.store_batch``: one idempotent batch insert, then the alarm rules) but not
how a device is identified: an OsmAnd client names itself in every request, there is no
login frame. An unknown identifier is recorded as a pending device exactly like an unknown
GT06 login, marked ``protocol = "osmand"`` so the admin assigning it knows it is a phone or
an HTTP device and not a tracker with a SIM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..fixes import Fix
from ..models import GpsDevice
from . import positions as pos

if TYPE_CHECKING:
    from ..ingest.pipeline import BatchResult

PROTOCOL = "osmand"


@dataclass(frozen=True, slots=True)
class Stored:
    """What became of one report: ``device_id`` None when the identifier is not an active
    device (then recorded as pending); ``new`` False when the fix was stored before (a client
    resending after a lost answer)."""

    device_id: int | None
    new: bool = False
    #: what to publish on the live bus after the commit (the position, any alarm raised)
    result: BatchResult | None = None


def identify(session: Session, ident: str, peer: str) -> tuple[int, int] | None:
    """``(device id, tz offset)`` of the active device with this identifier; otherwise the
    identifier is recorded (or counted again) as a pending OsmAnd device and None comes back.
    The caller commits."""
    known = pos.known_device(session, ident)
    if known is not None:
        session.execute(update(GpsDevice).where(
            GpsDevice.id == known[0], GpsDevice.protocol != PROTOCOL).values(protocol=PROTOCOL))
        return known
    pos.record_pending(session, ident, peer, protocol=PROTOCOL)
    session.execute(update(GpsDevice).where(
        GpsDevice.imei == ident, GpsDevice.status == "pending").values(protocol=PROTOCOL))
    return None


def store_report(session: Session, fix: Fix, peer: str) -> Stored:
    """Store one OsmAnd report through the same batch path as the TCP server
    (``ingest.pipeline.store_batch``: positions, then the alarm rules). The caller commits,
    then publishes ``result``."""
    from ..ingest.pipeline import store_batch

    known = identify(session, fix.device, peer)
    if known is None:
        return Stored(None)
    result = store_batch(session, {fix.device: known[0]}, [fix])
    return Stored(known[0], result.inserted > 0, result)
