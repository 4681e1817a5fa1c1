"""The customer 360° view: everything about one customer in a fixed number of queries,
whatever the number of vehicles or timeline entries (no N+1)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload

from carebiz.crm.models import (
    ORGANIZATION,
    ContactLink,
    Party,
    PartyValue,
    TimelineEntry,
    Vehicle,
    VehicleOwnership,
)
from carebiz.crm.services.common import host_of
from carebiz.crm.services.timeline import OPEN, entries_for
from carebiz.security.rows import visible

VISIT_KINDS = ("visit", "call", "message", "return_visit")


def overview(session: Session, party: Party, user: Any, *, timeline_limit: int = 20,
             kinds: list[str] | None = None,
             open_entries: list[TimelineEntry] | None = None) -> dict[str, Any]:
    """Header facts, vehicles (current and former, with periods), contacts, the latest
    timeline entries and every switched-on plugin's panel. A caller that has read *all*
    the customer's open entries the user may see (the 360° page lists them) passes them as
    ``open_entries``, and they are counted instead of counted again in SQL."""
    vehicles = session.scalars(visible(
        select(Vehicle).where(Vehicle.owner_id == party.id).order_by(Vehicle.id)
        .options(lazyload(Vehicle.owner)),  # the owner is ``party``, in the identity map
        Vehicle, user)).all()
    former = session.execute(visible(
        select(VehicleOwnership, Vehicle).join(Vehicle, Vehicle.id == VehicleOwnership.vehicle_id)
        .where(VehicleOwnership.party_id == party.id, VehicleOwnership.until.is_not(None))
        .order_by(VehicleOwnership.until.desc())
        # nobody reads their owners here: do not load them (and their phones, roles …)
        .options(lazyload(VehicleOwnership.party), lazyload(Vehicle.owner)),
        Vehicle, user)).all()
    timeline = session.scalars(visible(entries_for(party.id, kinds=kinds), TimelineEntry,
                                       user).limit(timeline_limit)).all()
    # two small queries rather than one aggregate over the whole history: the open items come
    # from a partial index, the last contact from the newest end of (party_id, occurred_at)
    open_items = len(open_entries) if open_entries is not None else session.scalar(visible(
        select(func.count(TimelineEntry.id))
        .where(TimelineEntry.party_id == party.id, TimelineEntry.status == OPEN),
        TimelineEntry, user))
    last_contact = session.scalar(visible(
        select(TimelineEntry.occurred_at)
        .where(TimelineEntry.party_id == party.id, TimelineEntry.kind.in_(VISIT_KINDS),
               TimelineEntry.status != OPEN)
        .order_by(TimelineEntry.occurred_at.desc()).limit(1), TimelineEntry, user))
    value = session.get(PartyValue, party.id)
    if party.kind == ORGANIZATION:
        contacts = session.execute(visible(
            select(ContactLink, Party).join(Party, Party.id == ContactLink.person_id)
            .where(ContactLink.organization_id == party.id)
            .order_by(ContactLink.is_primary.desc(), Party.name), Party, user)).all()
    else:
        contacts = session.execute(visible(
            select(ContactLink, Party).join(Party, Party.id == ContactLink.organization_id)
            .where(ContactLink.person_id == party.id).order_by(Party.name), Party, user)).all()
    panels = host_of(session).collect("customer_panels", session=session, customer=party,
                                     user=user)
    return {
        "party": party,
        "value": value,
        "vehicles": list(vehicles),
        "former_vehicles": [{"ownership": o, "vehicle": v} for o, v in former],
        "contacts": [{"link": link, "party": p} for link, p in contacts],
        "timeline": list(timeline),
        "open_items": open_items or 0,
        "last_contact": last_contact,
        "panels": panels,
    }
