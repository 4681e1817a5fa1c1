"""CRM JSON API: customers, vehicles, timeline, lookup and the 360° overview.

Routes are thin: they authenticate, check the permission, parse, fetch records through the row
filters and serialise; every rule is in :mod:`carebiz.crm.services`. A record outside the
user's branches answers 404 as if it did not exist; an id in a request body that names such a
record answers 422 on that field. Writes commit once, after the service returned.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from carebiz import db, lists
from carebiz.api.common import (
    ApiBlueprint,
    DuplicateErrorSchema,
    VinConflictErrorSchema,
    page_of,
)
from carebiz.concurrency import etag_headers, expected_version
from carebiz.crm import schemas as s
from carebiz.crm.lists import CUSTOMERS, VEHICLES
from carebiz.crm.models import (
    Party,
    PartyValue,
    TimelineEntry,
    Vehicle,
)
from carebiz.crm.services import (
    custom_fields,
    lookup,
    merge,
    parties,
    timeline,
    value,
    vehicles,
)
from carebiz.crm.services import overview as overview_service
from carebiz.errors import NotFound, ValidationFailed
from carebiz.security import can, require, visible
from carebiz.toolkit import end_of_today, is_manager, one_visible, saving, today

#: a path segment that is a record id: anything else (letters, 0, ids beyond 32 bits) is 404
ID = f"int(min=1, max={s.MAX_ID})"


blp = ApiBlueprint("crm_api", __name__, url_prefix="/api/v1",
                   description="Customers, vehicles, timeline, lookup and the 360° overview.")


# --- helpers ------------------------------------------------------------------------------


def _user() -> Any:
    return current_user._get_current_object()


def _visible_one(model: type, record_id: int, message: str) -> Any:
    """The record if the user may see it; 404 otherwise, whether it is missing or hidden."""
    record = one_visible(model, record_id, _user())
    if record is None:
        raise NotFound(message)
    return record


def _reference(model: type, record_id: int, field: str, *, active: bool = False) -> Any:
    """A record named by an id in the request body: 422 on ``field`` if the user cannot see
    it (or, with ``active``, if it was merged away)."""
    record = one_visible(model, record_id, _user())
    if record is not None and (not active or record.active):
        return record
    if model is Vehicle:
        raise ValidationFailed(_("No vehicle with id %(id)s.", id=record_id),
                               {field: _("No vehicle with this id.")})
    if active:
        raise ValidationFailed(_("No active customer with id %(id)s.", id=record_id),
                               {field: _("No active customer with this id.")})
    raise ValidationFailed(_("No customer with id %(id)s.", id=record_id),
                           {field: _("No customer with this id.")})


def _customer(party_id: int) -> Party:
    party = parties.visible_whole_party(db.session(), party_id, _user())
    if party is None:
        raise NotFound(_("No customer with id %(id)s.", id=party_id))
    return party


def _vehicle(vehicle_id: int) -> Vehicle:
    return _visible_one(Vehicle, vehicle_id, _("No vehicle with id %(id)s.", id=vehicle_id))


class _Extended:
    """A record with extra attributes for its schema (a vehicle with its ownerships)."""

    def __init__(self, record: Any, **extra: Any) -> None:
        self._record = record
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._record, name)


def _vehicle_detail(vehicle: Vehicle) -> _Extended:
    return _Extended(vehicle, ownerships=vehicles.ownerships(db.session(), vehicle.id, _user()))


def _sections(panels: list[Any]) -> dict[str, dict[str, Any]]:
    """Each plugin panel's JSON summary, by the panel's name."""
    return {panel.name: dict(panel.summary or {}) for panel in panels}


def _listed(definition: Any, args: dict[str, Any]) -> Any:
    """A page of a list declared in :mod:`carebiz.crm.lists`: the schema checked the
    arguments for the document's sake; the definition (shared with the page and the export)
    reads them as sent, so ``?format=csv`` lists the same rows."""
    listed = lists.prepare(definition, request.args, db.session(), _user())
    return lists.page(listed, db.session(), args["page"], args["per_page"])


# --- customers ----------------------------------------------------------------------------


@blp.route("/customers")
class Customers(MethodView):
    @require("crm.customers.view")
    @blp.arguments(s.CustomerListArgs, location="query")
    @blp.response(200, s.CustomerPage)
    @db.read_only
    def get(self, args: dict[str, Any]) -> Any:
        """Customers in your branches. ``q`` is a name prefix (王, wan) or any identifier (a
        phone in any format, plate, VIN, e-mail, ID number); ``custom.<name>=value`` filters
        on a custom field."""
        return _listed(CUSTOMERS, args)

    @require("crm.customers.edit")
    @blp.arguments(s.CustomerCreateSchema)
    @blp.response(201, s.CustomerCreatedSchema)
    @blp.alt_response(409, schema=DuplicateErrorSchema,
                      description="Possible duplicate: `duplicates` lists the matching "
                                  "records (id, name, reason, value). Send again with "
                                  "`allow_duplicates: true` to save anyway.")
    def post(self, data: dict[str, Any]) -> Any:
        """Register a customer (person or organization), and with `vehicle` their first
        vehicle in the same transaction: all of it is saved, or (422, 409) none of it."""
        sess = db.session()
        allow = data.pop("allow_duplicates")
        vins = data.pop("vins")
        first = data.pop("vehicle", None)
        with saving():
            if first and any(x not in (None, "") for x in first.values()):
                party, car, _problems = parties.create_party_with_vehicle(
                    sess, data, first, user=_user(), allow_duplicates=allow, strict=True,
                    vins=vins)
            else:
                party, car = parties.create_party(sess, data, user=_user(),
                                                  allow_duplicates=allow, vins=vins), None
        return _Extended(party, vehicle=car), 201, etag_headers(party)


@blp.route(f"/customers/<{ID}:party_id>")
class CustomerItem(MethodView):
    @require("crm.customers.view")
    @blp.response(200, s.CustomerSchema)
    @db.read_only
    def get(self, party_id: int) -> Any:
        """A customer. A record merged into another answers with ``active: false`` and
        ``merged_into_id``: follow it. The ``ETag`` header is the record's version."""
        party = parties.read_party(db.session(), party_id, _user())
        if party is None:
            raise NotFound(_("No customer with id %(id)s.", id=party_id))
        return party, 200, etag_headers(party)

    @require("crm.customers.edit")
    @blp.arguments(s.CustomerUpdateSchema)
    @blp.response(200, s.CustomerSchema)
    @blp.alt_response(409, schema=DuplicateErrorSchema,
                      description="Changed since the `version` (or If-Match ETag) you sent: "
                                  "`current_version`, `changed`, `changed_by`, `current`. Or "
                                  "a possible duplicate (`duplicates`, as on create), or the "
                                  "record was merged into another.")
    def patch(self, data: dict[str, Any], party_id: int) -> Any:
        """Change the fields sent; the others stay. Send the ``version`` you read (or
        ``If-Match`` with its ETag) so the change cannot overwrite one you have not seen."""
        sess = db.session()
        expected = expected_version(data.pop("version", None))
        party = _customer(party_id)
        allow = data.pop("allow_duplicates", False)
        with saving():
            parties.update_party(sess, party, data, user=_user(), allow_duplicates=allow,
                                 expected_version=expected)
        return party, 200, etag_headers(party)


