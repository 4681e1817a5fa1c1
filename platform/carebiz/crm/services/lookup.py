"""One search box and the call-centre screen-pop: find a customer by name, phone (any
format), plate, VIN, e-mail, ID number, or an identifier a plugin knows, ranked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from carebiz.crm import validation as v
from carebiz.crm.models import Party, PartyEmail, PartyPhone, Vehicle
from carebiz.crm.services.common import host_of, setting
from carebiz.crm.services.parties import name_key, search_names
from carebiz.security.rows import visible

EXACT_PHONE, EXACT_VIN, EXACT_PLATE, EXACT_ID, EXACT_EMAIL = 100, 95, 90, 90, 90
EXACT_NAME, NAME_PREFIX = 70, 50


@dataclass
class Hit:
    party: Party
    score: int
    reasons: list[str] = field(default_factory=list)


def lookup(session: Session, user: Any, query: str, limit: int = 20) -> list[Hit]:
    """Ranked parties the user may see. Each kind of identifier is one indexed equality, so
    the cost does not grow with the number of customers."""
    query = (query or "").strip()
    if not query:
        return []
    found: dict[int, tuple[int, list[str]]] = {}

    def add(party_ids: Any, score: int, reason: str) -> None:
        for pid in party_ids:
            if pid is None:
                continue
            best, reasons = found.get(pid, (0, []))
            found[pid] = (max(best, score), reasons + [reason])

    phone = v.phone_search_key(query, setting(session, "crm.phone_region"))
    if phone:
        add(session.scalars(select(PartyPhone.party_id).where(PartyPhone.e164 == phone)),
            EXACT_PHONE, "phone")
    vin = v.vin_search_key(query)
    if vin and len(vin) == 17:
        add(session.scalars(select(Vehicle.owner_id).where(Vehicle.vin == vin)),
            EXACT_VIN, "vin")
    plate = v.plate_search_key(query)
    if plate and 5 <= len(plate) <= 10:
        add(session.scalars(select(Vehicle.owner_id).where(Vehicle.plate == plate)),
            EXACT_PLATE, "plate")
    if "@" in query:
        add(session.scalars(select(PartyEmail.party_id)
                            .where(PartyEmail.email == query.lower())), EXACT_EMAIL, "email")
    if len(query) >= 6 and query.replace("-", "").isalnum():
        add(session.scalars(select(Party.id).where(Party.id_number == query.upper())),
            EXACT_ID, "id_number")
    for hit in host_of(session).collect("customer_lookup", session=session, query=query,
                                        user=user):
        add([hit.party_id], hit.score, hit.reason)
    key = name_key(query)
    if key:
        # candidates are filtered (branch, active) and limited in SQL, so a branch-limited
        # user still gets a full page, and no more rows than needed are read
        mine = select(Party.id).where(Party.active.is_(True))
        add(session.scalars(visible(mine.where(Party.name_key == key), Party, user)
                            .limit(limit)), EXACT_NAME, "name")
        add(session.scalars(visible(search_names(mine, session, query), Party, user)
                            .limit(limit)), NAME_PREFIX, "name")
    if not found:
        return []
    # rank on light rows, then load whole records (with their phones …) for the page only
    rows = session.execute(visible(select(Party.id, Party.name_key).where(
        Party.id.in_(list(found)), Party.active.is_(True)), Party, user)).all()
    ids = [r.id for r in sorted(rows, key=lambda r: (-found[r.id][0], r.name_key, r.id))][:limit]
    parties = {p.id: p for p in session.scalars(select(Party).where(Party.id.in_(ids)))}
    return [Hit(parties[i], found[i][0], sorted(set(found[i][1]))) for i in ids]


def by_phone(session: Session, user: Any, raw: str) -> list[Party]:
    """Visible active parties with this phone number (screen-pop); [] if not a number."""
    phone = v.phone_search_key(raw, setting(session, "crm.phone_region"))
    if not phone:
        return []
    stmt = (select(Party).join(PartyPhone).where(PartyPhone.e164 == phone,
                                                 Party.active.is_(True))
            .order_by(Party.id))
    return list(session.scalars(visible(stmt, Party, user)).unique())


def count_customers(session: Session, user: Any) -> int:
    return session.scalar(visible(select(func.count(Party.id)).where(Party.active.is_(True)),
                                  Party, user)) or 0


# --- finding vehicles by VIN, plate or model ------------------------------------------------


def vehicle_filter(query: str) -> Any:
    """A WHERE clause for vehicles matching a typed query: the end of a VIN (people read out
    the last 6 or 8 characters), part of a plate in any spelling (粤B·12345), or part of the
    make or model. None for an empty query."""
    query = (query or "").strip()
    if not query:
        return None
    clauses = [Vehicle.make.icontains(query, autoescape=True),
               Vehicle.model.icontains(query, autoescape=True)]
    vin = v.vin_search_key(query)
    if len(vin) == 17:
        clauses.append(Vehicle.vin == vin)
    elif len(vin) >= 4:
        clauses.append(Vehicle.vin.endswith(vin, autoescape=True))
    plate = v.plate_search_key(query)
    if len(plate) >= 2:
        clauses.append(Vehicle.plate.contains(plate, autoescape=True))
    return or_(*clauses)


def find_vehicles(session: Session, user: Any, query: str, limit: int = 20) -> list[Vehicle]:
    """Vehicles the user may see whose VIN or plate is the query (or whose VIN ends with it),
    for the search page: a plate or VIN leads to the car even when it has no owner."""
    vin = v.vin_search_key(query)
    plate = v.plate_search_key(query)
    if len(vin) < 6 and len(plate) < 5:
        return []
    clauses = []
    if len(vin) == 17:
        clauses.append(Vehicle.vin == vin)
    elif len(vin) >= 6:
        clauses.append(Vehicle.vin.endswith(vin, autoescape=True))
    if 5 <= len(plate) <= 10:
        clauses.append(Vehicle.plate == plate)
    stmt = select(Vehicle).where(or_(*clauses)).order_by(Vehicle.vin).limit(limit)
    return list(session.scalars(visible(stmt, Vehicle, user)))


# --- call-centre screen-pop (added for the JSON API) ----------------------------------------


def screen_pop(session: Session, user: Any, raw: str) -> list[dict[str, Any]]:
    """What a call-centre agent sees when ``raw`` calls: each visible customer with that
    number, their open follow-ups, current vehicles and every switched-on plugin's panels.
    Open items and vehicles come in one query each, whatever the number of customers."""
    from carebiz.crm.models import TimelineEntry
    from carebiz.crm.services.timeline import OPEN

    parties = by_phone(session, user, raw)
    if not parties:
        return []
    ids = [p.id for p in parties]
    open_items = dict(session.execute(visible(
        select(TimelineEntry.party_id, func.count(TimelineEntry.id))
        .where(TimelineEntry.party_id.in_(ids), TimelineEntry.status == OPEN)
        .group_by(TimelineEntry.party_id), TimelineEntry, user)).all())
    vehicles = session.scalars(visible(
        select(Vehicle).where(Vehicle.owner_id.in_(ids)).order_by(Vehicle.id),
        Vehicle, user)).all()
    host = host_of(session)
    return [{"party": party,
             "panels": host.collect("customer_panels", session=session, customer=party,
                                    user=user),
             "open_items": open_items.get(party.id, 0),
             "vehicles": [v for v in vehicles if v.owner_id == party.id]}
            for party in parties]
