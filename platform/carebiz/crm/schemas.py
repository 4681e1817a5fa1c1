"""Marshmallow schemas of the CRM API.

Schemas check *types* (a list where a list belongs, an integer id in range) and document the
API; the business rules — phone formats, the VIN check digit, identity numbers, branch access,
duplicates — stay in :mod:`carebiz.crm.services` so pages, importers and the API share them.
Text the services check is therefore taken as plain strings here, so their messages (which
name the field and what is wrong) reach the client unchanged.

Datetimes are ISO 8601 with their offset; money is a decimal string next to its currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate

from carebiz.api.common import ListArgs, StrictBoolean, page_schema
from carebiz.crm import validation as v
from carebiz.crm.lists import CUSTOMERS, VEHICLES
from carebiz.crm.models import CHANNELS, FUEL_TYPES, ID_KINDS, KINDS, ROLES
from carebiz.crm.services.custom_fields import ENTITIES, NAME_RE, TYPES

#: ids are 32-bit on every database; larger numbers cannot name a record (and would make
#: the database driver fail instead of answering "not found")
MAX_ID = 2**31 - 1
CUSTOM_PREFIX = "custom."


def _id(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=kwargs.pop("strict", True),
                          validate=validate.Range(min=1, max=MAX_ID), **kwargs)


#: how a new record's branch is chosen when the body names none
BRANCH_DEFAULT = ("Default on create: your default branch, else your only one (a business "
                  "with one branch never names it).")


def _query_id(**kwargs: Any) -> fields.Integer:
    """An id in the query string (strings there, so not strict)."""
    return _id(strict=False, **kwargs)


VERSION_OUT = ("Raised by every change; also the ETag header. Send it back (``version`` or "
               "If-Match) with a change so it cannot overwrite one you have not seen.")


def _version() -> fields.Integer:
    """The version a PATCH is based on (see :mod:`carebiz.concurrency`)."""
    return fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1),
                          metadata={"description": (
                              "The version you read (or send If-Match with the ETag). When "
                              "the record has changed since, the answer is 409 with "
                              "`current_version`, `changed` (the fields) and `current` "
                              "(their values); without either the change is saved as sent "
                              "(last write wins).")})


class CrmSchema(Schema):
    """Base of the CRM's input schemas. Text no field may hold (NUL and other control
    characters, lone surrogates) is refused for every schema alike by the API's argument
    parser (:class:`carebiz.api.common.Parser`), and at the flush for every column."""


class CrmListArgs(CrmSchema, ListArgs):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))


# --- customers ----------------------------------------------------------------------------


class CustomerBriefSchema(Schema):
    """Who a customer is, for lists inside other answers (contacts, my day)."""

    id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    phones = fields.List(fields.String(), attribute="phone_numbers",
                         metadata={"description": "E.164, e.g. +8613800138000."})
    branch_id = fields.Integer()
    active = fields.Boolean()


class CustomerSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(KINDS)})
    name = fields.String()
    phones = fields.List(fields.String(), attribute="phone_numbers",
                         metadata={"description": "E.164, e.g. +8613800138000."})
    emails = fields.List(fields.String(), attribute="email_addresses")
    roles = fields.List(fields.String(metadata={"enum": list(ROLES)}))
    tags = fields.List(fields.String())
    branch_id = fields.Integer()
    gender = fields.String(allow_none=True)
    birthday = fields.Date(allow_none=True)
    id_kind = fields.String(allow_none=True, metadata={"enum": list(ID_KINDS)})
    id_number = fields.String(allow_none=True)
    source = fields.String()
    province = fields.String()
    city = fields.String()
    district = fields.String()
    street = fields.String()
    postal_code = fields.String()
    do_not_contact = fields.Boolean()
    preferred_channel = fields.String(allow_none=True, metadata={"enum": list(CHANNELS)})
    notes = fields.String()
    custom = fields.Dict(keys=fields.String())
    active = fields.Boolean(metadata={"description": "False once merged into another record."})
    merged_into_id = fields.Integer(allow_none=True, metadata={
        "description": "The record this one was merged into; follow it."})
    version = fields.Integer(metadata={"description": VERSION_OUT})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CustomerWriteSchema(CrmSchema):
    """Fields of a customer; on PATCH only the fields sent change. The services check them
    (phone numbers in any common format, e-mail syntax, identity numbers by kind …)."""

    kind = fields.String()
    name = fields.String()
    phones = fields.List(fields.String(), allow_none=True,
                         metadata={"description": "Any common format; stored as E.164."})
    emails = fields.List(fields.String(), allow_none=True)
    roles = fields.List(fields.String(), allow_none=True)
    tags = fields.List(fields.String(), allow_none=True)
    branch_id = _id(allow_none=True, metadata={"description": BRANCH_DEFAULT})
    gender = fields.String(allow_none=True)
    birthday = fields.String(allow_none=True, metadata={"format": "date"})
    id_kind = fields.String(allow_none=True)
    id_number = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    province = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    district = fields.String(allow_none=True)
    street = fields.String(allow_none=True)
    postal_code = fields.String(allow_none=True)
    do_not_contact = StrictBoolean()
    preferred_channel = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    custom = fields.Dict(keys=fields.String(), allow_none=True)
    allow_duplicates = StrictBoolean(load_default=False, metadata={
        "description": "Save although the data matches existing customers (answered with "
                       "409 and `duplicates` otherwise)."})


VIN_IN = ("17 characters; the check digit is verified. May be empty or null when the plate "
          "is given: a vehicle needs a VIN or a plate, and its VIN can be added later.")


class FirstVehicleSchema(CrmSchema):
    """The customer's first vehicle, registered with them (owner and branch are theirs)."""

    vin = fields.String(allow_none=True, metadata={"description": VIN_IN})
    plate = fields.String(allow_none=True, metadata={
        "description": "Stored upper-case without separators (粤B·12345 → 粤B12345)."})
    make = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    year = fields.Integer(strict=True, allow_none=True)
    colour = fields.String(allow_none=True)
    engine_number = fields.String(allow_none=True)
    fuel_type = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    custom = fields.Dict(keys=fields.String(), allow_none=True)