@blp.route(f"/customers/<{ID}:party_id>/overview")
class CustomerOverview(MethodView):
    @require("crm.customers.view")
    @blp.response(200, s.OverviewSchema)
    def get(self, party_id: int) -> Any:
        """The 360° view in a fixed number of queries: value, vehicles (current and
        former), contacts, open items, latest timeline entries and every switched-on
        subsystem's summary under ``sections``."""
        user = _user()
        party = _customer(party_id)
        view = overview_service.overview(db.session(), party, user)
        return {
            "customer": party,
            "value": view["value"] if can(user, "crm.segments.view") else None,
            "vehicles": view["vehicles"],
            "former_vehicles": [{"vehicle": f["vehicle"], "since": f["ownership"].since,
                                 "until": f["ownership"].until}
                                for f in view["former_vehicles"]],
            "contacts": [{"customer": c["party"], "position": c["link"].position,
                          "primary": c["link"].is_primary} for c in view["contacts"]],
            "open_items": view["open_items"],
            "last_contact": view["last_contact"],
            "timeline": view["timeline"],
            "sections": _sections(view["panels"]),
        }


@blp.route(f"/customers/<{ID}:party_id>/timeline")
class CustomerTimeline(MethodView):
    @require("crm.customers.view")
    @blp.arguments(s.TimelineArgs, location="query")
    @blp.response(200, s.TimelinePage)
    def get(self, args: dict[str, Any], party_id: int) -> Any:
        """The customer's timeline, newest first; page back with ``before=<next_before>``."""
        user = _user()
        party = _customer(party_id)
        stmt = timeline.entries_for(party.id, kinds=args.get("kind") or None,
                                    vehicle_id=args.get("vehicle_id"),
                                    before=args.get("before"), open_only=args["open_only"])
        limit = args["limit"]
        rows = db.session().scalars(visible(stmt, TimelineEntry, user).limit(limit + 1)).all()
        items = rows[:limit]
        more = len(rows) > limit and items
        return {"items": items, "next_before": items[-1].occurred_at if more else None}

    @require("crm.timeline.edit")
    @blp.arguments(s.TimelineCreateSchema)
    @blp.response(201, s.TimelineEntrySchema)
    def post(self, data: dict[str, Any], party_id: int) -> Any:
        """Record an interaction, or a task or return visit (these need ``due_at``)."""
        sess = db.session()
        party = _customer(party_id)
        vehicle = (_reference(Vehicle, data["vehicle_id"], "vehicle_id")
                   if data["vehicle_id"] else None)
        assignee = timeline.check_assignee(sess, data["assignee_id"])
        with saving():
            entry = timeline.add_entry(
                sess, party, data["kind"], subject=data["subject"], body=data["body"],
                occurred_at=data["occurred_at"], vehicle=vehicle, due_at=data["due_at"],
                assignee_id=assignee, ref_type=data["ref_type"], ref_id=data["ref_id"],
                user=_user())
        return entry


