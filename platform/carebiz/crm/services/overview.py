"""The customer 360° view: everything about one customer in a fixed number of queries,
whatever the number of vehicles or timeline entries (no N+1)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select
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
from carebiz.crm.services.timeline import OPEN
from carebiz.security.rows import prepared

VISIT_KINDS = ("visit", "call", "message", "return_visit")
#: the customer of every overview statement, bound on each call
PARTY = bindparam("party_id")


def _vehicles() -> Select[Any]:
    return (select(Vehicle).where(Vehicle.owner_id == PARTY).order_by(Vehicle.id)
            .options(lazyload(Vehicle.owner)))  # the owner is ``party``, in the identity map


def _former() -> Select[Any]:
    return (select(VehicleOwnership, Vehicle)
            .join(Vehicle, Vehicle.id == VehicleOwnership.vehicle_id)
            .where(VehicleOwnership.party_id == PARTY, VehicleOwnership.until.is_not(None))
            .order_by(VehicleOwnership.until.desc())
            # nobody reads their owners here: do not load them (and their phones, roles …)
            .options(lazyload(VehicleOwnership.party), lazyload(Vehicle.owner)))


def _timeline(limit: int, by_kind: bool) -> Callable[[], Select[Any]]:
    def build() -> Select[Any]:
        stmt = select(TimelineEntry).where(TimelineEntry.party_id == PARTY)
        if by_kind:
            stmt = stmt.where(TimelineEntry.kind.in_(bindparam("kinds", expanding=True)))
        return stmt.order_by(TimelineEntry.occurred_at.desc(),
                             TimelineEntry.id.desc()).limit(limit)
    return build


def _open_count() -> Select[Any]:
    return select(func.count(TimelineEntry.id)).where(TimelineEntry.party_id == PARTY,
                                                      TimelineEntry.status == OPEN)


def _last_contact() -> Select[Any]:
    return (select(TimelineEntry.occurred_at)
            .where(TimelineEntry.party_id == PARTY, TimelineEntry.kind.in_(VISIT_KINDS),
                   TimelineEntry.status != OPEN)
            .order_by(TimelineEntry.occurred_at.desc()).limit(1))


def _last_contact_in(timeline: Any) -> Any:
    """The last contact read from the newest entries (all kinds, newest first, under the
    same row filters as :func:`_last_contact`): the first contact among them is the newest
    of all, since every entry left out is older. None when they hold none."""
    for entry in timeline:
        if entry.kind in VISIT_KINDS and entry.status != OPEN:
            return entry.occurred_at
    return None


@cache
def _value() -> Select[Any]:
    """The customer's value row (no row filter: it is the customer's own), built once:
    ``session.get`` builds its statement again on every call."""
    return select(PartyValue).where(PartyValue.party_id == PARTY)


def _contacts_of_organization() -> Select[Any]:
    return (select(ContactLink, Party).join(Party, Party.id == ContactLink.person_id)
            .where(ContactLink.organization_id == PARTY)
            .order_by(ContactLink.is_primary.desc(), Party.name))


def _organizations_of_person() -> Select[Any]:
    return (select(ContactLink, Party).join(Party, Party.id == ContactLink.organization_id)
            .where(ContactLink.person_id == PARTY).order_by(Party.name))


def overview(session: Session, party: Party, user: Any, *, timeline_limit: int = 20,
             kinds: list[str] | None = None,
             open_entries: list[TimelineEntry] | None = None) -> dict[str, Any]:
    """Header facts, vehicles (current and former, with periods), contacts, the latest
    timeline entries and every switched-on plugin's panel. A caller that has read *all*
    the customer's open entries the user may see (the 360° page lists them) passes them as
    ``open_entries``, and they are counted instead of counted again in SQL.

    The statements are built once per process and shape of the user's row filters
    (:func:`carebiz.security.rows.prepared`); the customer is their bound ``party_id``."""
    host = host_of(session)
    params = {"party_id": party.id}
    vehicles = session.scalars(prepared("overview.vehicles", _vehicles, Vehicle, user, host),
                               params).all()
    former = session.execute(prepared("overview.former", _former, Vehicle, user, host),
                             params).all()
    timeline = session.scalars(
        prepared(("overview.timeline", timeline_limit, bool(kinds)),
                 _timeline(timeline_limit, bool(kinds)), TimelineEntry, user, host),
        {**params, "kinds": list(kinds)} if kinds else params).all()
    # two small queries rather than one aggregate over the whole history: the open items come
    # from a partial index, the last contact from the newest end of (party_id, occurred_at)
    open_items = len(open_entries) if open_entries is not None else session.scalar(
        prepared("overview.open", _open_count, TimelineEntry, user, host), params)
    # the newest entries of all kinds tell the last contact when they hold one, or when they
    # are the whole timeline; otherwise (or with a kind filter) ask
    last_contact = None if kinds else _last_contact_in(timeline)
    if last_contact is None and (kinds or len(timeline) >= timeline_limit):
        last_contact = session.scalar(
            prepared("overview.last_contact", _last_contact, TimelineEntry, user, host), params)
    value = session.scalar(_value(), params)
    if party.kind == ORGANIZATION:
        contacts = session.execute(prepared("overview.contacts", _contacts_of_organization,
                                            Party, user, host), params).all()
    else:
        contacts = session.execute(prepared("overview.organizations", _organizations_of_person,
                                            Party, user, host), params).all()
    panels = host.collect("customer_panels", session=session, customer=party, user=user)
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