class CustomerCreateSchema(CustomerWriteSchema):
    vins = fields.List(fields.String(), load_default=list, metadata={
        "description": "VINs of the customer's vehicles, checked for duplicates."})
    vehicle = fields.Nested(FirstVehicleSchema, allow_none=True, load_default=None, metadata={
        "description": "Optional first vehicle, registered in the same transaction with the "
                       "customer as owner, by its VIN or by its plate alone. A vehicle with "
                       "problems (a VIN whose check digit is wrong, a VIN on file, neither "
                       "VIN nor plate) refuses the whole request with 422 and errors under "
                       "`vehicle.<field>`; nothing is written. Its VIN joins the duplicate "
                       "check."})

    @post_load
    def _normalise_vins(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        data["vins"] = [key for key in map(v.vin_search_key, data.get("vins") or []) if key]
        return data


class CustomerCreatedSchema(CustomerSchema):
    """A customer just registered, with the first vehicle registered with them."""

    vehicle = fields.Nested(lambda: VehicleSchema(), allow_none=True, metadata={
        "description": "The vehicle sent in `vehicle`; null when none was sent."})


class CustomerUpdateSchema(CustomerWriteSchema):
    """PATCH body: the same fields as a new customer; only those sent change."""

    version = _version()


#: the sorts of the customers list (its definition is shared with the page and the export)
_CUSTOMER_SORTS = CUSTOMERS.sort_values


class CustomerListArgs(CrmListArgs):
    q = fields.String(validate=validate.Length(max=200), metadata={
        "description": "Name prefix, or a phone number, plate, VIN, e-mail or ID number."})
    role = fields.String(validate=validate.OneOf(ROLES))
    tag = fields.String(validate=validate.Length(max=40))
    kind = fields.String(validate=validate.OneOf(KINDS))
    branch_id = _query_id()
    segment = fields.String(validate=validate.Length(max=30))
    include_merged = fields.Boolean(load_default=False, metadata={
        "description": "Also list records merged into others (inactive)."})
    sort = fields.String(load_default="name", validate=validate.OneOf(_CUSTOMER_SORTS),
                         metadata={"description": "Default: `name`; with `q`, the best "
                                                  "match first."})
    custom = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict,
                         metadata={"description": "Send as `custom.<name>=<value>`: equality "
                                                  "on a custom field."})

    @pre_load
    def _collect_custom(self, data: Any, **_kw: Any) -> Any:
        """``custom.<name>=value`` query arguments become ``custom: {name: value}``."""
        if not isinstance(data, Mapping):
            return data
        out: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for key in data:
            if key.startswith(CUSTOM_PREFIX):
                name = key[len(CUSTOM_PREFIX):]
                if not NAME_RE.match(name):
                    errors[key] = ["Not a custom field name: lower-case letters, digits and _."]
                custom[name] = data[key]
            elif key != "custom":
                out[key] = data[key]
        if errors:
            raise ValidationError(errors)
        out["custom"] = custom
        return out