@blp.route(f"/timeline/<{ID}:entry_id>/complete")
class CompleteFollowup(MethodView):
    @require("crm.timeline.edit")
    @blp.arguments(s.CompleteSchema)
    @blp.response(200, s.TimelineEntrySchema)
    def post(self, data: dict[str, Any], entry_id: int) -> Any:
        """Close a task or return visit with its outcome (and the customer's satisfaction,
        1-5, which feeds their average)."""
        sess = db.session()
        entry = _visible_one(TimelineEntry, entry_id,
                             _("No timeline entry with id %(id)s.", id=entry_id))
        with saving():
            timeline.complete_followup(sess, entry, outcome=data["outcome"],
                                       satisfaction=data["satisfaction"], user=_user(),
                                       cancelled=data["cancelled"])
        return entry


@blp.route("/customers/merge")
class MergeCustomers(MethodView):
    @require("crm.customers.merge")
    @blp.arguments(s.MergeSchema)
    @blp.response(200, s.CustomerSchema)
    @blp.alt_response(409, description="One of the two was merged already (perhaps a moment "
                                       "ago, by someone else): nothing was changed.")
    def post(self, data: dict[str, Any]) -> Any:
        """Merge ``remove_id`` into ``keep_id``: phones, vehicles, timeline, value and every
        subsystem's records move; the removed record stays as an inactive pointer."""
        sess = db.session()
        keep = _reference(Party, data["keep_id"], "keep_id")
        remove = _reference(Party, data["remove_id"], "remove_id")
        with saving():
            merge.merge_parties(sess, keep, remove, user=_user())
        return keep, 200, etag_headers(keep)


@blp.route(f"/customers/<{ID}:party_id>/contacts")
class CustomerContacts(MethodView):
    @require("crm.customers.edit")
    @blp.arguments(s.ContactSchema)
    @blp.response(200, s.ContactLinkSchema)
    def post(self, data: dict[str, Any], party_id: int) -> Any:
        """Make a person a contact of this organization (again: updates the position)."""
        sess = db.session()
        organization = _customer(party_id)
        person = _reference(Party, data["person_id"], "person_id")
        with saving():
            link = parties.set_contact(sess, organization, person, data["position"],
                                       data["primary"])
        return link


# --- vehicles -----------------------------------------------------------------------------


