"""The customers list as a query: search, filters and row filters in one place, shared by
the page, its exports and export jobs (which run without a request)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import case, false, func, literal, select, union_all
from sqlalchemy.orm import Session, lazyload

from carebiz.crm.models import KINDS, Party, PartyPhone, PartyRole, PartyTag, PartyValue
from carebiz.crm.services import lookup as lookup_service
from carebiz.crm.services.value import SEGMENTS
from carebiz.export.table import MONEY, NUMBER, Column, Table
from carebiz.models import Branch
from carebiz.security.permissions import can
from carebiz.security.rows import visible

FILTERS = ("role", "tag", "kind", "branch", "segment")
#: most customers a search in the list considers (ranked by the lookup service)
LOOKUP_LIMIT = 200


def filters_from(args: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(args.get(k) or "").strip() for k in FILTERS}


def customer_query(sess: Session, user: Any, q: str, filters: dict[str, str],
                   see_value: bool) -> tuple[Any, dict[str, Any], str, dict[int, list[str]]]:
    """The customers list's statement (search, filters, row filters) with its sortable
    columns, its default sort and why each searched customer matched."""
    stmt = select(Party).where(Party.active.is_(True))
    columns: dict[str, Any] = {"name": Party.name_key, "created": Party.created_at,
                               "id": Party.id}
    default = "name"
    reasons: dict[int, list[str]] = {}
    if q:
        hits = lookup_service.lookup(sess, user, q, limit=LOOKUP_LIMIT)
        reasons = {h.party.id: h.reasons for h in hits}
        if hits:
            stmt = stmt.where(Party.id.in_(list(reasons)))
            columns["rank"] = case({h.party.id: i for i, h in enumerate(hits)}, value=Party.id)
            default = "rank"
        else:
            stmt = stmt.where(false())
    if filters["role"]:
        stmt = stmt.where(Party.id.in_(select(PartyRole.party_id)
                                       .where(PartyRole.role == filters["role"])))
    if filters["tag"]:
        stmt = stmt.where(Party.id.in_(select(PartyTag.party_id)
                                       .where(PartyTag.tag == filters["tag"])))
    if filters["kind"] in KINDS:
        stmt = stmt.where(Party.kind == filters["kind"])
    if filters["branch"].isdigit():
        stmt = stmt.where(Party.branch_id == int(filters["branch"]))
    if filters["segment"] and see_value:
        stmt = stmt.where(Party.id.in_(select(PartyValue.party_id)
                                       .where(PartyValue.segment == filters["segment"])))
    return visible(stmt, Party, user), columns, default, reasons


#: what a row of the customers page shows of a customer's collections
PAGE_LOAD = (lazyload(Party.phones), lazyload(Party.emails), lazyload(Party.role_rows),
             lazyload(Party.tag_rows))


def page_details(sess: Session, ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """Phones (in order), roles and tags (sorted) of the customers on a page, in one
    statement of plain rows: loading them as objects into the parties' collections cost more
    than rendering the page."""
    details: dict[int, dict[str, list[str]]] = {
        i: {"phones": [], "roles": [], "tags": []} for i in ids}
    if not ids:
        return details
    rows = union_all(
        select(PartyPhone.party_id, literal("phones"), PartyPhone.e164, PartyPhone.position)
        .where(PartyPhone.party_id.in_(ids)),
        select(PartyRole.party_id, literal("roles"), PartyRole.role, literal(0))
        .where(PartyRole.party_id.in_(ids)),
        select(PartyTag.party_id, literal("tags"), PartyTag.tag, literal(0))
        .where(PartyTag.party_id.in_(ids)))
    for party_id, kind, value, _position in sorted(sess.execute(rows),
                                                  key=lambda r: (r[3], r[2])):
        details[party_id][kind].append(value)
    return details


def sort_stmt(stmt: Any, columns: dict[str, Any], wanted: str, default: str) -> Any:
    key = wanted.lstrip("-")
    if key not in columns:
        wanted, key = default, default.lstrip("-")
    column = columns[key]
    return stmt.order_by(column.desc() if wanted.startswith("-") else column.asc(), Party.id)


def customers_table(sess: Session, user: Any, args: Mapping[str, Any]) -> Table:
    """The customers list as the user filtered it, for any export format."""
    see_value = can(user, "crm.segments.view")
    q = str(args.get("q") or "").strip()
    filters = filters_from(args)
    stmt, columns, default, _reasons = customer_query(sess, user, q, filters, see_value)
    stmt = sort_stmt(stmt, columns, str(args.get("sort") or default), default)
    total = sess.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    stmt = stmt.add_columns(PartyValue.lifetime_value, PartyValue.currency, PartyValue.segment)
    stmt = stmt.outerjoin(PartyValue, PartyValue.party_id == Party.id)
    codes = {b.id: b.code for b in sess.scalars(select(Branch))}
    cols = [Column("id", _("Id"), NUMBER), Column("name", _("Name")),
            Column("kind", _("Kind")), Column("roles", _("Roles")),
            Column("phones", _("Phones")), Column("emails", _("E-mails")),
            Column("branch", _("Branch")), Column("tags", _("Tags"))]
    if see_value:
        cols += [Column("ltv", _("Lifetime value"), MONEY, currency_key="currency"),
                 Column("currency", _("Currency")), Column("segment", _("Segment"))]

    def rows() -> Any:
        for party, ltv, currency, segment in sess.execute(stmt.execution_options(
                yield_per=1000)):
            yield {"id": party.id, "name": party.name, "kind": party.kind,
                   "roles": " ".join(party.roles), "phones": " ".join(party.phone_numbers),
                   "emails": " ".join(party.email_addresses),
                   "branch": codes.get(party.branch_id, ""), "tags": " ".join(party.tags),
                   "ltv": ltv, "currency": currency or "",
                   "segment": str(SEGMENTS.get(segment, segment or ""))}

    described = [f"{_('Search')}: {q}"] if q else []
    described += [f"{k}: {v}" for k, v in filters.items() if v]
    return Table(_("Customers"), cols, rows(), filters=described, total=total)



# -- vehicles -------------------------------------------------------------------------------

#: the list page's filters and the API's (``fuel`` on the page, ``fuel_type`` in the API)
VEHICLE_FILTERS = ("make", "fuel", "fuel_type", "vin", "plate", "owner_id", "branch_id")
VEHICLE_SORTS = ("vin", "plate", "make", "model", "year", "odometer", "created_at", "id")


def _from_api() -> bool:
    """Whether the export answers the API's vehicle list (whose ``make`` is a part of the
    make and whose default order is the VIN) rather than the page's."""
    from flask import has_request_context, request

    return has_request_context() and request.endpoint == "crm_api.Vehicles"