class ContactSchema(CrmSchema):
    person_id = _id(required=True)
    position = fields.String(load_default="", validate=validate.Length(max=100))
    primary = StrictBoolean(load_default=False)


class ContactLinkSchema(Schema):
    organization_id = fields.Integer()
    person_id = fields.Integer()
    position = fields.String()
    primary = fields.Boolean(attribute="is_primary")


class ContactEntrySchema(Schema):
    customer = fields.Nested(CustomerBriefSchema)
    position = fields.String()
    primary = fields.Boolean()


class MergeSchema(CrmSchema):
    keep_id = _id(required=True, metadata={"description": "The record that stays."})
    remove_id = _id(required=True, metadata={
        "description": "The record merged away; it stays as an inactive pointer."})


# --- vehicles -----------------------------------------------------------------------------


class VehicleSchema(Schema):
    id = fields.Integer()
    vin = fields.String(allow_none=True, metadata={
        "description": "Empty while only the plate is known (the VIN is added later)."})
    plate = fields.String(allow_none=True)
    make = fields.String()
    model = fields.String()
    year = fields.Integer(allow_none=True)
    colour = fields.String()
    engine_number = fields.String()
    fuel_type = fields.String(allow_none=True, metadata={"enum": list(FUEL_TYPES)})
    owner_id = fields.Integer(allow_none=True)
    branch_id = fields.Integer()
    odometer_km = fields.Integer(allow_none=True)
    custom = fields.Dict(keys=fields.String())
    notes = fields.String()
    version = fields.Integer(metadata={"description": VERSION_OUT})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class OwnershipSchema(Schema):
    party_id = fields.Integer(allow_none=True, metadata={
        "description": "Empty for a customer you may not see."})
    name = fields.String(metadata={
        "description": "“a customer of another branch” for a customer you may not see."})
    since = fields.Date()
    until = fields.Date(allow_none=True, metadata={"description": "Empty: the current owner."})


class VehicleDetailSchema(VehicleSchema):
    ownerships = fields.List(fields.Nested(OwnershipSchema),
                             metadata={"description": "Owners, newest first."})


class VehicleWriteSchema(CrmSchema):
    vin = fields.String(allow_none=True, metadata={"description": VIN_IN})
    plate = fields.String(allow_none=True, metadata={
        "description": "Stored upper-case without separators (粤B·12345 → 粤B12345)."})
    make = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    year = fields.Integer(strict=True, allow_none=True)
    colour = fields.String(allow_none=True)
    engine_number = fields.String(allow_none=True)
    fuel_type = fields.String(allow_none=True)
    owner_id = _id(allow_none=True)
    branch_id = _id(allow_none=True, metadata={"description": BRANCH_DEFAULT})
    notes = fields.String(allow_none=True)
    custom = fields.Dict(keys=fields.String(), allow_none=True)
    owner_since = fields.String(allow_none=True, metadata={
        "format": "date", "description": "Since when the owner has the vehicle."})


class VehicleCreateSchema(VehicleWriteSchema):
    """A new vehicle: its VIN, or its plate alone until the VIN is known."""


class VehicleUpdateSchema(VehicleWriteSchema):
    """PATCH body: the same fields as a new vehicle; only those sent change."""

    version = _version()


_VEHICLE_SORTS = VEHICLES.sort_values