@blp.route("/vehicles")
class Vehicles(MethodView):
    @require("crm.vehicles.view")
    @blp.arguments(s.VehicleListArgs, location="query")
    @blp.response(200, s.VehiclePage)
    @db.read_only
    def get(self, args: dict[str, Any]) -> Any:
        """Vehicles in your branches. ``vin`` is the whole VIN or its end, ``plate`` any
        spelling of the plate (粤b·12345), ``make`` part of the make."""
        return _listed(VEHICLES, args)

    @require("crm.vehicles.edit")
    @blp.arguments(s.VehicleCreateSchema)
    @blp.response(201, s.VehicleDetailSchema)
    @blp.alt_response(409, schema=VinConflictErrorSchema,
                      description="The VIN is registered already: `existing` names the "
                                  "vehicle.")
    def post(self, data: dict[str, Any]) -> Any:
        """Register a vehicle by its VIN (the check digit is verified)."""
        sess = db.session()
        if data.get("owner_id"):
            _reference(Party, data["owner_id"], "owner_id")
        with saving():
            vehicle = vehicles.create_vehicle(sess, data, user=_user())
        return _vehicle_detail(vehicle), 201, etag_headers(vehicle)


@blp.route(f"/vehicles/<{ID}:vehicle_id>")
class VehicleItem(MethodView):
    @require("crm.vehicles.view")
    @blp.response(200, s.VehicleDetailSchema)
    @db.read_only
    def get(self, vehicle_id: int) -> Any:
        """A vehicle with its owners over time. The ``ETag`` header is its version."""
        vehicle = _vehicle(vehicle_id)
        return _vehicle_detail(vehicle), 200, etag_headers(vehicle)

    @require("crm.vehicles.edit")
    @blp.arguments(s.VehicleUpdateSchema)
    @blp.response(200, s.VehicleDetailSchema)
    @blp.alt_response(409, description="Changed since the `version` (or If-Match ETag) you "
                                       "sent: `current_version`, `changed`, `changed_by`, "
                                       "`current`.")
    def patch(self, data: dict[str, Any], vehicle_id: int) -> Any:
        """Change the fields sent; a new ``owner_id`` (from ``owner_since``) keeps the
        ownership history. Send the ``version`` you read (or ``If-Match`` with its ETag)
        so the change cannot overwrite one you have not seen."""
        sess = db.session()
        expected = expected_version(data.pop("version", None))
        vehicle = _vehicle(vehicle_id)
        if data.get("owner_id"):
            _reference(Party, data["owner_id"], "owner_id")
        with saving():
            vehicles.update_vehicle(sess, vehicle, data, user=_user(), expected_version=expected)
        return _vehicle_detail(vehicle), 200, etag_headers(vehicle)


@blp.route(f"/vehicles/<{ID}:vehicle_id>/owner")
class VehicleOwner(MethodView):
    @require("crm.vehicles.edit")
    @blp.arguments(s.OwnerChangeSchema)
    @blp.response(200, s.VehicleDetailSchema)
    def post(self, data: dict[str, Any], vehicle_id: int) -> Any:
        """Hand the vehicle to another customer from ``since``; the previous ownership ends
        that day and stays in ``ownerships``. The current owner again changes nothing."""
        sess = db.session()
        vehicle = _vehicle(vehicle_id)
        owner = _reference(Party, data["owner_id"], "owner_id", active=True)
        if owner.id != vehicle.owner_id:
            with saving():
                vehicles.change_owner(sess, vehicle, owner, data["since"] or today())
        return _vehicle_detail(vehicle), 200, etag_headers(vehicle)


@blp.route(f"/vehicles/<{ID}:vehicle_id>/odometer")
class VehicleOdometer(MethodView):
    @require("crm.vehicles.view")
    @blp.arguments(s.OdometerArgs, location="query")
    @blp.response(200, s.OdometerList)
    def get(self, args: dict[str, Any], vehicle_id: int) -> Any:
        """Odometer readings, newest first."""
        vehicle = _vehicle(vehicle_id)
        return {"items": vehicles.odometer_history(db.session(), vehicle.id, args["limit"])}

    @require("crm.vehicles.edit")
    @blp.arguments(s.OdometerCreateSchema)
    @blp.response(201, s.OdometerSchema)
    def post(self, data: dict[str, Any], vehicle_id: int) -> Any:
        """Record a reading. One lower than the previous reading answers 422 on
        ``value_km`` unless ``meter_replaced``."""
        sess = db.session()
        vehicle = _vehicle(vehicle_id)
        with saving():
            reading = vehicles.record_odometer(sess, vehicle, data["value_km"], data["read_at"],
                                               source=data["source"],
                                               meter_replaced=data["meter_replaced"], user=_user())
        return reading


