"""The public way for plugin code to write on a customer's timeline.

A plugin records its business events (a repair order closed, a car washed) here rather than
adding ``TimelineEntry`` rows itself, so every entry obeys the same rules: its kind is one a
switched-on plugin registered through ``timeline_kinds``, the customer is one the acting user
may see (404 otherwise, as on every page), texts are clean, and ``timeline_entry_added`` is
sent after the caller's commit. Like every service it flushes but never commits: the caller
commits once, with its own changes.

    from carebiz.crm.timeline import add_entry

    add_entry(session, party_id=order.customer_id, kind="wash.ticket.done",
              subject=_("Car washed"), ref_type="wash_ticket", ref_id=ticket.id, user=user)
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.crm.models import Party, TimelineEntry, Vehicle
from carebiz.crm.services import timeline as service
from carebiz.crm.services.common import host_of
from carebiz.errors import NotFound, ValidationFailed
from carebiz.security.rows import visible

if TYPE_CHECKING:
    from carebiz.models import User

__all__ = ["add_entry", "known_kinds"]

known_kinds = service.known_kinds


def add_entry(session: Session, *, party_id: int, kind: str, subject: str,
              user: User | None, body: str = "", ref_type: str | None = None,
              ref_id: Any = None, at: dt.datetime | None = None,
              vehicle_id: int | None = None, due_at: dt.datetime | None = None
              ) -> TimelineEntry:
    """Write an entry on the timeline of customer ``party_id`` and return it (flushed, not
    committed).

    ``kind`` must be registered by a switched-on plugin's ``timeline_kinds`` hook (else 422
    on ``kind``); ``subject`` is the one-line summary (at most 200 characters) and ``body``
    longer text. ``ref_type``/``ref_id`` name the plugin record it is about: with a
    ``RecordPage`` of that entity type the timeline links to it ("Wash ticket 12"). ``at`` is
    when it happened (timezone-aware; default: now); ``vehicle_id`` the vehicle it concerns
    (the customer's own); ``due_at`` is for follow-up kinds (``task``, ``return_visit``),
    which need it.

    ``user`` is who acts: the customer and the vehicle must be rows that user may see, or
    the answer is 404 (a customer of another branch is not found, never written to). Pass
    ``user=None`` only for writes of the system itself (a scheduled job, a receiver with no
    acting user): no row filter applies then.
    """
    too_long = {name: _("At most %(max)s characters.", max=limit)
                for name, value, limit in (("ref_type", ref_type, 60), ("ref_id", ref_id, 64))
                if value is not None and len(str(value)) > limit}
    if too_long:
        raise ValidationFailed(_("The timeline entry is not valid: %(fields)s",
                                 fields=", ".join(sorted(too_long))), too_long)
    party = session.scalar(_visible(select(Party).where(Party.id == party_id), Party, user,
                                    session))
    if party is None:
        raise NotFound(_("No customer with id %(id)s.", id=party_id))
    vehicle = None
    if vehicle_id is not None:
        vehicle = session.scalar(_visible(select(Vehicle).where(Vehicle.id == vehicle_id),
                                          Vehicle, user, session))
        if vehicle is None:
            message = _("No vehicle with id %(id)s.", id=vehicle_id)
            raise ValidationFailed(message, {"vehicle_id": message})
    return service.add_entry(session, party, kind, subject=subject, body=body,
                             occurred_at=at, vehicle=vehicle, due_at=due_at,
                             ref_type=ref_type, ref_id=ref_id, user=user)


def _visible(stmt: Any, model: type, user: User | None, session: Session) -> Any:
    return stmt if user is None else visible(stmt, model, user, host_of(session))
