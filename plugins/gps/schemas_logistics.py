"""API shapes of waybills and service subscriptions (``GpsWaybill…``, ``GpsSubscription…``
component names). Amounts and weights are decimal strings both ways (``DecimalString``).
Business rules stay in the services; these check types and document."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from carebiz.api.common import DecimalString, ListArgs, StrictBoolean, page_schema
from carebiz.toolkit import MAX_ID

from .lists_logistics import SUBSCRIPTION_STATES, SUBSCRIPTIONS, WAYBILLS
from .services.subscriptions import METHODS
from .services.waybills import STATUSES

ID_RANGE = validate.Range(min=1, max=MAX_ID)
_VERSION = {"description": "the version you read (409 when someone changed it since)"}


class GpsWaybillListArgs(ListArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))
    vehicle_id = fields.Integer(validate=ID_RANGE)
    branch_id = fields.Integer(validate=ID_RANGE)
    q = fields.String(validate=validate.Length(max=80))
    sort = fields.String(validate=validate.OneOf(WAYBILLS.sort_values))


class GpsWaybillCreateSchema(Schema):
    shipper_id = fields.Integer(validate=ID_RANGE, metadata={
        "description": "a customer of yours who sends it (its name is taken when "
                       "`shipper_name` is left out)"})
    shipper_name = fields.String(validate=validate.Length(max=120))
    shipper_phone = fields.String(validate=validate.Length(max=32))
    consignee_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    consignee_phone = fields.String(required=True, validate=validate.Length(min=1, max=32))
    consignee_email = fields.String(validate=validate.Length(max=254), metadata={
        "description": "optional: status notices go here by e-mail as well"})
    destination = fields.String(validate=validate.Length(max=200))
    goods = fields.String(required=True, validate=validate.Length(min=1, max=200))
    pieces = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    weight_kg = DecimalString(allow_none=True)
    vehicle_id = fields.Integer(validate=ID_RANGE, allow_none=True)
    driver_name = fields.String(validate=validate.Length(max=80))
    driver_phone = fields.String(validate=validate.Length(max=32))
    notes = fields.String(validate=validate.Length(max=5000))
    branch_id = fields.Integer(validate=ID_RANGE)


class GpsWaybillNoticeSchema(Schema):
    """One delivery of a scan's notice to the consignee."""

    channel = fields.String(metadata={"description": "the channel (sms …); empty when none "
                                                     "could take the address"})
    address = fields.String()
    status = fields.String(metadata={"description": "pending, sending, sent, failed (given "
                                                    "up), unsent (no channel could)"})
    attempts = fields.Integer()
    sent_at = fields.DateTime(allow_none=True)
    problem = fields.String(metadata={"description": "why it was not (yet) sent, in words"})


class GpsWaybillEventSchema(Schema):
    id = fields.Integer()
    from_status = fields.String(allow_none=True)
    status = fields.String()
    at = fields.DateTime()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    fix_time = fields.DateTime(allow_none=True, metadata={
        "description": "when the vehicle's tracker took the position recorded"})
    device_id = fields.Integer(allow_none=True)
    scanned_by = fields.Integer(allow_none=True)
    note = fields.String()
    notices = fields.List(fields.Nested(GpsWaybillNoticeSchema), metadata={
        "description": "what became of the status notice to the consignee"})


class GpsWaybillSchema(Schema):
    id = fields.Integer()
    number = fields.String(metadata={"description": "what the barcode encodes (Code 128)"})
    status = fields.String(metadata={"description": "received, loaded, in_transit, delivered"})
    allowed = fields.List(fields.String(), metadata={
        "description": "the statuses a scan may record now"})
    shipper_id = fields.Integer(allow_none=True)
    shipper_name = fields.String()
    shipper_phone = fields.String()
    consignee_name = fields.String()
    consignee_phone = fields.String()
    consignee_email = fields.String()
    destination = fields.String()
    goods = fields.String()
    pieces = fields.Integer()
    weight_kg = DecimalString(allow_none=True)
    vehicle_id = fields.Integer(allow_none=True)
    driver_name = fields.String()
    driver_phone = fields.String()
    notes = fields.String()
    branch_id = fields.Integer()
    created_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)
    version = fields.Integer()
    events = fields.List(fields.Nested(GpsWaybillEventSchema))
    consignee_notices = fields.Boolean(metadata={
        "description": "whether scans of this waybill notify the consignee (settings "
                       "gps.waybill_consignee_notices, gps.waybill_consignee_notices_off)"})