def vehicle_query(user: Any, q: str, filters: Mapping[str, str], *,
                  make_contains: bool = False) -> Any:
    """The vehicles list's statement: search, the page's and the API's filters, row
    filters."""
    from carebiz.crm import validation as v
    from carebiz.crm.models import Vehicle

    stmt = select(Vehicle)
    clause = lookup_service.vehicle_filter(q)
    if clause is not None:
        stmt = stmt.where(clause)
    if filters.get("make"):
        stmt = stmt.where(Vehicle.make.icontains(filters["make"], autoescape=True)
                          if make_contains else Vehicle.make == filters["make"])
    fuel = filters.get("fuel") or filters.get("fuel_type")
    if fuel:
        stmt = stmt.where(Vehicle.fuel_type == fuel)
    if filters.get("vin"):
        key = v.vin_search_key(filters["vin"])
        stmt = stmt.where(Vehicle.vin == key if len(key) == 17
                          else Vehicle.vin.endswith(key, autoescape=True))
    if filters.get("plate"):
        stmt = stmt.where(Vehicle.plate == v.plate_search_key(filters["plate"]))
    for key in ("owner_id", "branch_id"):
        if str(filters.get(key) or "").isdigit():
            stmt = stmt.where(getattr(Vehicle, key) == int(filters[key]))
    return visible(stmt, Vehicle, user)


def vehicles_table(sess: Session, user: Any, args: Mapping[str, Any]) -> Table:
    """The vehicles list (page or API) as the user filtered it, for any export format."""
    from carebiz.crm.models import Vehicle

    api = _from_api()
    q = str(args.get("q") or "").strip()
    filters = {k: str(args.get(k) or "").strip() for k in VEHICLE_FILTERS}
    stmt = vehicle_query(user, q, filters, make_contains=api)
    sorts = {"vin": Vehicle.vin, "plate": Vehicle.plate, "make": Vehicle.make,
             "model": Vehicle.model, "year": Vehicle.year, "odometer": Vehicle.odometer_km,
             "created_at": Vehicle.created_at, "id": Vehicle.id}
    wanted = str(args.get("sort") or ("vin" if api else "plate"))
    key = wanted.lstrip("-")
    if key not in sorts:
        wanted = key = "vin" if api else "plate"
    stmt = stmt.order_by(sorts[key].desc() if wanted.startswith("-") else sorts[key].asc(),
                         Vehicle.id)
    total = sess.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    codes = {b.id: b.code for b in sess.scalars(select(Branch))}
    cols = [Column("id", _("Id"), NUMBER), Column("plate", _("Plate")), Column("vin", _("VIN")),
            Column("make", _("Make")), Column("model", _("Model")),
            Column("year", _("Year"), NUMBER), Column("fuel", _("Fuel")),
            Column("colour", _("Colour")), Column("owner", _("Owner")),
            Column("branch", _("Branch")), Column("odometer", _("Odometer"), NUMBER)]

    # owners the user may not see stay blank, as on the page
    owners = visible(select(Party.id, Party.name), Party, user).subquery()
    stmt = stmt.outerjoin(owners, owners.c.id == Vehicle.owner_id).add_columns(owners.c.name)

    def rows() -> Any:
        from carebiz.crm.forms import FUEL_LABELS

        for vehicle, owner in sess.execute(stmt.execution_options(yield_per=1000)):
            fuel = vehicle.fuel_type or ""
            yield {"id": vehicle.id, "plate": vehicle.plate or "", "vin": vehicle.vin,
                   "make": vehicle.make, "model": vehicle.model, "year": vehicle.year,
                   "fuel": str(FUEL_LABELS.get(fuel, fuel)), "colour": vehicle.colour,
                   "owner": owner or "", "branch": codes.get(vehicle.branch_id, ""),
                   "odometer": vehicle.odometer_km}

    described = [f"{_('Search')}: {q}"] if q else []
    described += [f"{k}: {val}" for k, val in filters.items() if val]
    return Table(_("Vehicles"), cols, rows(), filters=described, total=total)