class VehicleListArgs(CrmListArgs):
    q = fields.String(validate=validate.Length(max=200), metadata={
        "description": "VIN (whole or its end), plate (whole or its start), make or model."})
    vin = fields.String(validate=validate.Length(max=40), metadata={
        "description": "The whole VIN, or its last characters."})
    plate = fields.String(validate=validate.Length(max=40))
    owner_id = _query_id()
    branch_id = _query_id()
    make = fields.String(validate=validate.Length(max=60))
    fuel_type = fields.String(validate=validate.OneOf(FUEL_TYPES))
    sort = fields.String(load_default="plate", validate=validate.OneOf(_VEHICLE_SORTS))


class OwnerChangeSchema(CrmSchema):
    owner_id = _id(required=True)
    since = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "Default: today (business time zone)."})


class OdometerSchema(Schema):
    id = fields.Integer()
    vehicle_id = fields.Integer()
    value_km = fields.Integer()
    read_at = fields.DateTime()
    source = fields.String()
    meter_replaced = fields.Boolean()
    recorded_by = fields.Integer(allow_none=True)


class OdometerCreateSchema(CrmSchema):
    value_km = fields.Integer(required=True, strict=True)
    read_at = fields.DateTime(load_default=None, allow_none=True, metadata={
        "description": "With its offset; default: now."})
    source = fields.String(load_default="api", validate=validate.Length(max=20))
    meter_replaced = StrictBoolean(load_default=False, metadata={
        "description": "The meter was replaced, so the reading may be lower than before."})


class OdometerArgs(CrmSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class OdometerList(Schema):
    items = fields.List(fields.Nested(OdometerSchema))


# --- timeline -----------------------------------------------------------------------------


class TimelineEntrySchema(Schema):
    id = fields.Integer()
    party_id = fields.Integer()
    vehicle_id = fields.Integer(allow_none=True)
    branch_id = fields.Integer()
    kind = fields.String()
    subject = fields.String()
    body = fields.String()
    occurred_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"enum": ["open", "done", "cancelled"]})
    outcome = fields.String()
    satisfaction = fields.Integer(allow_none=True)
    ref_type = fields.String(allow_none=True)
    ref_id = fields.String(allow_none=True)
    created_by = fields.Integer(allow_none=True)