# --- lookup, my day, segments, custom fields ------------------------------------------------


@blp.route("/lookup")
class Lookup(MethodView):
    @require("crm.customers.view")
    @blp.arguments(s.LookupArgs, location="query")
    @blp.response(200, s.LookupResult)
    def get(self, args: dict[str, Any]) -> Any:
        """``q``: ranked customers by name, phone (any format), plate, VIN, e-mail, ID number
        or a subsystem's identifier. ``phone``: the call-centre screen-pop, each customer
        with that number with every switched-on subsystem's summary."""
        sess = db.session()
        user = _user()
        phone = (args.get("phone") or "").strip()
        query = (args.get("q") or "").strip()
        if phone:
            items = [{"customer": pop["party"], "sections": _sections(pop["panels"]),
                      "open_items": pop["open_items"], "vehicles": pop["vehicles"]}
                     for pop in lookup.screen_pop(sess, user, phone)]
        elif query:
            items = [{"customer": hit.party, "score": hit.score, "reasons": hit.reasons}
                     for hit in lookup.lookup(sess, user, query, limit=args["limit"])]
        else:
            raise ValidationFailed(_("Give q (what to look for) or phone (who is calling)."),
                                   {"q": _("Required without phone.")})
        return {"items": items, "total": len(items)}


@blp.route("/my-day")
class MyDay(MethodView):
    @require("crm.timeline.edit")
    @blp.arguments(s.MyDayArgs, location="query")
    @blp.response(200, s.MyDayPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Open follow-ups due by the end of today (business time zone), overdue first: your
        own, or with ``scope=branch`` (managers) everyone's in your branches."""
        sess = db.session()
        user = _user()
        until = end_of_today()
        whole = args["scope"] == "branch" and is_manager(user)
        stmt = visible(timeline.my_day(user, today_end=until, whole_branch=whole),
                       TimelineEntry, user)
        page = page_of(sess, stmt, args["page"], args["per_page"])
        ids = {entry.party_id for entry in page["items"]}
        customers = {p.id: p for p in sess.scalars(visible(
            select(Party).where(Party.id.in_(ids)), Party, user))} if ids else {}
        page["items"] = [_Extended(entry, customer=customers.get(entry.party_id))
                         for entry in page["items"]]
        return {**page, "scope": "branch" if whole else "own", "until": until}


@blp.route("/segments/<segment>/customers")
class SegmentCustomers(MethodView):
    @require("crm.segments.view")
    @blp.arguments(s.SegmentArgs, location="query")
    @blp.response(200, s.CustomerPage)
    def get(self, args: dict[str, Any], segment: str) -> Any:
        """Customers of a value segment (champion, loyal, big_spender, new, at_risk, lost,
        regular), highest lifetime value first."""
        if segment not in value.SEGMENTS:
            raise NotFound(_("No segment named %(name)s; segments: %(names)s.",
                             name=segment, names=", ".join(value.SEGMENTS)))
        stmt = (select(Party).join(PartyValue, PartyValue.party_id == Party.id)
                .where(PartyValue.segment == segment, Party.active.is_(True))
                .order_by(PartyValue.lifetime_value.desc(), Party.id))
        return page_of(db.session(), visible(stmt, Party, _user()), args["page"],
                       args["per_page"])


@blp.route("/custom-fields")
class CustomFields(MethodView):
    @require("crm.customers.view")
    @blp.arguments(s.CustomFieldArgs, location="query")
    @blp.response(200, s.CustomFieldList)
    def get(self, args: dict[str, Any]) -> Any:
        """Active custom fields of customers (``entity=party``) and vehicles."""
        sess = db.session()
        entities = [args["entity"]] if args.get("entity") else list(custom_fields.ENTITIES)
        return {"items": [field for entity in entities
                          for field in custom_fields.definitions(sess, entity)]}

    @require("crm.custom_fields")
    @blp.arguments(s.CustomFieldCreateSchema)
    @blp.response(201, s.CustomFieldSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Add a custom field; its values live in the record's ``custom``."""
        sess = db.session()
        with saving():
            field = custom_fields.define(sess, **data)
        return field