GpsWaybillPage = page_schema(GpsWaybillSchema, "GpsWaybillPage")


class GpsWaybillStatusSchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES[1:]), metadata={
        "description": "the status to record; left out: the next one"})
    note = fields.String(validate=validate.Length(max=2000), load_default="")
    version = fields.Integer(load_default=None, metadata=_VERSION)


class GpsWaybillScanSchema(Schema):
    code = fields.String(required=True, validate=[
        validate.Length(min=1, max=40),
        validate.Regexp(r"^\s*[Ww][Bb][0-9]{8}-[0-9]{4,6}\s*$",
                        error="Not a waybill number (WB20261202-0001).")], metadata={
        "description": "the scanned barcode text (the waybill's number)"})
    status = fields.String(validate=validate.OneOf(STATUSES[1:]))
    note = fields.String(validate=validate.Length(max=2000), load_default="")


class GpsWaybillTokenArgs(Schema):
    revoke_previous = StrictBoolean(load_default=False, metadata={
        "description": "withdraw every tracking link given out before"})


class GpsWaybillTokenSchema(Schema):
    token = fields.String()
    url = fields.String(metadata={"description": "the public tracking page, no login"})
    expires_at = fields.DateTime()


# --- subscriptions ----------------------------------------------------------------------


class GpsSubscriptionListArgs(ListArgs):
    state = fields.String(validate=validate.OneOf(SUBSCRIPTION_STATES))
    customer_id = fields.Integer(validate=ID_RANGE)
    branch_id = fields.Integer(validate=ID_RANGE)
    q = fields.String(validate=validate.Length(max=40))
    sort = fields.String(validate=validate.OneOf(SUBSCRIPTIONS.sort_values))


class GpsSubscriptionPaymentSchema(Schema):
    id = fields.Integer()
    amount = DecimalString()
    currency = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()
    paid_on = fields.Date()
    method = fields.String()
    reference = fields.String()


class GpsSubscriptionSchema(Schema):
    id = fields.Integer()
    device_id = fields.Integer()
    imei = fields.String()
    vehicle_id = fields.Integer(allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    customer_name = fields.String(allow_none=True, metadata={
        "description": "“a customer of another branch” for a customer you may not see"})
    yearly_price = DecimalString()
    currency = fields.String()
    start_on = fields.Date()
    end_on = fields.Date(metadata={"description": "the last day of service paid for"})
    state = fields.String(metadata={"description": "active, expiring or expired"})
    expired = fields.Boolean()
    reminded_for = fields.Date(allow_none=True)
    branch_id = fields.Integer()
    version = fields.Integer()
    payments = fields.List(fields.Nested(GpsSubscriptionPaymentSchema))


GpsSubscriptionPage = page_schema(GpsSubscriptionSchema, "GpsSubscriptionPage")


class GpsSubscriptionCreateSchema(Schema):
    device_id = fields.Integer(required=True, validate=ID_RANGE)
    start_on = fields.Date()


class GpsSubscriptionRenewSchema(Schema):
    amount = DecimalString(metadata={"description": "default: the yearly price"})
    method = fields.String(validate=validate.OneOf(METHODS), load_default="cash")
    reference = fields.String(validate=validate.Length(max=60), load_default="")
    paid_on = fields.Date()
    version = fields.Integer(load_default=None, metadata=_VERSION)