class TimelineCreateSchema(CrmSchema):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=60))
    subject = fields.String(load_default="")
    body = fields.String(load_default="")
    occurred_at = fields.DateTime(load_default=None, allow_none=True)
    vehicle_id = _id(load_default=None, allow_none=True)
    due_at = fields.DateTime(load_default=None, allow_none=True, metadata={
        "description": "Required for tasks and return visits."})
    assignee_id = _id(load_default=None, allow_none=True, metadata={
        "description": "Default: you."})
    ref_type = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=60))
    ref_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class TimelineArgs(CrmSchema):
    kind = fields.List(fields.String(validate=validate.Length(max=60)),
                       metadata={"description": "Repeat for several kinds."})
    vehicle_id = _query_id()
    open_only = fields.Boolean(load_default=False)
    before = fields.AwareDateTime(metadata={
        "description": "Cursor: entries before this time (`next_before` of the last page)."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class TimelinePage(Schema):
    items = fields.List(fields.Nested(TimelineEntrySchema))
    next_before = fields.DateTime(allow_none=True, metadata={
        "description": "Pass as `before` for older entries; empty at the end."})


class CompleteSchema(CrmSchema):
    outcome = fields.String(load_default="")
    satisfaction = fields.Integer(strict=True, load_default=None, allow_none=True,
                                  metadata={"description": "1 to 5, from a return visit."})
    cancelled = StrictBoolean(load_default=False)


class MyDayArgs(CrmListArgs):
    scope = fields.String(load_default="own", validate=validate.OneOf(("own", "branch")),
                          metadata={"description": "`branch`: everyone's follow-ups in your "
                                                   "branches (managers only)."})


class MyDayEntrySchema(TimelineEntrySchema):
    customer = fields.Nested(CustomerBriefSchema, allow_none=True)


class MyDayPage(Schema):
    items = fields.List(fields.Nested(MyDayEntrySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    scope = fields.String(metadata={"description": "The scope applied: own or branch."})
    until = fields.DateTime(metadata={"description": "End of today, business time zone."})


# --- overview and lookup ------------------------------------------------------------------


class ValueSchema(Schema):
    lifetime_value = fields.Decimal(as_string=True, places=2)
    currency = fields.String()
    purchases = fields.Integer()
    first_purchase = fields.Date(allow_none=True)
    last_purchase = fields.Date(allow_none=True)
    segment = fields.String(allow_none=True)
    recency_score = fields.Integer(allow_none=True)
    frequency_score = fields.Integer(allow_none=True)
    monetary_score = fields.Integer(allow_none=True)
    satisfaction = fields.Decimal(as_string=True, allow_none=True,
                                  metadata={"description": "Average of return visits, 1-5."})


class FormerVehicleSchema(Schema):
    vehicle = fields.Nested(VehicleSchema)
    since = fields.Date()
    until = fields.Date()


class OverviewSchema(Schema):
    customer = fields.Nested(CustomerSchema)
    value = fields.Nested(ValueSchema, allow_none=True, metadata={
        "description": "Empty without purchases or without the right to see values."})
    vehicles = fields.List(fields.Nested(VehicleSchema))
    former_vehicles = fields.List(fields.Nested(FormerVehicleSchema))
    contacts = fields.List(fields.Nested(ContactEntrySchema))
    open_items = fields.Integer()
    last_contact = fields.DateTime(allow_none=True)
    timeline = fields.List(fields.Nested(TimelineEntrySchema))
    sections = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "Each switched-on subsystem's summary, by its panel name."})


class LookupArgs(CrmSchema):
    q = fields.String(validate=validate.Length(max=200), metadata={
        "description": "Name, phone, plate, VIN, e-mail, ID number or a plugin identifier."})
    phone = fields.String(validate=validate.Length(max=40), metadata={
        "description": "Call-centre screen-pop: the customers with this number."})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class LookupItemSchema(Schema):
    """A hit of ``q`` has customer, score and reasons; a screen-pop (``phone``) item has
    customer, sections, open_items and vehicles."""

    customer = fields.Nested(CustomerSchema)
    score = fields.Integer(metadata={"description": "With q: 100 phone, 95 VIN, 90 plate, "
                                                    "e-mail or ID, 85 plate without its "
                                                    "province, 70 name; partial: 65 VIN end, "
                                                    "60 phone's last digits, 55 digits inside "
                                                    "the phone, 50 name prefix, 45 later part "
                                                    "of the name, 40 pinyin initials."})
    reasons = fields.List(fields.String(), metadata={
        "description": "With q: what matched (phone, vin, plate, email, id_number, name, "
                       "vin_tail, phone_tail, phone_part, name_part, name_initials, or a "
                       "plugin's reason)."})
    sections = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "With phone: each switched-on subsystem's summary."})
    open_items = fields.Integer(metadata={"description": "With phone: open follow-ups."})
    vehicles = fields.List(fields.Nested(VehicleSchema),
                           metadata={"description": "With phone: current vehicles."})


class LookupResult(Schema):
    items = fields.List(fields.Nested(LookupItemSchema))
    total = fields.Integer()


class SegmentArgs(CrmListArgs):
    """Paging of a segment's customers (its own name in the OpenAPI document)."""


# --- custom fields ------------------------------------------------------------------------


class CustomFieldSchema(Schema):
    id = fields.Integer()
    entity = fields.String(metadata={"enum": list(ENTITIES)})
    name = fields.String()
    label = fields.String()
    type = fields.String(metadata={"enum": list(TYPES)})
    choices = fields.List(fields.String())
    required = fields.Boolean()
    position = fields.Integer()
    active = fields.Boolean()


class CustomFieldCreateSchema(CrmSchema):
    entity = fields.String(required=True)
    name = fields.String(required=True)
    label = fields.String(required=True)
    type = fields.String(required=True)
    choices = fields.List(fields.String(), load_default=list)
    required = StrictBoolean(load_default=False)
    position = fields.Integer(strict=True, load_default=0,
                              validate=validate.Range(min=-10_000, max=10_000))


class CustomFieldArgs(CrmSchema):
    entity = fields.String(validate=validate.OneOf(ENTITIES))


class CustomFieldList(Schema):
    items = fields.List(fields.Nested(CustomFieldSchema))


CustomerPage = page_schema(CustomerSchema, "CustomerPage")
VehiclePage = page_schema(VehicleSchema, "VehiclePage")
