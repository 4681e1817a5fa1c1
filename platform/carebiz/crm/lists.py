"""The customers and vehicles lists, declared once: ``/customers``, ``GET /api/v1/customers``
and ``/export/crm.customers?format=…`` (and the same for vehicles) all read these
definitions, so they list the same rows for the same arguments.

The page's older argument spellings (``branch``, ``fuel``, ``sort=created``) are aliases of
the API's names, so bookmarked page links keep working."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, case, false, literal, or_, select, union_all
from sqlalchemy.orm import Session

from carebiz.crm import validation as v
from carebiz.crm.models import (
    FUEL_TYPES,
    KINDS,
    ROLES,
    Party,
    PartyPhone,
    PartyRole,
    PartyTag,
    PartyValue,
    Vehicle,
)
from carebiz.crm.services import lookup as lookup_service
from carebiz.crm.services.value import SEGMENTS
from carebiz.export.table import MONEY, NUMBER, Column
from carebiz.lists import (
    BOOL,
    CHOICE,
    ID,
    PREFIXED,
    TEXT,
    ExportSpec,
    Filter,
    ListDefinition,
    Search,
    Searched,
)
from carebiz.models import Branch
from carebiz.security.permissions import can
from carebiz.security.rows import visible

#: most customers a search in the list considers (ranked by the lookup service)
LOOKUP_LIMIT = 500
SEGMENT_PERMISSION = "crm.segments.view"


def _branch_codes(session: Session) -> dict[int, str]:
    return {b.id: b.code for b in session.scalars(select(Branch))}


# -- customers ---------------------------------------------------------------------------------


def _having(stmt: Select[Any], party_id: Any, condition: Any) -> Select[Any]:
    """Customers with a related row (a role, a tag, a value segment) matching ``condition``."""
    return stmt.where(Party.id.in_(select(party_id).where(condition)))


def _search_customers(session: Session, user: Any, stmt: Select[Any], q: str) -> Searched:
    """Any identifier (phone in any format or its tail, plate with or without its province,
    VIN or its end, e-mail, ID number), any part of a name or its pinyin initials. The lookup
    service's hits come first, best first; the name prefix also finds
    what the lookup leaves out (beyond its limit, or merged records when they are listed)."""
    from carebiz.crm.services.parties import name_key, name_prefix

    hits = lookup_service.lookup(session, user, q, limit=LOOKUP_LIMIT)
    by_name = (name_prefix(q, session.get_bind().dialect.name) if name_key(q)
               else false())
    if not hits:
        return Searched(stmt.where(by_name))
    reasons = {h.party.id: h.reasons for h in hits}
    rank = case({h.party.id: i for i, h in enumerate(hits)}, value=Party.id,
                else_=len(hits))
    return Searched(stmt.where(or_(Party.id.in_(list(reasons)), by_name)), rank, reasons)


def _customer_columns(user: Any) -> list[Column]:
    cols = [Column("id", _("Id"), NUMBER), Column("name", _("Name")),
            Column("kind", _("Kind")), Column("roles", _("Roles")),
            Column("phones", _("Phones")), Column("emails", _("E-mails")),
            Column("branch", _("Branch")), Column("tags", _("Tags"))]
    if can(user, SEGMENT_PERMISSION):
        cols += [Column("ltv", _("Lifetime value"), MONEY, currency_key="currency"),
                 Column("currency", _("Currency")), Column("segment", _("Segment"))]
    return cols


def _customer_rows(session: Session, user: Any,
                   stmt: Select[Any]) -> Iterator[Mapping[str, Any]]:
    codes = _branch_codes(session)
    stmt = stmt.add_columns(PartyValue.lifetime_value, PartyValue.currency, PartyValue.segment)
    stmt = stmt.outerjoin(PartyValue, PartyValue.party_id == Party.id)
    for party, ltv, currency, segment in session.execute(stmt.execution_options(
            yield_per=1000)):
        yield {"id": party.id, "name": party.name, "kind": party.kind,
               "roles": " ".join(party.roles), "phones": " ".join(party.phone_numbers),
               "emails": " ".join(party.email_addresses),
               "branch": codes.get(party.branch_id, ""), "tags": " ".join(party.tags),
               "ltv": ltv, "currency": currency or "",
               "segment": str(SEGMENTS.get(segment, segment or ""))}


CUSTOMERS = ListDefinition(
    name="crm.customers", label=_l("Customers"), model=Party, key=Party.id,
    permission="crm.customers.view", page="crm.customers", api="crm_api.Customers",
    filters=(
        Filter("include_merged", _l("Also merged records"), type=BOOL, default=False,
               apply=lambda stmt, wanted, user: stmt if wanted
               else stmt.where(Party.active.is_(True))),
        Filter("role", _l("Role"), type=CHOICE, choices=ROLES,
               apply=lambda stmt, value, user: _having(stmt, PartyRole.party_id,
                                                         PartyRole.role == value)),
        Filter("tag", _l("Tag"), max_length=40,
               apply=lambda stmt, value, user: _having(stmt, PartyTag.party_id,
                                                         PartyTag.tag == value)),
        Filter("kind", _l("Kind"), type=CHOICE, choices=KINDS,
               apply=lambda stmt, value, user: stmt.where(Party.kind == value)),
        Filter("branch_id", _l("Branch"), type=ID, aliases=("branch",),
               apply=lambda stmt, value, user: stmt.where(Party.branch_id == value)),
        # any text, as the API documents it: an unknown segment lists nobody
        Filter("segment", _l("Segment"), max_length=30, permission=SEGMENT_PERMISSION,
               apply=lambda stmt, value, user: _having(
                   stmt, PartyValue.party_id, PartyValue.segment == value)),
        Filter("custom", _l("Custom field"), type=PREFIXED, max_length=2000,
               apply=lambda stmt, wanted, user: stmt.where(
                   *(Party.custom[k].as_string() == x for k, x in wanted.items()))),
    ),
    search=Search(_search_customers, _l("Name, phone, plate, VIN, e-mail or ID number")),
    sorts={"name": Party.name_key, "created_at": Party.created_at, "id": Party.id},
    sort_aliases={"created": "created_at"}, default_sort="name",
    export=ExportSpec(_l("Customers"), _customer_columns, _customer_rows),
)

#: what a row of the customers page shows of a customer's own columns, read as plain rows
#: (building fifty ``Party`` objects cost more than their statement); its collections and
#: value segment come from :func:`page_details`
PAGE_COLUMNS = (Party.id, Party.kind, Party.name, Party.do_not_contact, Party.branch_id,
                Party.created_at)


def _details_statement(segments: bool) -> Any:
    """The statement of :func:`page_details`, built once: constructing four selects with a
    fifty-value ``IN`` each (every value coerced into a bound parameter) cost more than
    running them. The ids go in through one expanding parameter, ``ids``."""
    ids = bindparam("ids", expanding=True)
    parts = [
        select(PartyPhone.party_id, literal("phones"), PartyPhone.e164, PartyPhone.position)
        .where(PartyPhone.party_id.in_(ids)),
        select(PartyRole.party_id, literal("roles"), PartyRole.role, literal(0))
        .where(PartyRole.party_id.in_(ids)),
        select(PartyTag.party_id, literal("tags"), PartyTag.tag, literal(0))
        .where(PartyTag.party_id.in_(ids))]
    if segments:
        parts.append(select(PartyValue.party_id, literal("segment"), PartyValue.segment,
                            literal(0))
                     .where(PartyValue.party_id.in_(ids), PartyValue.segment.is_not(None)))
    return union_all(*parts)


_DETAILS = {False: _details_statement(False), True: _details_statement(True)}


def page_details(session: Session, ids: list[int], *,
                 segments: bool = False) -> dict[int, dict[str, list[str]]]:
    """Phones (in order), roles and tags (sorted) of the customers on a page, and with
    ``segments`` their value segment (a list of one, none without one), in one statement of
    plain rows: loading them as objects into the parties' collections cost more than
    rendering the page, and each further statement costs more than its rows."""
    details: dict[int, dict[str, list[str]]] = {
        i: {"phones": [], "roles": [], "tags": [], "segment": []} for i in ids}
    if not ids:
        return details
    found = session.execute(_DETAILS[segments], {"ids": ids})
    for party_id, kind, value, _position in sorted(found, key=lambda r: (r[3], r[2])):
        details[party_id][kind].append(value)
    return details


# -- vehicles ----------------------------------------------------------------------------------


def _search_vehicles(session: Session, user: Any, stmt: Select[Any], q: str) -> Searched:
    """The end of a VIN, part of a plate (or the plate without its province character), a
    make or a model."""
    clause = lookup_service.vehicle_filter(q, session.get_bind().dialect.name)
    return Searched(stmt if clause is None else stmt.where(clause))


def _by_vin(stmt: Select[Any], value: str, user: Any) -> Select[Any]:
    key = v.vin_search_key(value)
    return stmt.where(Vehicle.vin == key if len(key) == 17
                      else Vehicle.vin.endswith(key, autoescape=True))


def _vehicle_columns(user: Any) -> list[Column]:
    return [Column("id", _("Id"), NUMBER), Column("plate", _("Plate")), Column("vin", _("VIN")),
            Column("make", _("Make")), Column("model", _("Model")),
            Column("year", _("Year"), NUMBER), Column("fuel", _("Fuel")),
            Column("colour", _("Colour")), Column("owner", _("Owner")),
            Column("branch", _("Branch")), Column("odometer", _("Odometer"), NUMBER)]


def _vehicle_rows(session: Session, user: Any,
                  stmt: Select[Any]) -> Iterator[Mapping[str, Any]]:
    from carebiz.crm.forms import FUEL_LABELS

    codes = _branch_codes(session)
    # owners the user may not see stay blank, as on the page
    owners = visible(select(Party.id, Party.name), Party, user).subquery()
    stmt = stmt.outerjoin(owners, owners.c.id == Vehicle.owner_id).add_columns(owners.c.name)
    for vehicle, owner in session.execute(stmt.execution_options(yield_per=1000)):
        fuel = vehicle.fuel_type or ""
        yield {"id": vehicle.id, "plate": vehicle.plate or "", "vin": vehicle.vin or "",
               "make": vehicle.make, "model": vehicle.model, "year": vehicle.year,
               "fuel": str(FUEL_LABELS.get(fuel, fuel)), "colour": vehicle.colour,
               "owner": owner or "", "branch": codes.get(vehicle.branch_id, ""),
               "odometer": vehicle.odometer_km}


VEHICLES = ListDefinition(
    name="crm.vehicles", label=_l("Vehicles"), model=Vehicle, key=Vehicle.id,
    permission="crm.vehicles.view", page="crm.vehicles", api="crm_api.Vehicles",
    filters=(
        Filter("make", _l("Make"), type=TEXT, max_length=60,
               apply=lambda stmt, value, user: stmt.where(
                   Vehicle.make.icontains(value, autoescape=True))),
        Filter("fuel_type", _l("Fuel"), type=CHOICE, choices=FUEL_TYPES, aliases=("fuel",),
               apply=lambda stmt, value, user: stmt.where(Vehicle.fuel_type == value)),
        Filter("vin", _l("VIN"), max_length=40, apply=_by_vin),
        Filter("plate", _l("Plate"), max_length=40,
               apply=lambda stmt, value, user: stmt.where(
                   Vehicle.plate == v.plate_search_key(value))),
        Filter("owner_id", _l("Owner"), type=ID,
               apply=lambda stmt, value, user: stmt.where(Vehicle.owner_id == value)),
        Filter("branch_id", _l("Branch"), type=ID,
               apply=lambda stmt, value, user: stmt.where(Vehicle.branch_id == value)),
    ),
    search=Search(_search_vehicles, _l("VIN, plate, make or model")),
    sorts={"plate": Vehicle.plate, "vin": Vehicle.vin, "make": Vehicle.make,
           "model": Vehicle.model, "year": Vehicle.year, "odometer": Vehicle.odometer_km,
           "created_at": Vehicle.created_at, "id": Vehicle.id},
    default_sort="plate",
    export=ExportSpec(_l("Vehicles"), _vehicle_columns, _vehicle_rows),
)
